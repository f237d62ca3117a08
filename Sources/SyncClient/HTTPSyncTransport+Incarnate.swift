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

extension HTTPSyncTransport {
    /// The certificates endpoint, next to the exchange endpoint.
    public var certificatesEndpoint: URL {
        configuration.endpoint.deletingLastPathComponent().appendingPathComponent("certificates")
    }

    /// `POST <hub>/v1/certificates` with the device's bearer credential: the hub's certificates of
    /// `replicas` (at most ``CertificateRequest/maxReplicas`` are asked for).
    public func certificates(of replicas: [ReplicaID]) async throws -> CertificateReply {
        try configuration.trust.check(configuration.hub)
        let hubName = configuration.hub.absoluteString
        let body: Data
        do {
            body = try JSONEncoder().encode(CertificateRequest(replicas: Array(replicas.prefix(CertificateRequest.maxReplicas))))
        } catch {
            throw SyncClientError(.badAnswer, "The certificate request for the hub at \(hubName) could not be encoded (\(error)).")
        }
        var request = HubRequest(post: body, to: certificatesEndpoint, userAgent: nil, token: configuration.token)
        if body.count > configuration.compressionThreshold, let compressed = try? Gzip.compress(body) {
            request = HubRequest(post: compressed, to: certificatesEndpoint, userAgent: nil, token: configuration.token, gzipped: true)
        }
        let answer = try await client.send(request, hub: hubName)
        let data = answer.body
        guard answer.status == 200 else { throw Self.failure(status: answer.status, body: data, hub: hubName) }
        do {
            let response = try JSONDecoder().decode(CertificateResponse.self, from: data)
            return CertificateReply(
                certificates: response.certificates, bytesSent: request.bytesOnWire,
                bytesReceived: Self.headerSize(of: answer) + Self.bodySizeOnWire(answer))
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(hubName) sent a certificate answer this program cannot read.", httpStatus: 200)
        }
    }
}
