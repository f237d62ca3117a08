public import Foundation
public import SyncEngine

extension HTTPSyncTransport {
    /// The incarnation endpoint, next to the exchange endpoint.
    public var incarnateEndpoint: URL {
        configuration.endpoint.deletingLastPathComponent().appendingPathComponent("incarnate")
    }

    /// `POST <hub>/v1/incarnate` with the device's bearer credential.
    public func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        try configuration.trust.check(configuration.hub)
        let hubName = configuration.hub.absoluteString
        let body: Data
        do {
            body = try JSONEncoder().encode(request)
        } catch {
            throw SyncClientError(.badAnswer, "The incarnation request for the hub at \(hubName) could not be encoded (\(error)).")
        }
        let answer = try await client.send(
            HubRequest(post: body, to: incarnateEndpoint, userAgent: configuration.userAgent, token: configuration.token),
            hub: hubName)
        let data = answer.body
        guard answer.status == 200 else { throw Self.failure(status: answer.status, body: data, hub: hubName) }
        do {
            return try JSONDecoder().decode(IncarnationResponse.self, from: data)
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(hubName) sent an incarnation answer this program cannot read.", httpStatus: 200)
        }
    }
}
