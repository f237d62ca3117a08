import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// The HTTP client that carries every request to one hub: AsyncHTTPClient over SwiftNIO, with
/// the rules of ``HubRequest`` (no redirects, answers bounded once decompressed, a timeout
/// counted without progress), or ``PinnedHTTPSClient`` when the hub's certificate is pinned.
///
/// Connections are kept between requests and closed after `keepAliveSeconds` unused (15 s by
/// default: the requests of one sync; `syncd run` keeps them from one sync to the next, so that a
/// no-op sync over HTTPS costs no TLS handshake, about 3.8 KB), whichever client carries them:
/// pinned connections are kept the same way. `https` hubs are checked against the system's trust
/// store, against the certificates of a CA file, or against pins (in each new connection's
/// handshake). Both clients close their idle connections when this one goes.
final class HubClient: Sendable {
    let trust: HubTrust
    let timeoutSeconds: Int
    let maximumAnswerBytes: Int
    private let client: HTTPClient
    /// The connections of a pinned hub.
    let pinned: PinnedHTTPSClient
    /// Every request's bytes and every answer's, counted as they go, whether the request
    /// succeeds or not (``bytesMoved``).
    private let traffic = Mutex(0)

    /// The bytes of every request sent so far (each try of it) and of every answer received, as
    /// `bytesOnWire` and the answers' heads and bodies count them: what a daily budget spends,
    /// failed round trips included.
    var bytesMoved: Int { traffic.withLock { $0 } }

    init(
        trust: HubTrust, timeoutSeconds: Int, maximumAnswerBytes: Int = HubRequest.defaultMaximumAnswerBytes,
        keepAliveSeconds: Int = 15
    ) {
        self.trust = trust
        self.timeoutSeconds = max(1, timeoutSeconds)
        self.maximumAnswerBytes = max(1, maximumAnswerBytes)
        let timeout = TimeAmount.seconds(Int64(self.timeoutSeconds))
        var configuration = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: timeout, read: timeout, write: timeout),
            connectionPool: .init(idleTimeout: .seconds(Int64(min(max(1, keepAliveSeconds), 3_600)))),
            decompression: .enabled(limit: .size(self.maximumAnswerBytes)))
        // The synchronizer retries by its own policy; a refused connection fails at once.
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.httpVersion = .http1Only
        client = HTTPClient(eventLoopGroup: MultiThreadedEventLoopGroup.singleton, configuration: configuration)
        pinned = PinnedHTTPSClient(
            trust: trust, timeoutSeconds: self.timeoutSeconds, totalSeconds: Int64(max(self.timeoutSeconds, 600)),
            maximumAnswerBytes: self.maximumAnswerBytes, keepAliveSeconds: keepAliveSeconds)
    }

    deinit {
        // AsyncHTTPClient wants a client shut down before it goes (debug builds check). This does
        // it without waiting: the client keeps itself alive until its connections are closed.
        client.shutdown { _ in }
        pinned.shutdown()
    }

    /// The longest a request may take in all, progress or not (a hub trickling its answer).
    var totalSeconds: Int64 { Int64(max(timeoutSeconds, 600)) }

    /// Sends `request`; returns the answer, or throws a ``SyncClientError`` (`unreachable`,
    /// `redirected`, `answerTooLarge`, `badAnswer`, `invalidHubAddress`) or `CancellationError`.
    func send(_ request: HubRequest, hub: String) async throws -> HubAnswer {
        traffic.withLock { $0 = $0.addingReportingOverflow(request.bytesOnWire).partialValue }
        do {
            let answer =
                trust.needsPinnedClient(for: request.url)
                ? try await pinned.send(request, hub: hub) : try await execute(request, hub: hub)
            let received = HTTPSyncTransport.headerSize(of: answer) + HTTPSyncTransport.bodySizeOnWire(answer)
            traffic.withLock { $0 = $0.addingReportingOverflow(received).partialValue }
            return answer
        } catch {
            throw HubRequest.failure(error, hub: hub, limit: maximumAnswerBytes)
        }
    }

    private func execute(_ request: HubRequest, hub: String) async throws -> HubAnswer {
        var outgoing = HTTPClientRequest(url: request.url.absoluteString)
        outgoing.method = request.method
        outgoing.headers = request.headers
        outgoing.body = .bytes(ByteBuffer(bytes: request.body))
        if request.url.scheme?.lowercased() == "https" { outgoing.tlsConfiguration = try trust.tlsConfiguration() }
        let deadline = ContinuousClock.now + .seconds(totalSeconds)
        let response = try await client.execute(outgoing, deadline: .now() + .seconds(totalSeconds))
        let status = Int(response.status.code)
        try HubRequest.check(status: status, headers: response.headers, limit: maximumAnswerBytes, hub: hub)
        var body = Data()
        for try await chunk in response.body {
            guard body.count + chunk.readableBytes <= maximumAnswerBytes else { throw URLError(.dataLengthExceedsMaximum) }
            guard ContinuousClock.now < deadline else { throw URLError(.timedOut) }
            body.append(contentsOf: chunk.readableBytesView)
        }
        // A cancelled task may see the body end early: it must not pass for a whole answer.
        try Task.checkCancellation()
        return HubAnswer(status: status, headers: response.headers, body: body)
    }
}
