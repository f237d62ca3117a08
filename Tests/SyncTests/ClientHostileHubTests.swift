import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import NIOHTTP1
import ReplicaStore
import ServiceLifecycle
@testable import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Hostile hub answers to the client, at the transport (issue 10 §4 and §6): a fake hub on
/// 127.0.0.1 answers every request with one canned answer. Each case ends in a typed
/// ``SyncClientError`` with the replica unchanged.
@Suite("Client against a hostile hub")
struct ClientHostileHubTests {
    /// A fake hub: every POST to `/v1/sync`, `/v1/enroll` or `/v1/incarnate` gets one answer.
    final class FakeHub: Sendable {
        private let count = Mutex(0)
        private let address = Mutex<URL?>(nil)

        /// The hub's base URL, such as `http://127.0.0.1:41234`.
        var url: URL { address.withLock { $0 } ?? URL(fileURLWithPath: "/") }
        /// How many requests it answered.
        var requests: Int { count.withLock { $0 } }

        fileprivate func answered() { count.withLock { $0 += 1 } }
        fileprivate func listens(at url: URL) { address.withLock { $0 = url } }
    }

    /// Runs `body` with a fake hub on 127.0.0.1 that answers every request with `answer`.
    static func withFakeHub<T>(
        _ answer: @escaping @Sendable () -> Response, _ body: (FakeHub) async throws -> T
    ) async throws -> T {
        let hub = FakeHub()
        let router = Router()
        for path in ["v1/sync", "v1/enroll", "v1/incarnate"] {
            router.post(RouterPath(path)) { _, _ -> Response in
                hub.answered()
                return answer()
            }
        }
        return try await LoopbackRouter.serve(router) { url in
            hub.listens(at: url)
            return try await body(hub)
        }
    }

    /// A replica with one local write waiting to be pushed, and its state now.
    struct Before: Equatable {
        var status: ReplicaStatus
        var knowledge: VersionVector
        var checkpoint: String?
        var waiting: Int
    }

    static func before(_ store: ReplicaStore, peer: String) throws -> Before {
        let peerState = try store.peerState(peer)
        return Before(
            status: try store.status(), knowledge: peerState.knowledge, checkpoint: peerState.checkpoint,
            waiting: try SyncStatus.load(store: store).waitingToPush)
    }

    /// Runs one sync of a fresh replica (one local write) against `hub`; returns the error and
    /// checks that the replica is as it was.
    static func syncExpectingFailure(
        _ hub: FakeHub, configure: (inout HTTPSyncTransport.Configuration) -> Void = { _ in },
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> SyncClientError? {
        try await TemporaryReplica.withReplica { store in
            let key = DocumentKey(collection: try #require(CollectionName("notes")), id: try #require(DocumentID("n1")))
            try store.write(WriteIntent(key: key, body: Data(#"{"title":"kept"}"#.utf8)))
            let peer = HubCredentials.peerName(for: hub.url)
            let before = try before(store, peer: peer)
            var configuration = HTTPSyncTransport.Configuration(hub: hub.url, token: "device-token", timeoutSeconds: 10)
            configure(&configuration)
            let synchronizer = Synchronizer(
                store: store, transport: HTTPSyncTransport(configuration: configuration), peer: peer,
                configuration: .init(retry: .never), logger: silentLogger)
            let error = await #expect(throws: SyncClientError.self, sourceLocation: sourceLocation) {
                try await synchronizer.run()
            }
            #expect(try Self.before(store, peer: peer) == before, "the replica is unchanged", sourceLocation: sourceLocation)
            #expect(error?.message.contains("device-token") == false, "the token is never quoted", sourceLocation: sourceLocation)
            return error
        }
    }

    /// Runs one sync against a fake hub answering `body` as JSON; returns the error.
    static func syncExpectingFailure(
        answering body: Data, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> SyncClientError? {
        try await withFakeHub({
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }) { hub in
            try await syncExpectingFailure(hub, sourceLocation: sourceLocation)
        }
    }

    static func gzip(zeros count: Int) throws -> ByteBuffer {
        var input = ByteBuffer(repeating: 0, count: count)
        return try input.compress(with: .gzip())
    }

    // MARK: Redirects

    /// Attack: a hub (or whoever answers for it) redirects the exchange to another host, to
    /// collect the bearer credential and the pushed records there. URLSession follows redirects
    /// by default, re-sending the Authorization header.
    @Test func redirectToAnotherHostIsNotFollowed() async throws {
        try await Self.withFakeHub({ Response(status: .ok) }) { elsewhere in
            let target = "http://localhost:\(elsewhere.url.port ?? 0)/v1/sync"
            try await Self.withFakeHub({
                Response(status: .temporaryRedirect, headers: [.location: target], body: ResponseBody(byteBuffer: ByteBuffer(string: "moved")))
            }) { hub in
                let error = try await Self.syncExpectingFailure(hub)
                #expect(error?.code == .redirected)
                #expect(error?.httpStatus == 307)
                #expect(hub.requests == 1)
                #expect(elsewhere.requests == 0, "nothing was sent to the redirect's target")
            }
        }
    }

    /// The same at enrollment, where the answer carries the credential.
    @Test func enrollmentRedirectIsNotFollowed() async throws {
        try await Self.withFakeHub({
            Response(status: .found, headers: [.location: "http://localhost:9/v1/enroll"])
        }) { hub in
            try await TemporaryReplica.withReplica { store in
                let error = await #expect(throws: SyncClientError.self) {
                    try await DeviceEnrollment.enroll(store, hub: hub.url, code: "ABCD-EFGH", timeoutSeconds: 30)
                }
                #expect(error?.code == .redirected)
                #expect(HubCredentials.savedToken(for: store) == nil)
            }
        }
    }

    // MARK: Size and inflation

    /// Attack: a 64 KB gzip body that inflates to 64 MiB (a decompression bomb), against a cap of
    /// 1 MiB: the transfer is cut once the inflated bytes pass the cap.
    @Test func gzipBombIsCutAtTheCap() async throws {
        let bomb = try Self.gzip(zeros: 64 << 20)
        #expect(bomb.readableBytes < 100_000)
        try await Self.withFakeHub({
            Response(
                status: .ok, headers: [.contentType: "application/json", .contentEncoding: "gzip"],
                body: ResponseBody(byteBuffer: bomb))
        }) { hub in
            let error = try await Self.syncExpectingFailure(hub) { $0.maximumAnswerBytes = 1 << 20 }
            #expect(error?.code == .answerTooLarge)
        }
    }

    /// Attack: the same bomb against the default cap (32 MiB), inflating to 256 MiB.
    @Test func gzipBombIsCutAtTheDefaultCap() async throws {
        let bomb = try Self.gzip(zeros: 256 << 20)
        try await Self.withFakeHub({
            Response(
                status: .ok, headers: [.contentType: "application/json", .contentEncoding: "gzip"],
                body: ResponseBody(byteBuffer: bomb))
        }) { hub in
            let error = try await Self.syncExpectingFailure(hub)
            #expect(error?.code == .answerTooLarge)
        }
    }

    /// Attack: an oversized plain answer, announced by its Content-Length, and one sent in chunks
    /// without a length, which never ends by itself before the cap.
    @Test func oversizedPlainAnswerIsRefused() async throws {
        let megabyte = ByteBuffer(repeating: UInt8(ascii: " "), count: 1 << 20)
        try await Self.withFakeHub({
            Response(status: .ok, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(repeating: 0x20, count: 3 << 20)))
        }) { hub in
            let error = try await Self.syncExpectingFailure(hub) { $0.maximumAnswerBytes = 1 << 20 }
            #expect(error?.code == .answerTooLarge)
        }
        try await Self.withFakeHub({
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: ResponseBody { writer in
                    for _ in 0..<64 { try await writer.write(megabyte) }
                    try await writer.finish(nil)
                })
        }) { hub in
            let error = try await Self.syncExpectingFailure(hub) { $0.maximumAnswerBytes = 1 << 20 }
            #expect(error?.code == .answerTooLarge)
        }
    }

    /// The NIO client (hubs trusted by a CA file or a pin) caps inflation the same way.
    @Test func pinnedClientCapsInflation() throws {
        let bomb = try Self.gzip(zeros: 8 << 20)
        var head = HTTPResponseHead(version: .http1_1, status: .ok)
        head.headers.add(name: "Content-Encoding", value: "gzip")
        #expect(throws: URLError.self) { try PinnedHTTPSClient.decoded(bomb, head: head, limit: 1 << 20) }
        #expect(try PinnedHTTPSClient.decoded(bomb, head: head, limit: 16 << 20).readableBytes == 8 << 20)
    }

    // MARK: Refusals that are not the hub's

    /// Replays a review's finding: a firewall, a proxy's deny rule or a maintenance page in front
    /// of the hub answers 403 (or 401) with a page of its own. The client took any 401 or 403 for
    /// the hub refusing the device: `syncd run` stopped for good (exit 77, which its systemd unit
    /// does not restart) and `fieldcli sync` advised a new enrollment code. Only the hub's own
    /// problem document refuses the device now; the rest is a failure tried again later.
    @Test func aRefusalWithoutTheHubsProblemIsNotTheDevicesRefusal() async throws {
        for status in [HTTPResponse.Status.forbidden, .unauthorized] {
            try await Self.withFakeHub({
                Response(status: status, headers: [.contentType: "text/html"], body: ResponseBody(byteBuffer: ByteBuffer(string: "<h1>Access denied</h1>")))
            }) { hub in
                let error = try await Self.syncExpectingFailure(hub)
                #expect(error?.code == .hubError, "\(status)")
                #expect(error?.isDeviceRefused == false && error?.isTransient == true)
            }
        }
        let problem = #"{"type":"unauthorized","title":"Unauthorized","status":401}"#
        try await Self.withFakeHub({
            Response(
                status: .unauthorized, headers: [.contentType: "application/problem+json"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: problem)))
        }) { hub in
            let error = try await Self.syncExpectingFailure(hub)
            #expect(error?.code == .unauthorized)
        }
    }

    // MARK: Numbers a replica cannot keep

    /// Replays a review's finding: a hub answers with a rejection at counter 2^64-1. Taking it,
    /// the client looked the dot up as `Int64(counter)`, which trapped inside the apply
    /// transaction: `syncd` and `fieldcli sync` stopped at every exchange with that hub. The
    /// answer is refused at decoding.
    @Test func rejectionCounterAboveInt64IsRefused() async throws {
        var rejection = Rejection(
            dot: Dot(replica: ReplicaID.random(), counter: 1), reason: .invalidRecord, message: "", quarantined: true)
        rejection.counter = .max
        let answer = SyncResponse(
            hub: ReplicaID.random(), knowledge: [:], accepted: 0, rejected: [rejection], versions: [], checkpoint: "1",
            more: false)
        let body = try JSONEncoder().encode(answer)
        #expect(String(decoding: body, as: UTF8.self).contains("18446744073709551615"))
        let error = try await Self.syncExpectingFailure(answering: body)
        #expect(error?.code == .badAnswer)
        #expect(error?.message.contains("rejection") == true)
    }

    /// Replays a review's finding: a hub answers with a checkpoint of 2,000 bytes. The client kept
    /// it, and sent it with every later request, which every hub refuses (over 1,024 bytes): the
    /// device could never sync again, with an honest hub either. The answer is refused at decoding.
    @Test func overlongCheckpointIsRefused() async throws {
        let answer = SyncResponse(
            hub: ReplicaID.random(), knowledge: [:], accepted: 0, rejected: [], versions: [],
            checkpoint: String(repeating: "c", count: 2_000), more: false)
        let body = try JSONEncoder().encode(answer)
        let error = try await Self.syncExpectingFailure(answering: body)
        #expect(error?.code == .badAnswer)
        #expect(error?.message.contains("checkpoint") == true)
    }

    // MARK: Wall times beyond storage

    /// Attack: a hub hands out a version whose wall time is 2^63, above what a replica can store;
    /// clamping it on storage broke its signature for every reader. It is refused at decoding.
    @Test func pulledWallAboveInt64IsRefused() async throws {
        let origin = ReplicaID.random()
        let key = DeviceKey()
        let version = try key.sign(
            Version(
                dot: Dot(replica: origin, counter: 1), collection: try #require(CollectionName("notes")),
                documentID: try #require(DocumentID("far")), partition: .default, context: VersionVector(),
                body: Data("{}".utf8), timestamp: HybridTimestamp(wallMilliseconds: UInt64(1) << 63)))
        let answer = SyncResponse(
            hub: ReplicaID.random(), knowledge: [origin: 1], accepted: 0, rejected: [], versions: [version],
            checkpoint: "1", more: false)
        let body = try JSONEncoder().encode(answer)
        #expect(String(decoding: body, as: UTF8.self).contains("9223372036854775808"))
        let error = try await Self.syncExpectingFailure(answering: body)
        #expect(error?.code == .badAnswer)
        #expect(error?.message.contains("wall") == true)
    }

    /// Attack: a device pushes a correctly signed version whose wall time is 2^63. The hub
    /// stored it clamped to 2^63 - 1, which broke its signature for every reader and filled the
    /// audit log with false tampering reports. It is refused at decoding: 400, nothing stored.
    @Test func pushedWallAboveInt64IsRefusedAtTheHub() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let version = try hub.deviceKey.sign(
                Version(
                    dot: Dot(replica: hub.deviceID, counter: 1), collection: try #require(CollectionName("notes")),
                    documentID: try #require(DocumentID("far")), partition: .default, context: VersionVector(),
                    body: Data("{}".utf8), timestamp: HybridTimestamp(wallMilliseconds: UInt64(1) << 63)))
            let request = SyncRequest(replica: hub.deviceID, counter: 1, checkpoint: nil, push: [version])
            try await HostileInputTests.expectRefused(
                client, hub, body: try HubHTTPTests.encode(request), status: .badRequest, type: "malformed-request",
                origins: [hub.deviceID])
        }
    }
}
