import CompressNIO
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The hub over HTTP, in process on 127.0.0.1: routes, token, problem answers, gzip.
@Suite("Hub HTTP")
struct HubHTTPTests {
    // MARK: Helpers

    /// Runs `body` with a started hub and a client connected to it.
    static func withHub(
        configure: @escaping (inout HubConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (HubFixture, TestClient) async throws -> Void
    ) async throws {
        try await HubFixture.withHub(configure: configure) { hub in
            try await TestClient.withClient(
                host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))
            ) { client in
                try await body(hub, client)
            }
        }
    }

    static func headers(token: String?, contentType: String? = "application/json", extra: HTTPFields = [:]) -> HTTPFields {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if let contentType { headers[.contentType] = contentType }
        return headers
    }

    static func post(
        _ client: TestClient, _ hub: HubFixture, body: ByteBuffer, token: String? = nil,
        contentType: String? = "application/json", extra: HTTPFields = [:]
    ) async throws -> TestClient.Response {
        try await client.execute(
            TestClient.Request(
                "/v1/sync", method: .post, authority: "127.0.0.1",
                headers: headers(token: token ?? hub.token, contentType: contentType, extra: extra), body: body))
    }

    static func encode(_ request: SyncRequest) throws -> ByteBuffer {
        ByteBuffer(bytes: try JSONEncoder().encode(request))
    }

    static func problem(_ response: TestClient.Response) throws -> [String: Any] {
        #expect(response.headers[.contentType] == "application/problem+json")
        let body = try #require(response.body)
        return try #require(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])
    }

    /// A valid exchange still succeeds: the hub keeps serving after bad input.
    static func expectServing(_ client: TestClient, _ hub: HubFixture) async throws {
        let request = SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
        let response = try await post(client, hub, body: encode(request))
        #expect(response.status == .ok)
        let body = try #require(response.body)
        let answer = try JSONDecoder().decode(SyncResponse.self, from: Data(body.readableBytesView))
        #expect(answer.hub == hub.exchange.hubID)
    }

    static func gzip(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip())
    }

    static func gunzip(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.decompress(with: .gzip())
    }

    static func observation(_ store: ReplicaStore, _ id: String, size: Int = 300) throws -> Version {
        let key = DocumentKey(collection: try #require(CollectionName("notes")), id: try #require(DocumentID(id)))
        let text = String(repeating: "lorem ipsum ", count: size / 12)
        return try store.write(WriteIntent(key: key, body: Data(#"{"text":"\#(text)","id":"\#(id)"}"#.utf8)))
    }

    // MARK: Tests

    @Test func healthNeedsNoToken() async throws {
        try await Self.withHub { hub, client in
            let response = try await client.get("/healthz")
            #expect(response.status == .ok)
            // A made request id goes back only with an error; no `Server` header (bytes on a paid link).
            #expect(response.headers[try #require(HTTPField.Name("X-Request-ID"))] == nil)
            #expect(response.headers[.server] == nil)
            let body = try #require(response.body)
            let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: String]
            #expect(object == ["status": "ok", "hub": hub.exchange.hubID.hex])
        }
    }

    @Test func missingOrWrongTokenIsUnauthorized() async throws {
        try await Self.withHub { hub, client in
            let request = try Self.encode(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))
            let missing = try await client.execute(
                TestClient.Request(
                    "/v1/sync", method: .post, authority: "127.0.0.1",
                    headers: Self.headers(token: nil), body: request))
            #expect(missing.status == .unauthorized)
            #expect(missing.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
            #expect(try Self.problem(missing)["type"] as? String == "unauthorized")

            let wrong = try await Self.post(client, hub, body: request, token: hub.token + "x")
            #expect(wrong.status == .unauthorized)
            #expect(try Self.problem(wrong)["status"] as? Int == 401)
            let body = try #require(wrong.body)
            #expect(!String(buffer: body).contains(hub.token), "a problem never echoes the token")
            try await Self.expectServing(client, hub)
        }
    }

    @Test func malformedJSONIsABadRequestNamingTheField() async throws {
        try await Self.withHub { hub, client in
            let broken = try await Self.post(client, hub, body: ByteBuffer(string: #"{"protocol": 1, "replica": "#))
            #expect(broken.status == .badRequest)
            #expect(try Self.problem(broken)["type"] as? String == "malformed-request")
            try await Self.expectServing(client, hub)

            let missing = try await Self.post(
                client, hub, body: ByteBuffer(string: #"{"protocol":1,"counter":0,"push":[],"limits":{"versions":1,"bytes":1}}"#))
            #expect(missing.status == .badRequest)
            #expect((try Self.problem(missing)["detail"] as? String)?.contains("'replica'") == true)

            // A counter of 0 is refused by decoding, and the answer says where.
            let replica = ReplicaID.random().hex
            let version = #"{"origin":"\#(replica)","counter":0,"collection":"notes","id":"x","partition":"default","context":{},"body":"{}","time":{"wall":1,"logical":0},"signature":""}"#
            let badCounter = try await Self.post(
                client, hub,
                body: ByteBuffer(string: #"{"protocol":1,"replica":"\#(replica)","counter":0,"push":[\#(version)],"limits":{"versions":1,"bytes":1}}"#))
            #expect(badCounter.status == .badRequest)
            #expect((try Self.problem(badCounter)["detail"] as? String)?.contains("push[0]") == true)
            try await Self.expectServing(client, hub)
        }
    }

    @Test func wrongContentTypeIsUnsupported() async throws {
        try await Self.withHub { hub, client in
            let request = try Self.encode(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))
            let response = try await Self.post(client, hub, body: request, contentType: "text/plain")
            #expect(response.status == .unsupportedMediaType)
            #expect(try Self.problem(response)["type"] as? String == "unsupported-media-type")
            let noType = try await Self.post(client, hub, body: request, contentType: nil)
            #expect(noType.status == .unsupportedMediaType)
            try await Self.expectServing(client, hub)
        }
    }

    @Test func unsupportedProtocolIsABadRequestNamingBothVersions() async throws {
        try await Self.withHub { hub, client in
            var request = SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
            request.protocolVersion = 42
            let response = try await Self.post(client, hub, body: Self.encode(request))
            #expect(response.status == .badRequest)
            let problem = try Self.problem(response)
            #expect(problem["type"] as? String == "unsupported-protocol")
            let detail = try #require(problem["detail"] as? String)
            #expect(detail.contains("42") && detail.contains("\(SyncProtocol.current)"))
            try await Self.expectServing(client, hub)
        }
    }

    @Test func unknownRouteIsAProblem() async throws {
        try await Self.withHub { hub, client in
            let response = try await client.get("/v2/nothing", headers: [.authorization: "Bearer \(hub.token)"])
            #expect(response.status == .notFound)
            #expect(try Self.problem(response)["type"] as? String == "not-found")
        }
    }

    @Test func wrongMethodIsA405NamingTheMethodsTaken() async throws {
        try await Self.withHub { hub, client in
            let sync = try await client.execute(
                TestClient.Request("/v1/sync", method: .get, authority: "127.0.0.1", headers: [.authorization: "Bearer \(hub.token)"]))
            #expect(sync.status == .methodNotAllowed)
            #expect(sync.headers[.allow] == "POST")
            #expect(try Self.problem(sync)["type"] as? String == "method-not-allowed")
            let health = try await client.execute(TestClient.Request("/healthz/", method: .trace, authority: "127.0.0.1"))
            #expect(health.status == .methodNotAllowed)
            #expect(health.headers[.allow] == "GET, HEAD")
            let head = try await client.head("/healthz")
            #expect(head.status == .ok)
            // Replays CI's schemathesis run (ST204): TRACE /v1/informant-key was a 404, not a 405.
            let informantKey = try await client.execute(TestClient.Request("/v1/informant-key", method: .trace, authority: "127.0.0.1"))
            #expect(informantKey.status == .methodNotAllowed)
            #expect(informantKey.headers[.allow] == "GET")
            // Replays CI's schemathesis run (ST204) after revision 2: TRACE /v1/certificates was a 404.
            let certificates = try await client.execute(TestClient.Request("/v1/certificates", method: .trace, authority: "127.0.0.1"))
            #expect(certificates.status == .methodNotAllowed)
            #expect(certificates.headers[.allow] == "POST")
        }
    }

    @Test func truncatedGzipIsABadRequest() async throws {
        try await Self.withHub { hub, client in
            let request = try Self.encode(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))
            let compressed = try Self.gzip(request)
            let truncated = compressed.getSlice(at: compressed.readerIndex, length: compressed.readableBytes - 6) ?? compressed
            let response = try await Self.post(client, hub, body: truncated, extra: [.contentEncoding: "gzip"])
            #expect(response.status == .badRequest)
            #expect(try Self.problem(response)["type"] as? String == "corrupt-encoding")

            let notGzip = try await Self.post(client, hub, body: request, extra: [.contentEncoding: "gzip"])
            #expect(notGzip.status == .badRequest)
            let otherEncoding = try await Self.post(client, hub, body: request, extra: [.contentEncoding: "br"])
            #expect(otherEncoding.status == .unsupportedMediaType)
            try await Self.expectServing(client, hub)
        }
    }

    @Test func gzipBombStopsAtTheCap() async throws {
        // 100 MB of zeros, compressed as a stream (about 100 KB on the wire).
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        var bomb = ByteBufferAllocator().buffer(capacity: 4 << 20)
        for index in 0..<100 {
            var chunk = ByteBuffer(repeating: 0, count: 1_000_000)
            try chunk.compressStream(to: &bomb, with: compressor, flush: index == 99 ? .finish : .no)
        }
        try compressor.finishStream()
        #expect(bomb.readableBytes < 1 << 20)
        let wire = bomb

        try await Self.withHub { hub, client in
            let started = ContinuousClock.now
            let response = try await Self.post(client, hub, body: wire, extra: [.contentEncoding: "gzip"])
            #expect(response.status == .contentTooLarge)
            #expect(try Self.problem(response)["type"] as? String == "too-large")
            #expect(ContinuousClock.now - started < .seconds(20))
            try await Self.expectServing(client, hub)
        }
    }

    @Test func bodyAboveTheWireLimitIsTooLarge() async throws {
        try await Self.withHub(configure: { $0.limits.maxRequestBytes = 64 << 10 }) { hub, client in
            let padding = String(repeating: " ", count: 100 << 10)
            let request = try Self.encode(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))
            let response = try await Self.post(client, hub, body: ByteBuffer(string: padding + String(buffer: request)))
            #expect(response.status == .contentTooLarge)
            #expect(try Self.problem(response)["type"] as? String == "too-large")
            try await Self.expectServing(client, hub)
        }
    }

    @Test func gzipRoundTripBothWays() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        var pushed: [Version] = []
        for index in 0..<20 { pushed.append(try Self.observation(a, "obs-\(index)")) }
        let push = SyncRequest(replica: a.replicaID, counter: try a.counter(), checkpoint: nil, push: pushed)
        let expected = pushed
        let pull = SyncRequest(replica: b.replicaID, counter: 0, checkpoint: nil, push: [])

        try await Self.withHub { hub, client in
            let (tokenA, tokenB) = (try await hub.enroll(a), try await hub.enroll(b))
            let plain = try Self.encode(push)
            let compressed = try Self.gzip(plain)
            #expect(compressed.readableBytes < plain.readableBytes)
            let pushResponse = try await Self.post(client, hub, body: compressed, token: tokenA, extra: [.contentEncoding: "gzip"])
            #expect(pushResponse.status == .ok)
            let pushBody = try #require(pushResponse.body)
            let pushAnswer = try JSONDecoder().decode(SyncResponse.self, from: Data(pushBody.readableBytesView))
            #expect(pushAnswer.accepted == 20)

            let pullResponse = try await Self.post(
                client, hub, body: Self.encode(pull), token: tokenB, extra: [.acceptEncoding: "gzip, deflate"])
            #expect(pullResponse.status == .ok)
            #expect(pullResponse.headers[.contentEncoding] == "gzip")
            let wire = try #require(pullResponse.body)
            let body = try Self.gunzip(wire)
            #expect(wire.readableBytes < body.readableBytes)
            let answer = try JSONDecoder().decode(SyncResponse.self, from: Data(body.readableBytesView))
            #expect(answer.versions == expected)

            // Without Accept-Encoding the answer is plain; a small answer is never compressed.
            let plainPull = try await Self.post(client, hub, body: Self.encode(pull), token: tokenB)
            #expect(plainPull.headers[.contentEncoding] == nil)
            let small = try await Self.post(
                client, hub,
                body: Self.encode(SyncRequest(replica: b.replicaID, counter: 0, checkpoint: answer.checkpoint, push: [])),
                token: tokenB, extra: [.acceptEncoding: "gzip"])
            #expect(small.status == .ok)
            #expect(small.headers[.contentEncoding] == nil)
        }
    }

    @Test func requestIDComesBackAndIsKeptWhenGiven() async throws {
        try await Self.withHub { hub, client in
            let name = try #require(HTTPField.Name("X-Request-ID"))
            let request = try Self.encode(SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))
            let response = try await Self.post(client, hub, body: request, extra: [name: "client-id-1"])
            #expect(response.headers[name] == "client-id-1")
            let refused = try await Self.post(client, hub, body: request, token: "wrong", extra: [name: "bad id with spaces"])
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[name].map { !$0.contains(" ") } == true)
        }
    }
}
