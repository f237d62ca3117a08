import CompressNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// HTTPS over SwiftNIO and NIOSSL for hubs whose certificate is pinned (a pin needs a verification
/// callback, which neither AsyncHTTPClient nor URLSession takes; see ``HubTrust``). One per
/// ``HubClient``.
///
/// Connections are kept between requests like AsyncHTTPClient's: after an answer read to its end,
/// the connection waits for the next request to the same host and port (at most
/// ``idlePerHost`` of them wait; more are opened while requests overlap, as when the synchronizer
/// asks for the next page while it applies one) and is closed after `keepAlive` unused. A
/// connection is never kept when the hub closed it or answered `Connection: close`, or when its
/// request failed, timed out or was cancelled. The pin is checked in each new connection's
/// handshake. A request on a kept connection that fails before any byte of the answer arrived (the
/// hub closed it just as it was reused) is sent once more on a new connection, unless it is an
/// enrollment or an incarnation (``isRepeatable(_:)``).
///
/// The rules of ``HubRequest`` apply to the answer's head as it arrives (a redirect is refused
/// unread). A request fails after the timeout without progress (connecting, the handshake, or
/// between the bytes of the answer), and after ``HubClient/totalSeconds`` in all. The answer is
/// bounded: a body past `maximumAnswerBytes`, or a gzipped body that inflates past it, ends the
/// request with `URLError(.dataLengthExceedsMaximum)`.
final class PinnedHTTPSClient: Sendable {
    /// The most idle connections kept per host and port.
    static let idlePerHost = 2

    struct Key: Hashable, Sendable {
        /// The host as it goes in SNI and `connect`: brackets of an IPv6 literal removed.
        var host: String
        var port: Int
    }

    private struct Idle {
        var channel: any Channel
        var token: UInt64
        var since: ContinuousClock.Instant
    }

    private struct State {
        var idle: [Key: [Idle]] = [:]
        var nextToken: UInt64 = 0
        var context: NIOSSLContext?
        var shutDown = false
        var opened = 0
    }

    let trust: HubTrust
    let timeoutSeconds: Int
    let totalSeconds: Int64
    let maximumAnswerBytes: Int
    let keepAlive: Duration
    private let state = Mutex(State())

    init(trust: HubTrust, timeoutSeconds: Int, totalSeconds: Int64, maximumAnswerBytes: Int, keepAliveSeconds: Int) {
        self.trust = trust
        self.timeoutSeconds = max(1, timeoutSeconds)
        self.totalSeconds = max(Int64(self.timeoutSeconds), totalSeconds)
        self.maximumAnswerBytes = max(1, maximumAnswerBytes)
        keepAlive = .seconds(min(max(1, keepAliveSeconds), 3_600))
    }

    /// Connections opened so far (each one a TLS handshake).
    var connectionsOpened: Int { state.withLock { $0.opened } }

    /// Connections waiting for a request.
    var idleConnections: Int { state.withLock { $0.idle.values.reduce(0) { $0 + $1.count } } }

    /// Sends `request` and returns the answer, its body decoded. Throws what SwiftNIO, NIOSSL or the
    /// rules of ``HubRequest`` throw (``HubClient`` words it), or `CancellationError`.
    func send(_ request: HubRequest, hub: String) async throws -> HubAnswer {
        guard let host = request.url.host, !host.isEmpty else { throw URLError(.badURL) }
        let key = Key(
            host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: request.url.port ?? 443)
        if let kept = checkOut(key) {
            do {
                return try await exchange(request, on: kept, key: key, hub: hub)
            } catch let failure as PinnedExchangeFailure where failure.repeatable && Self.isRepeatable(request) {
                // The hub closed the kept connection as it was reused: nothing of the answer was
                // read, so the request goes once more, on a new connection.
            } catch let failure as PinnedExchangeFailure {
                throw failure.error
            }
        }
        let channel = try await connect(key)
        do {
            return try await exchange(request, on: channel, key: key, hub: hub)
        } catch let failure as PinnedExchangeFailure {
            throw failure.error
        }
    }

    /// Whether `request` may be sent again when it may have reached the hub: everything but an
    /// enrollment (its code is single-use) and an incarnation (it binds an id once). An exchange is
    /// idempotent, a chunk is checked against its hash, the other requests read.
    static func isRepeatable(_ request: HubRequest) -> Bool {
        !["enroll", "incarnate"].contains(request.url.lastPathComponent)
    }

    /// Closes the idle connections; later answers close theirs.
    func shutdown() {
        let idle = state.withLock { state -> [Idle] in
            state.shutDown = true
            defer { state.idle = [:] }
            return state.idle.values.flatMap { $0 }
        }
        for connection in idle { connection.channel.close(promise: nil) }
    }

    /// One request on `channel`; the channel is kept for the next request, or closed.
    private func exchange(_ request: HubRequest, on channel: any Channel, key: Key, hub: String) async throws
        -> HubAnswer
    {
        let promise = channel.eventLoop.makePromise(of: PinnedResponse.self)
        let pending = PinnedExchange(
            request: request, hub: hub, limit: maximumAnswerBytes, timeout: .seconds(Int64(timeoutSeconds)),
            total: .seconds(totalSeconds), promise: promise)
        let response: PinnedResponse
        do {
            response = try await withTaskCancellationHandler {
                // A channel closed before the write reached the handler fails the write only.
                channel.writeAndFlush(pending).whenFailure { error in
                    promise.fail(PinnedExchangeFailure(error: error, answerStarted: false, timedOut: false))
                }
                return try await promise.futureResult.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            channel.close(promise: nil)
            if Task.isCancelled { throw CancellationError() }
            throw error
        }
        if Task.isCancelled {
            channel.close(promise: nil)
            throw CancellationError()
        }
        if response.reusable { checkIn(channel, key: key) } else { channel.close(promise: nil) }
        return response.answer
    }

    /// The most recently used idle connection to `key` that is still open and not past the
    /// keep-alive; nil when there is none.
    private func checkOut(_ key: Key) -> (any Channel)? {
        let (found, stale) = state.withLock { state -> ((any Channel)?, [any Channel]) in
            let now = ContinuousClock.now
            var stale: [any Channel] = []
            while let last = state.idle[key]?.popLast() {
                if last.channel.isActive, now - last.since < keepAlive { return (last.channel, stale) }
                stale.append(last.channel)
            }
            return (nil, stale)
        }
        for channel in stale { channel.close(promise: nil) }
        return found
    }

    /// Keeps `channel` for the next request to `key`, closed after the keep-alive unused; closes it
    /// when enough wait already, or after ``shutdown()``.
    private func checkIn(_ channel: any Channel, key: Key) {
        let token = state.withLock { state -> UInt64? in
            guard !state.shutDown, channel.isActive, state.idle[key, default: []].count < Self.idlePerHost else {
                return nil
            }
            state.nextToken += 1
            state.idle[key, default: []].append(Idle(channel: channel, token: state.nextToken, since: .now))
            return state.nextToken
        }
        guard let token else {
            channel.close(promise: nil)
            return
        }
        let delay = TimeAmount.nanoseconds(Int64(keepAlive.components.seconds) * 1_000_000_000)
        channel.eventLoop.scheduleTask(in: delay) { [weak self] in self?.expire(key, token: token) }
    }

    /// Closes the idle connection `token` if it is still idle.
    private func expire(_ key: Key, token: UInt64) {
        let expired = state.withLock { state -> (any Channel)? in
            guard let index = state.idle[key]?.firstIndex(where: { $0.token == token }) else { return nil }
            return state.idle[key]?.remove(at: index).channel
        }
        expired?.close(promise: nil)
    }

    /// Forgets `channel` once it closed (the hub closed it, or it failed).
    private func forget(_ channel: any Channel) {
        state.withLock { state in
            for key in state.idle.keys { state.idle[key]?.removeAll { $0.channel === channel } }
        }
    }

    private func sslContext() throws -> NIOSSLContext {
        try state.withLock { state in
            if let context = state.context { return context }
            let context = try NIOSSLContext(configuration: try trust.tlsConfiguration())
            state.context = context
            return context
        }
    }

    /// A new connection to `key`, its pin checked in the handshake (which completes with the first
    /// request).
    private func connect(_ key: Key) async throws -> any Channel {
        let context = try sslContext()
        let pins = trust.pinDigests ?? []
        let host = key.host
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(Int64(timeoutSeconds)))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No SNI for an IP address. The pin replaces the CA and name checks.
                    let tls = try NIOSSLClientHandler(
                        context: context, serverHostname: Self.isIPAddress(host) ? nil : host,
                        customVerificationCallback: { chain, promise in
                            promise.succeed(Self.matches(chain.first, pins: pins) ? .certificateVerified : .failed)
                        })
                    let answerBytes = AnswerBytes()
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHandler(AnswerByteWatch(answerBytes))
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PinnedConnectionHandler(answerBytes))
                }
            }
            .connect(host: host, port: key.port).get()
        state.withLock { $0.opened += 1 }
        channel.closeFuture.whenComplete { [weak self] _ in self?.forget(channel) }
        return channel
    }

    /// The body as sent, or inflated when gzipped: at most `limit` bytes either way.
    static func decoded(_ body: ByteBuffer, head: HTTPResponseHead, limit: Int) throws -> ByteBuffer {
        guard head.headers["Content-Encoding"].contains(where: { $0.lowercased().contains("gzip") }) else {
            return body
        }
        var compressed = body
        do {
            return try compressed.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw URLError(.dataLengthExceedsMaximum)
        } catch {
            throw URLError(.cannotDecodeContentData)
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":")
            || (host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }

    /// Whether `leaf`'s DER or SPKI hashes to one of `pins`.
    static func matches(_ leaf: NIOSSLCertificate?, pins: [[UInt8]]) -> Bool {
        guard let leaf, let der = try? leaf.toDERBytes() else { return false }
        if pins.contains(HubTrust.sha256(der)) { return true }
        guard let spki = try? leaf.extractPublicKey().toSPKIBytes() else { return false }
        return pins.contains(HubTrust.sha256(spki))
    }
}
