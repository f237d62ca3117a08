public import Foundation
public import SyncEngine
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

extension HTTPSyncTransport {
    /// The incarnation endpoint, next to the exchange endpoint.
    public var incarnateEndpoint: URL {
        configuration.endpoint.deletingLastPathComponent().appendingPathComponent("incarnate")
    }

    /// `POST <hub>/v1/incarnate` with the device's bearer credential.
    public func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        try configuration.trust.check(configuration.hub)
        let hubName = configuration.hub.absoluteString
        var urlRequest = URLRequest(url: incarnateEndpoint)
        urlRequest.httpMethod = "POST"
        urlRequest.timeoutInterval = TimeInterval(max(1, configuration.timeoutSeconds))
        urlRequest.setValue("application/json", forHTTPHeaderField: "Content-Type")
        urlRequest.setValue("application/json, application/problem+json", forHTTPHeaderField: "Accept")
        urlRequest.setValue("Bearer \(configuration.token)", forHTTPHeaderField: "Authorization")
        urlRequest.setValue(configuration.userAgent, forHTTPHeaderField: "User-Agent")
        do {
            urlRequest.httpBody = try JSONEncoder().encode(request)
        } catch {
            throw SyncClientError(.badAnswer, "The incarnation request for the hub at \(hubName) could not be encoded (\(error)).")
        }
        let (data, http) = try await HubRequest.send(
            urlRequest, trust: configuration.trust, timeoutSeconds: configuration.timeoutSeconds,
            maximumAnswerBytes: configuration.maximumAnswerBytes, hub: hubName)
        guard http.statusCode == 200 else { throw Self.failure(status: http.statusCode, body: data, hub: hubName) }
        do {
            return try JSONDecoder().decode(IncarnationResponse.self, from: data)
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(hubName) sent an incarnation answer this program cannot read.", httpStatus: 200)
        }
    }
}
