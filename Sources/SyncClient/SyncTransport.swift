public import SyncEngine

/// Carries one exchange to a hub and back: over HTTP in production, in process in tests.
public protocol SyncTransport: Sendable {
    /// Sends `request` and returns the hub's answer with what it cost on the wire.
    ///
    /// Throws ``SyncClientError`` for failures of the hub or the link.
    func exchange(_ request: SyncRequest) async throws -> TransportReply
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
