import CompressNIO
import Foundation
import NIOCore
import NIOPosix
import ReplicaStore
@testable import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// What one answer may cost the client, whatever the hub sends (issue 10 §4: the client refuses
/// redirects and caps response size and gzip expansion on every transport). A hostile server on
/// 127.0.0.1 writes raw HTTP answers that no framework would: a redirect with a decompression
/// bomb and no length, a head and then silence. Every wait in these tests is bounded, so a
/// client that does not give up fails the test instead of hanging it.
@Suite("Client transport bounds")
struct ClientTransportBoundsTests {
    /// How a body's end is told.
    enum Framing: String, Sendable, CaseIterable {
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// No length: the body ends when the connection closes.
        case closeDelimited
    }

    /// The 302 that kept a URLSession client busy for more than 25 minutes: `Content-Encoding:
    /// gzip`, no `Content-Length`, a body of about 500 KiB that inflates to 512 MiB.
    static func redirectBomb(_ framing: Framing) throws -> [ByteBuffer] {
        var head = "HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:9/v1/sync\r\nContent-Type: application/json\r\n"
        head += "Content-Encoding: gzip\r\n"
        head += framing == .chunked ? "Transfer-Encoding: chunked\r\n\r\n" : "Connection: close\r\n\r\n"
        let bomb = try gzippedZeros(mebibytes: 512)
        #expect(bomb.readableBytes < 1 << 20)
        guard framing == .chunked else { return [ByteBuffer(string: head), bomb] }
        var parts = [ByteBuffer(string: head)]
        var rest = bomb
        while let piece = rest.readSlice(length: min(16 << 10, rest.readableBytes)), piece.readableBytes > 0 {
            parts.append(ByteBuffer(string: String(piece.readableBytes, radix: 16) + "\r\n"))
            parts.append(piece)
            parts.append(ByteBuffer(string: "\r\n"))
        }
        parts.append(ByteBuffer(string: "0\r\n\r\n"))
        return parts
    }

    /// `count` MiB of zeros gzipped, compressed a MiB at a time.
    static func gzippedZeros(mebibytes count: Int) throws -> ByteBuffer {
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        var output = ByteBuffer()
        output.reserveCapacity(count << 11)
        for index in 0..<count {
            var block = ByteBuffer(repeating: 0, count: 1 << 20)
            try block.compressStream(to: &output, with: compressor, flush: index == count - 1 ? .finish : .no)
        }
        try compressor.finishStream()
        return output
    }

    /// How long a case waits for the client before it calls it stuck, and the bound it must beat.
    /// Alone, each case ends in well under a second (the silent hub in its 2 s timeout); in the
    /// parallel suite of 450 tests on two cores one took 29 s. The defects they replay kept the
    /// client busy for more than 25 minutes, so a one-minute bound still tells them apart.
    static let wait = 120
    static let bound = Duration.seconds(60)

    // MARK: Redirects with a bomb

    /// Attack replayed: a hub (or whoever answers for it) answers the exchange with a 302 whose
    /// gzip body, sent without a length, inflates to 512 MiB. URLSession on Linux read and
    /// inflated all of it before asking whether to follow the redirect (more than 25 minutes at
    /// full CPU in the measurement). The client now refuses the redirect from its head.
    @Test(arguments: Framing.allCases)
    func redirectWithAGzipBombFailsAtOnce(framing: Framing) async throws {
        let answer = try Self.redirectBomb(framing)
        try await HostileServer.with(answer: answer, closes: framing == .closeDelimited) { server in
            let started = ContinuousClock.now
            let outcome = try await Self.syncWithin(seconds: Self.wait, hub: server.url)
            let error = try #require(outcome, "the client was still busy after \(Self.wait) s")
            let refusals: [SyncClientError.Code] = [.redirected, .answerTooLarge]
            #expect(refusals.contains { $0 == error?.code }, "\(String(describing: error))")
            #expect(ContinuousClock.now - started < Self.bound)
        }
    }

    /// The same attack at enrollment, where the answer would carry the credential.
    @Test func enrollmentRedirectWithAGzipBombFailsAtOnce() async throws {
        let answer = try Self.redirectBomb(.chunked)
        try await HostileServer.with(answer: answer, closes: false) { server in
            try await TemporaryReplica.withReplica { store in
                let started = ContinuousClock.now
                let outcome = await Self.within(seconds: Self.wait) {
                    try await DeviceEnrollment.enroll(store, hub: server.url, code: "ABCD-EFGH", timeoutSeconds: 10)
                }
                let result = try #require(outcome, "the client was still busy after \(Self.wait) s")
                #expect(throws: SyncClientError.self) { try result.get() }
                if case .failure(let error as SyncClientError) = result { #expect(error.code == .redirected) }
                #expect(ContinuousClock.now - started < Self.bound)
                #expect(HubCredentials.savedToken(forReplicaAt: store.path) == nil)
            }
        }
    }

    // MARK: Silence

    /// Attack replayed: a hub that accepts the request and then says nothing, or sends an
    /// answer's head and then nothing more, holding the client (and the daemon's loop) forever.
    /// The client gives up once nothing has arrived for its timeout (2 s here).
    @Test(arguments: [false, true])
    func silentHubTimesOut(afterHead: Bool) async throws {
        let head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4096\r\n\r\n{\"protocol\""
        let answer = afterHead ? [ByteBuffer(string: head)] : []
        try await HostileServer.with(answer: answer, closes: false) { server in
            let started = ContinuousClock.now
            let outcome = try await Self.syncWithin(seconds: Self.wait, hub: server.url, timeoutSeconds: 2)
            let error = try #require(outcome, "the client was still waiting after \(Self.wait) s")
            #expect(error?.code == .unreachable)
            #expect(error?.message.contains("timed out") == true, "\(String(describing: error))")
            #expect(ContinuousClock.now - started < Self.bound)
        }
    }

    // MARK: Connections

    /// The requests of one transport share a connection while the hub keeps it open. Four
    /// requests must open at most two connections: a client that opens one per request fails.
    /// Exactly one is not asked for: on a loaded machine (the whole suite in parallel on two
    /// cores) libcurl opened a second one twice in CI, with 200 ms between the requests.
    @Test func requestsShareAConnection() async throws {
        let body = #"{"type":"unauthorized","title":"Unauthorized","status":401}"#
        let answer = "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/problem+json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
        try await HostileServer.with(answer: [ByteBuffer(string: answer)], closes: false) { server in
            let transport = HTTPSyncTransport(configuration: .init(hub: server.url, token: "device-token", timeoutSeconds: 10))
            let requests = 4
            for _ in 0..<requests {
                let outcome = await Self.within(seconds: Self.wait) {
                    try await transport.exchange(SyncRequest(replica: ReplicaID.random(), counter: 0, checkpoint: nil, push: []))
                }
                guard case .failure(let error as SyncClientError) = try #require(outcome) else {
                    Issue.record("the hub's 401 did not end the exchange as a SyncClientError")
                    return
                }
                #expect(error.code == .unauthorized)
                // The pool takes the connection back just after the answer ends.
                try await Task.sleep(for: .milliseconds(200))
            }
            #expect(server.requests == requests)
            #expect(server.connections <= requests / 2)
        }
    }

    // MARK: Helpers

    /// One sync of a fresh replica against `hub`, waited for at most `seconds`: nil when it had
    /// not ended by then, else the error it ended with (nil for success).
    static func syncWithin(seconds: Int, hub: URL, timeoutSeconds: Int = 10) async throws -> SyncClientError?? {
        try await TemporaryReplica.withReplica { store in
            let key = DocumentKey(collection: try #require(CollectionName("notes")), id: try #require(DocumentID("n1")))
            try store.write(WriteIntent(key: key, body: Data(#"{"title":"kept"}"#.utf8)))
            let configuration = HTTPSyncTransport.Configuration(hub: hub, token: "device-token", timeoutSeconds: timeoutSeconds)
            let synchronizer = Synchronizer(
                store: store, transport: HTTPSyncTransport(configuration: configuration),
                peer: HubCredentials.peerName(for: hub), configuration: .init(retry: .never), logger: silentLogger)
            guard let result = await within(seconds: seconds, { try await synchronizer.run() }) else { return nil }
            switch result {
            case .success: return .some(nil)
            case .failure(let error as SyncClientError): return .some(error)
            case .failure(let error): throw error
            }
        }
    }

    /// Runs `body` in a task of its own and waits for it at most `seconds`: nil when it has not
    /// ended by then (it is then cancelled and left behind, so the test still ends). The task runs
    /// on a thread of its own: URLSession's `data(for:)` blocks its thread while libcurl reads,
    /// which would otherwise starve the cooperative threads the wait runs on.
    static func within<T: Sendable>(
        seconds: Int, _ body: @escaping @Sendable () async throws -> T
    ) async -> Result<T, any Error>? {
        let task = Task(executorPreference: OwnThreadExecutor()) { try await body() }
        let first = FirstOutcome<Result<T, any Error>?>()
        let outcome = await withCheckedContinuation { continuation in
            first.set(continuation)
            Task { first.resume(with: await task.result) }
            Task {
                try? await Task.sleep(for: .seconds(seconds))
                first.resume(with: nil)
            }
        }
        // Cancelled from a thread of its own: URLSession's cancel waits for its busy queue.
        DispatchQueue(label: "vigil.tests.transport-bounds.cancel").async { task.cancel() }
        return outcome
    }

    /// Runs the jobs of a task on a serial dispatch queue, outside the cooperative thread pool.
    final class OwnThreadExecutor: TaskExecutor {
        private let queue = DispatchQueue(label: "vigil.tests.transport-bounds")

        func enqueue(_ job: consuming ExecutorJob) {
            let job = UnownedJob(job)
            queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
        }
    }

    /// Resumes a continuation once, with whichever outcome comes first.
    final class FirstOutcome<T: Sendable>: Sendable {
        private enum State {
            case waiting
            case listening(CheckedContinuation<T, Never>)
            case arrived(T)
            case done
        }

        private let state = Mutex<State>(.waiting)

        func set(_ continuation: CheckedContinuation<T, Never>) {
            let arrived = state.withLock { state -> T? in
                guard case .arrived(let value) = state else {
                    state = .listening(continuation)
                    return nil
                }
                state = .done
                return value
            }
            if let arrived { continuation.resume(returning: arrived) }
        }

        func resume(with value: T) {
            let continuation = state.withLock { state -> CheckedContinuation<T, Never>? in
                switch state {
                case .waiting:
                    state = .arrived(value)
                    return nil
                case .listening(let continuation):
                    state = .done
                    return continuation
                case .arrived, .done:
                    return nil
                }
            }
            continuation?.resume(returning: value)
        }
    }
}

/// A hostile hub on 127.0.0.1: once a request has arrived whole, it writes the same raw answer,
/// then closes the connection (`closes`) or waits for the next request on it. With no answer it
/// says nothing at all.
final class HostileServer: Sendable {
    private let channel: any Channel
    private let counts: Counts

    /// Accepted connections and answered requests.
    final class Counts: Sendable {
        let state = Mutex((connections: 0, requests: 0))
    }

    var url: URL { URL(string: "http://127.0.0.1:\(channel.localAddress?.port ?? 0)") ?? URL(fileURLWithPath: "/") }
    var connections: Int { counts.state.withLock { $0.connections } }
    var requests: Int { counts.state.withLock { $0.requests } }

    private init(channel: any Channel, counts: Counts) {
        self.channel = channel
        self.counts = counts
    }

    /// Runs `body` with a server writing `answer` to every request.
    static func with<T>(
        answer: [ByteBuffer], closes: Bool, _ body: (HostileServer) async throws -> T
    ) async throws -> T {
        let counts = Counts()
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counts.state.withLock { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(CannedAnswer(answer: answer, closes: closes, counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let server = HostileServer(channel: channel, counts: counts)
        do {
            let result = try await body(server)
            try? await channel.close()
            return result
        } catch {
            try? await channel.close()
            throw error
        }
    }

    /// Reads each request (its head, then `Content-Length` bytes) and writes the answer.
    final class CannedAnswer: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        private let answer: [ByteBuffer]
        private let closes: Bool
        private let counts: Counts
        private var pending: [UInt8] = []

        init(answer: [ByteBuffer], closes: Bool, counts: Counts) {
            self.answer = answer
            self.closes = closes
            self.counts = counts
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += Self.unwrapInboundIn(data).readableBytesView
            while let length = Self.requestLength(pending) {
                pending.removeFirst(length)
                counts.state.withLock { $0.requests += 1 }
                guard !answer.isEmpty else { continue }
                for part in answer { context.write(Self.wrapOutboundOut(part), promise: nil) }
                context.flush()
                if closes {
                    context.close(promise: nil)
                    return
                }
            }
            if pending.count > 4 << 20 { context.close(promise: nil) }
        }

        /// The length of the first whole request in `bytes`, nil when it has not all arrived.
        static func requestLength(_ bytes: [UInt8]) -> Int? {
            let end = Array("\r\n\r\n".utf8)
            guard bytes.count >= end.count,
                let headEnd = (0...(bytes.count - end.count)).first(where: { bytes[$0..<($0 + end.count)].elementsEqual(end) })
            else { return nil }
            let head = String(decoding: bytes[..<headEnd], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n")
                .first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
            let total = headEnd + end.count + length
            return bytes.count >= total ? total : nil
        }
    }
}
