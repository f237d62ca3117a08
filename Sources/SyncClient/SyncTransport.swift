public import SyncEngine

/// Carries one exchange to a hub and back: over HTTP in production, in process in tests.
public protocol SyncTransport: Sendable {
    /// Sends `request` and returns the hub's answer with what it cost on the wire.
    ///
    /// Throws ``SyncClientError`` for failures of the hub or the link.
    func exchange(_ request: SyncRequest) async throws -> TransportReply

    /// Asks the hub to bind a new incarnation of this device (its replica forked); returns the
    /// hub's answer. Throws ``SyncClientError``.
    func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse

    /// The hub's certificates of the authors `replicas` (``CertificateRequest``), asked for when an
    /// answer without certificates brings versions of authors whose keys the replica lacks.
    /// Throws ``SyncClientError``.
    func certificates(of replicas: [ReplicaID]) async throws -> CertificateReply

    /// The bytes this transport has moved so far, failed requests included; nil when it does not
    /// count them (in process).
    var bytesMoved: Int? { get }
}

extension SyncTransport {
    /// A transport that cannot reach the incarnation endpoint: the fork stops the sync.
    public func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
        throw SyncClientError(
            .forked,
            "This replica has forked at dot \(request.forkedAt.map(\.description) ?? "?") and this link to the hub cannot take a new incarnation; its versions are kept here.")
    }
}

extension SyncTransport {
    public var bytesMoved: Int? { nil }
}

extension SyncTransport {
    /// A transport whose answers carry the certificates they need (in process): none to ask for.
    public func certificates(of replicas: [ReplicaID]) async throws -> CertificateReply {
        CertificateReply(certificates: [], bytesSent: 0, bytesReceived: 0)
    }
}

/// The hub's certificates a replica asked for and the bytes the request cost on the wire.
public struct CertificateReply: Sendable, Hashable {
    public var certificates: [DeviceCertificate]
    public var bytesSent: Int
    public var bytesReceived: Int

    public init(certificates: [DeviceCertificate], bytesSent: Int, bytesReceived: Int) {
        self.certificates = certificates
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
    }
}

/// A hub's answer and the bytes the exchange cost on the wire.
public struct TransportReply: Sendable, Hashable {
    public var response: SyncResponse
    /// Bytes sent: request line, headers and body as sent (compressed when it was).
    public var bytesSent: Int
    /// Bytes received: status line, headers and body as received (compressed when it was).
    public var bytesReceived: Int

    public init(response: SyncResponse, bytesSent: Int, bytesReceived: Int) {
        self.response = response
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
    }
}
