import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import ServiceLifecycle
import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// The client's side of protocol 2 against a scripted hub on 127.0.0.1: what it sends before and
/// after negotiation, its fallback when a hub stops reading frames, and an answer frame it cannot read.
@Suite("Protocol 2 at the client")
struct Protocol2ClientTests {
    /// A scripted hub: answers frames while ``readsFrames``, else refuses them with 415 as a hub
    /// before protocol 2 does; answers a frame to a client that accepts one while it reads frames.
    final class ScriptedHub: Sendable {
        let readsFrames = Mutex(true)
        /// Whether it reads protocol 2 at all; else it refuses a protocol 2 JSON request with 400,
        /// as a hub before protocol 2 does.
        let speaksProtocol2 = Mutex(true)
        /// The `Content-Type`, `Accept` and body of every request, in order.
        let contentTypes = Mutex<[String]>([])
        let accepts = Mutex<[String]>([])
        let bodies = Mutex<[Data]>([])
        /// When set, every answer is these bytes as a frame.
        let garbledAnswer = Mutex<Data?>(nil)
        let hubID = ReplicaID.random()

        func answer(_ request: Request) async throws -> Response {
            let contentType = request.headers[.contentType] ?? ""
            contentTypes.withLock { $0.append(contentType) }
            accepts.withLock { $0.append(request.headers[.accept] ?? "") }
            let body = try await request.body.collect(upTo: 1 << 20)
            bodies.withLock { $0.append(Data(body.readableBytesView)) }
            let isFrame = contentType == SyncFrame.mediaType
            let speaks2 = speaksProtocol2.withLock { $0 }
            let framesRead = readsFrames.withLock { $0 } && speaks2
            if let garbled = garbledAnswer.withLock({ $0 }) {
                return Self.response(garbled, type: SyncFrame.mediaType)
            }
            if isFrame && !framesRead {
                let problem = #"{"type":"unsupported-media-type","title":"Unsupported media type","status":415,"detail":"The sync request must be JSON: send 'Content-Type: application/json'."}"#
                return Response(
                    status: .unsupportedMediaType, headers: [.contentType: "application/problem+json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: problem)))
            }
            let syncRequest = isFrame
                ? try SyncFrame.request(from: Data(body.readableBytesView))
                : try JSONDecoder().decode(SyncRequest.self, from: Data(body.readableBytesView))
            if !speaks2 && syncRequest.protocolVersion >= 2 {
                let problem = #"{"type":"unsupported-protocol","title":"Unsupported protocol version","status":400,"detail":"The client speaks sync protocol 2; this hub speaks 1."}"#
                return Response(
                    status: .badRequest, headers: [.contentType: "application/problem+json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: problem)))
            }
            var response = SyncResponse(
                hub: hubID, knowledge: [syncRequest.replica: syncRequest.counter], accepted: syncRequest.push.count,
                rejected: [], versions: [], checkpoint: "1.\(hubID.hex):0", more: false)
            let acceptsFrames = request.headers[.accept]?.contains(SyncFrame.mediaType) == true
            if framesRead && acceptsFrames {
                response.protocolVersion = 2
                return Self.response(try SyncFrame.encode(response, answering: syncRequest), type: SyncFrame.mediaType)
            }
            response.protocolVersion = 1
            return Self.response(try JSONEncoder().encode(response), type: "application/json")
        }

        static func response(_ data: Data, type: String) -> Response {
            Response(status: .ok, headers: [.contentType: type], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    static func withScriptedHub<T>(_ body: (ScriptedHub, URL) async throws -> T) async throws -> T {
        let hub = ScriptedHub()
        let router = Router()
        router.post("v1/sync") { request, _ -> Response in try await hub.answer(request) }
        return try await LoopbackRouter.serve(router) { url in try await body(hub, url) }
    }

    static func request(pushing count: Int) throws -> SyncRequest {
        let key = DeviceKey()
        let replica = ReplicaID.random()
        let push = try (0..<count).map { index in
            try key.sign(Version(
                dot: Dot(replica: replica, counter: UInt64(index + 1)), collection: CollectionName("notes")!,
                documentID: DocumentID("n-\(index)")!, partition: .default, context: VersionVector(),
                body: Data(#"{"n":\#(index)}"#.utf8), timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000)))
        }
        return SyncRequest(replica: replica, counter: UInt64(count), checkpoint: nil, push: push)
    }

    @Test("JSON first, frames once the hub answered with one, and JSON again (the request resent) after a 415")
    func negotiatesAndFallsBack() async throws {
        try await Self.withScriptedHub { hub, url in
            let transport = HTTPSyncTransport(configuration: .init(hub: url, token: "t", timeoutSeconds: 10))
            let request = try Self.request(pushing: 3)
            #expect(transport.negotiatedProtocol == 1)
            #expect(try await transport.exchange(request).response.protocolVersion == 2)
            #expect(transport.negotiatedProtocol == 2)
            #expect(try await transport.exchange(request).response.accepted == 3, "the push went in a frame and was read")
            hub.readsFrames.withLock { $0 = false }
            let fallback = try await transport.exchange(request)
            #expect(fallback.response.protocolVersion == 1)
            #expect(fallback.response.accepted == 3)
            #expect(transport.negotiatedProtocol == 1)
            _ = try await transport.exchange(request)
            let json = "application/json"
            #expect(hub.contentTypes.withLock { $0 } == [json, SyncFrame.mediaType, SyncFrame.mediaType, json, json])
        }
    }

    /// Replays "a field device syncs again with a hub that answered it in protocol 2 before"
    /// (issue 14, the no-op sync's bytes): the first request already speaks protocol 2, without
    /// the fields at their defaults and with only the frame in `Accept`; a hub rolled back to a
    /// release before protocol 2 refuses it (400) and gets it again as protocol 1.
    @Test("a hub remembered as speaking protocol 2 gets it from the first request; one rolled back gets protocol 1 again")
    func rememberedProtocol() async throws {
        try await Self.withScriptedHub { hub, url in
            var configuration = HTTPSyncTransport.Configuration(hub: url, token: "t", timeoutSeconds: 10)
            configuration.knownProtocol = 2
            let transport = HTTPSyncTransport(configuration: configuration)
            #expect(transport.negotiatedProtocol == 2)
            var request = try Self.request(pushing: 0)
            request.checkpoint = "1.\(hub.hubID.hex):0"
            request.understoodReasons = Rejection.Reason.added
            request.pending = 0
            let reply = try await transport.exchange(request)
            #expect(reply.response.protocolVersion == 2)
            #expect(reply.response.checkpoint == request.checkpoint, "the answer left it out; the client put it back")
            #expect(reply.response.knowledge[request.replica] == request.counter)
            let body = try #require(hub.bodies.withLock { $0.last })
            let sent = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            #expect(Set(sent.keys) == ["protocol", "replica", "counter", "checkpoint"])
            #expect(sent["protocol"] as? Int == 2)
            #expect(hub.contentTypes.withLock { $0 } == ["application/json"])
            #expect(hub.accepts.withLock { $0 } == [SyncFrame.mediaType])

            hub.speaksProtocol2.withLock { $0 = false }
            let fallback = try await transport.exchange(request)
            #expect(fallback.response.protocolVersion == 1)
            #expect(transport.negotiatedProtocol == 1)
            let resentBody = try #require(hub.bodies.withLock { $0.last })
            let resent = try JSONDecoder().decode(SyncRequest.self, from: resentBody)
            #expect(resent.protocolVersion == 1 && resent.limits == PageLimits())
            #expect(hub.bodies.withLock { $0.count } == 3, "the refused request and the one sent again")
        }
    }

    @Test("a client that offers protocol 1 only sends JSON protocol 1 and never lists the frame")
    func oldClientNeverSendsFrames() async throws {
        try await Self.withScriptedHub { hub, url in
            var configuration = HTTPSyncTransport.Configuration(hub: url, token: "t", timeoutSeconds: 10)
            configuration.protocols = 1...1
            let transport = HTTPSyncTransport(configuration: configuration)
            for _ in 0..<2 {
                let request = try Self.request(pushing: 1)
                let reply = try await transport.exchange(request)
                #expect(reply.response.protocolVersion == 1)
            }
            #expect(hub.contentTypes.withLock { $0 } == ["application/json", "application/json"])
            #expect(transport.negotiatedProtocol == 1)
        }
    }

    @Test("an answer frame that cannot be read is a bad answer naming what is wrong")
    func garbledAnswer() async throws {
        try await Self.withScriptedHub { hub, url in
            let transport = HTTPSyncTransport(configuration: .init(hub: url, token: "t", timeoutSeconds: 10))
            var frame = try SyncFrame.encode(SyncResponse(
                hub: hub.hubID, knowledge: VersionVector(), accepted: 0, rejected: [], versions: [], checkpoint: "c", more: false))
            frame.removeLast(3)
            hub.garbledAnswer.withLock { $0 = frame }
            let request = try Self.request(pushing: 1)
            let error = await #expect(throws: SyncClientError.self) { try await transport.exchange(request) }
            #expect(error?.code == .badAnswer)
            #expect(error?.message.contains("protocol 2 answer") == true)
            #expect(error?.message.contains("nothing of it was applied") == true)
            #expect(transport.negotiatedProtocol == 1)
        }
    }
}
