import CompressNIO
import Foundation
import HTTPTypes
import HubStore
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The bad-input matrix of the trust issue, each case against a running hub on 127.0.0.1: a 4xx
/// problem+json answer, nothing of the request stored, and a valid exchange succeeding afterwards.
@Suite("Hostile input")
struct HostileInputTests {
    // MARK: Helpers

    typealias HTTP = HubHTTPTests

    /// What the hub holds of `origins`: every version and its knowledge entries.
    struct HubState: Equatable {
        var dots: [Dot]
        var knowledge: VersionVector
    }

    static func state(_ hub: HubFixture, _ origins: Set<ReplicaID>) async throws -> HubState {
        let page = try await hub.exchange.storage.page(
            PageQuery(after: .start, limit: 100_000, maxBytes: .max, knowledgeOf: origins, filter: .everything))
        return HubState(dots: page.versions.map(\.dot).sorted(), knowledge: page.knowledge)
    }

    /// Posts raw bytes; expects a 4xx problem+json with `type`, no change of the hub's state of
    /// `origins`, and a valid exchange afterwards. Returns the problem's detail.
    @discardableResult
    static func expectRefused(
        _ client: TestClient, _ hub: HubFixture, body: ByteBuffer, status: HTTPResponse.Status, type: String,
        origins: Set<ReplicaID> = [], contentType: String? = "application/json", extra: HTTPFields = [:],
        token: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> String {
        let before = try await state(hub, origins)
        let response = try await HTTP.post(client, hub, body: body, token: token, contentType: contentType, extra: extra)
        #expect(response.status == status, sourceLocation: sourceLocation)
        let problem = try HTTP.problem(response)
        #expect(problem["type"] as? String == type, sourceLocation: sourceLocation)
        #expect(problem["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        let detail = problem["detail"] as? String ?? ""
        #expect(!detail.isEmpty, sourceLocation: sourceLocation)
        #expect(try await state(hub, origins) == before, "nothing of a refused request is stored", sourceLocation: sourceLocation)
        try await HTTP.expectServing(client, hub)
        return detail
    }

    static func request(_ replica: ReplicaID, counter: UInt64 = 0, push: [String] = [], assumed: String? = nil) -> ByteBuffer {
        let assumedField = assumed.map { #","assumedKnowledge":\#($0)"# } ?? ""
        return ByteBuffer(
            string: #"{"protocol":1,"replica":"\#(replica.hex)","counter":\#(counter),"push":[\#(push.joined(separator: ","))]\#(assumedField),"limits":{"versions":100,"bytes":100000}}"#)
    }

    /// A version in wire form, its fields given as raw JSON text.
    static func version(
        origin: ReplicaID, counter: String = "1", collection: String = #""notes""#, id: String = #""doc""#,
        context: String = "{}", body: String = #""{}""#
    ) -> String {
        #"{"origin":"\#(origin.hex)","counter":\#(counter),"collection":\#(collection),"id":\#(id),"partition":"default","context":\#(context),"body":\#(body),"time":{"wall":1700000000000,"logical":0},"signature":"\#(Data(repeating: 7, count: 64).base64EncodedString())"}"#
    }

    static func write(_ store: ReplicaStore, _ id: String, collection: String = "notes", body: String = #"{"title":"report"}"#) throws -> Version {
        let key = DocumentKey(collection: try #require(CollectionName(collection)), id: try #require(DocumentID(id)))
        return try store.write(WriteIntent(key: key, body: Data(body.utf8)))
    }

    static func push(_ client: TestClient, _ hub: HubFixture, _ store: ReplicaStore, _ versions: [Version], token: String) async throws -> SyncResponse {
        let request = SyncRequest(replica: store.replicaID, counter: try store.counter(), checkpoint: nil, push: versions)
        let response = try await HTTP.post(client, hub, body: HTTP.encode(request), token: token)
        #expect(response.status == .ok)
        let body = try #require(response.body)
        return try JSONDecoder().decode(SyncResponse.self, from: Data(body.readableBytesView))
    }

    // MARK: Malformed bodies

    @Test func truncatedAndMalformedJSON() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            let whole = String(buffer: Self.request(replica, push: [Self.version(origin: replica)]))
            for cut in [1, whole.count / 3, whole.count / 2, whole.count - 1] {
                try await Self.expectRefused(
                    client, hub, body: ByteBuffer(string: String(whole.prefix(cut))), status: .badRequest,
                    type: "malformed-request", origins: [replica])
            }
            for text in ["{]", "", "null", "[]", #"{"protocol":"one"}"#, "{\"protocol\":1,}", "\u{FEFF}{}"] {
                try await Self.expectRefused(
                    client, hub, body: ByteBuffer(string: text), status: .badRequest, type: "malformed-request", origins: [replica])
            }
        }
    }

    @Test func wrongContentType() async throws {
        try await HTTP.withHub { hub, client in
            let body = Self.request(hub.deviceID)
            for type in ["text/plain", "application/xml", "multipart/form-data; boundary=x"] {
                try await Self.expectRefused(
                    client, hub, body: body, status: .unsupportedMediaType, type: "unsupported-media-type", contentType: type)
            }
        }
    }

    @Test func invalidUTF8() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            var bytes = Self.request(replica, push: [Self.version(origin: replica, body: "\"{\\\"t\\\":\\\"XX\\\"}\"")])
            let text = String(buffer: bytes)
            let range = try #require(text.range(of: "XX"))
            let offset = text.utf8.distance(from: text.startIndex, to: range.lowerBound)
            bytes.setBytes([0xFF, 0xC3], at: offset)
            try await Self.expectRefused(client, hub, body: bytes, status: .badRequest, type: "malformed-request", origins: [replica])
        }
    }

    // MARK: Compression and size

    @Test func truncatedGzipAndGzipBomb() async throws {
        // 512 MB of zeros, compressed as a stream: about 500 KB on the wire.
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        var bomb = ByteBufferAllocator().buffer(capacity: 1 << 20)
        let zeros = ByteBuffer(repeating: 0, count: 1 << 20)
        for index in 0..<512 {
            var chunk = zeros
            try chunk.compressStream(to: &bomb, with: compressor, flush: index == 511 ? .finish : .no)
        }
        try compressor.finishStream()
        let wire = bomb
        try await HTTP.withHub(configure: { $0.limits.maxDecompressedBytes = 4 << 20 }) { hub, client in
            let peakBefore = Self.peakResidentBytes()
            let started = ContinuousClock.now
            let detail = try await Self.expectRefused(
                client, hub, body: wire, status: .contentTooLarge, type: "too-large", extra: [.contentEncoding: "gzip"])
            #expect(detail.contains("\(4 << 20)"))
            #expect(ContinuousClock.now - started < .seconds(20))
            if let peakBefore, let peakAfter = Self.peakResidentBytes() {
                #expect(peakAfter - peakBefore < 256 << 20, "the bomb stops at the cap, not in memory")
            }

            let replica = hub.deviceID
            let compressed = try HTTP.gzip(Self.request(replica, push: [Self.version(origin: replica)]))
            for cut in [10, compressed.readableBytes / 2, compressed.readableBytes - 1] {
                let truncated = try #require(compressed.getSlice(at: compressed.readerIndex, length: cut))
                try await Self.expectRefused(
                    client, hub, body: truncated, status: .badRequest, type: "corrupt-encoding", origins: [replica],
                    extra: [.contentEncoding: "gzip"])
            }
        }
    }

    @Test func oversizedBody() async throws {
        try await HTTP.withHub(configure: { $0.limits.maxRequestBytes = 32 << 10 }) { hub, client in
            let replica = hub.deviceID
            let big = String(repeating: "x", count: 64 << 10)
            let body = Self.request(replica, push: [Self.version(origin: replica, body: #""{\"t\":\"\#(big)\"}""#)])
            try await Self.expectRefused(client, hub, body: body, status: .contentTooLarge, type: "too-large", origins: [replica])
        }
    }

    // MARK: Counters

    @Test func countersNearTheLimit() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            let above = ["18446744073709551615", "9223372036854775808", "18446744073709551616", "-1", "1.5", "0"]
            for counter in above {
                try await Self.expectRefused(
                    client, hub, body: Self.request(replica, push: [Self.version(origin: replica, counter: counter)]),
                    status: .badRequest, type: "malformed-request", origins: [replica])
                if counter == "0" { continue }  // a context entry of 0 is legal
                try await Self.expectRefused(
                    client, hub, body: Self.request(replica, push: [Self.version(origin: replica, context: #"{"\#(replica.hex)":\#(counter)}"#)]),
                    status: .badRequest, type: "malformed-request", origins: [replica])
            }
            try await Self.expectRefused(
                client, hub, body: Self.request(replica, counter: UInt64.max), status: .badRequest, type: "malformed-request",
                origins: [replica])

            // Int64.max itself is a legal counter: a gap for this hub, refused without overflow.
            let max = String(Dot.maxCounter)
            let response = try await HTTP.post(
                client, hub,
                body: Self.request(
                    replica, counter: Dot.maxCounter,
                    push: [Self.version(origin: replica, counter: max, context: #"{"\#(replica.hex)":\#(max)}"#)],
                    assumed: #"{"\#(replica.hex)":\#(max)}"#))
            #expect(response.status == .ok)
            let answer = try JSONDecoder().decode(SyncResponse.self, from: Data(try #require(response.body).readableBytesView))
            #expect(answer.accepted == 0)
            #expect(answer.knowledge[replica] == 0)
            #expect(try await Self.state(hub, [replica]).dots.isEmpty)
        }
    }

    @Test func gapsAreRefusedAndReplaysAreIdempotent() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let store = try folder.create("a")
        let written = try (0..<3).map { try Self.write(store, "doc-\($0)") }
        try await HTTP.withHub { hub, client in
            let token = try await hub.enroll(store)
            let gap = try await Self.push(client, hub, store, [written[0], written[2]], token: token)
            #expect(gap.accepted == 1)
            #expect(gap.knowledge[store.replicaID] == 1, "the hub says where to push from")
            #expect(try await Self.state(hub, [store.replicaID]).dots == [written[0].dot])

            let whole = try await Self.push(client, hub, store, written, token: token)
            #expect(whole.accepted == 2)
            let stored = try await Self.state(hub, [store.replicaID])
            #expect(stored.dots == written.map(\.dot))

            let replay = try await Self.push(client, hub, store, written, token: token)
            #expect(replay.accepted == 0)
            #expect(replay.rejected.isEmpty)
            #expect(try await Self.state(hub, [store.replicaID]) == stored)
        }
    }

    // MARK: Names

    /// A collection name breaking the naming rule is refused whole (400); a well-formed name the
    /// catalog does not know is a collection of free JSON, accepted like any other.
    @Test func unknownCollection() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let store = try folder.create("a")
        let free = try Self.write(store, "x", collection: "zz-unknown")
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            for name in [#""Notes""#, #""../etc""#, #""a/b""#, #""""#, #""\#(String(repeating: "a", count: 65))""#, "7", "null"] {
                try await Self.expectRefused(
                    client, hub, body: Self.request(replica, push: [Self.version(origin: replica, collection: name)]),
                    status: .badRequest, type: "malformed-request", origins: [replica])
            }
            let answer = try await Self.push(client, hub, store, [free], token: try await hub.enroll(store))
            #expect(answer.accepted == 1)
            #expect(answer.rejected.isEmpty)
        }
    }

    @Test func idWithPathCharacters() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            for id in [#""../x""#, #""a/b""#, #""..""#, #""a\\b""#, #""a\u0000b""#, #""%2e%2e""#, #""""#] {
                let detail = try await Self.expectRefused(
                    client, hub, body: Self.request(replica, push: [Self.version(origin: replica, id: id)]),
                    status: .badRequest, type: "malformed-request", origins: [replica])
                #expect(detail.contains("push[0]"))
            }
        }
    }

    // MARK: Structure

    @Test func deepNesting() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let store = try folder.create("a")
        let deep = String(repeating: #"{"a":"#, count: 70) + "1" + String(repeating: "}", count: 70)
        // Local writes refuse such a body, so a written version gets it afterwards: the hub's depth
        // check comes before its signature check.
        var deepVersion = try Self.write(store, "deep", body: "{}")
        deepVersion.body = Data(deep.utf8)
        let nested = deepVersion
        try await HTTP.withHub { hub, client in
            let request = ByteBuffer(string: String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
            let detail = try await Self.expectRefused(client, hub, body: request, status: .badRequest, type: "malformed-request")
            #expect(detail.contains("deeper than 32"))

            let token = try await hub.enroll(store)
            let body = try HTTP.encode(SyncRequest(replica: store.replicaID, counter: 1, checkpoint: nil, push: [nested]))
            let bodyDetail = try await Self.expectRefused(
                client, hub, body: body, status: .badRequest, type: "malformed-request", origins: [store.replicaID], token: token)
            #expect(bodyDetail.contains("deeper than 64"))
        }
    }

    @Test func tooManyVectorEntries() async throws {
        try await HTTP.withHub(configure: { $0.limits.maxVectorEntries = 16 }) { hub, client in
            let replica = hub.deviceID
            let vector = "{" + (0..<17).map { _ in #""\#(ReplicaID.random().hex)":1"# }.joined(separator: ",") + "}"
            try await Self.expectRefused(
                client, hub, body: Self.request(replica, push: [Self.version(origin: replica, context: vector)]),
                status: .contentTooLarge, type: "too-large", origins: [replica])
            try await Self.expectRefused(
                client, hub, body: Self.request(replica, assumed: vector), status: .contentTooLarge, type: "too-large",
                origins: [replica])
        }
    }

    @Test func tooManyOrBadVerificationReports() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            let report = #"{"origin":"\#(ReplicaID.random().hex)","counter":1,"reason":"bad-signature"}"#
            let many = ByteBuffer(
                string: #"{"protocol":1,"replica":"\#(replica.hex)","counter":0,"push":[],"unverified":[\#(Array(repeating: report, count: 1_001).joined(separator: ","))],"limits":{"versions":100,"bytes":100000}}"#)
            try await Self.expectRefused(client, hub, body: many, status: .contentTooLarge, type: "too-large", origins: [replica])
            let zero = ByteBuffer(
                string: #"{"protocol":1,"replica":"\#(replica.hex)","counter":0,"push":[],"unverified":[{"origin":"\#(replica.hex)","counter":0,"reason":"x"}],"limits":{"versions":100,"bytes":100000}}"#)
            try await Self.expectRefused(client, hub, body: zero, status: .badRequest, type: "malformed-request", origins: [replica])
            let long = ByteBuffer(
                string: #"{"protocol":1,"replica":"\#(replica.hex)","counter":0,"push":[],"unverified":[{"origin":"\#(replica.hex)","counter":1,"reason":"\#(String(repeating: "x", count: 33))"}],"limits":{"versions":100,"bytes":100000}}"#)
            try await Self.expectRefused(client, hub, body: long, status: .badRequest, type: "malformed-request", origins: [replica])
        }
    }

    @Test func tooManyVersionsInOnePush() async throws {
        try await HTTP.withHub(configure: { $0.limits.maxPushVersions = 2 }) { hub, client in
            let replica = hub.deviceID
            let push = (1...3).map { Self.version(origin: replica, counter: "\($0)", id: #""doc-\#($0)""#) }
            try await Self.expectRefused(
                client, hub, body: Self.request(replica, push: push), status: .contentTooLarge, type: "too-large", origins: [replica])
        }
    }

    // MARK: Rate

    @Test func requestsAboveTheRateAreRefusedWithRetryAfter() async throws {
        try await HubFixture.withHub(configure: { $0.limits.requestsPerMinute = 3 }) { hub in
            try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))) { client in
                let body = Self.request(hub.deviceID)
                for _ in 0..<3 {
                    #expect(try await HTTP.post(client, hub, body: body).status == .ok)
                }
                let limited = try await HTTP.post(client, hub, body: body)
                #expect(limited.status == .tooManyRequests)
                #expect(try HTTP.problem(limited)["type"] as? String == "too-many-requests")
                let retryAfter = try #require(limited.headers[.retryAfter].flatMap { Int($0) })
                #expect((1...60).contains(retryAfter))
                #expect(try await client.get("/healthz").status == .ok, "health is never limited")
                // Another credential has its own bucket (a wrong one is refused before any bucket).
                #expect(try await HTTP.post(client, hub, body: body, token: "wrong").status == .unauthorized)
            }
        }
    }

    /// The process's peak resident set (`VmHWM`), when Linux says it.
    static func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") })
        else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }.map { $0 * 1024 }
    }
}

/// The token buckets on their own, with a controlled clock.
@Suite("Hostile input: rate limiter")
struct HostileRateLimiterTests {
    @Test func bucketRefillsAtTheRateAndKeysAreIndependent() {
        let start = ContinuousClock.now
        let limiter = RateLimiter(requestsPerMinute: 60, now: start)
        for _ in 0..<60 { #expect(limiter.admit("a", now: start) == .allowed) }
        #expect(limiter.admit("a", now: start) == .limited(retryAfterSeconds: 1))
        #expect(limiter.admit("b", now: start) == .allowed)
        #expect(limiter.admit("a", now: start + .milliseconds(1_500)) == .allowed, "one token back after a second")
        #expect(limiter.admit("a", now: start + .milliseconds(1_600)) == .limited(retryAfterSeconds: 1))
        #expect(RateLimiter(requestsPerMinute: 0).admit("a") == .allowed, "0 turns the limit off")
    }

    /// Found by review (not measured): a push whose contexts name half a million random replica
    /// ids fits a 16 MiB frame, and the hub looked up each inside the push's write transaction.
    /// The ids a push and its contexts name together are bounded.
    @Test func aPushNamingTooManyReplicasIsRefused() throws {
        let limits = MessageLimits(maxPushOrigins: 3)
        let pusher = ReplicaID.random()
        func version(_ counter: UInt64, naming others: Int) throws -> Version {
            var context = VersionVector()
            for _ in 0..<others { context[ReplicaID.random()] = 1 }
            return Version(
                dot: Dot(replica: pusher, counter: counter), collection: try #require(CollectionName("notes")),
                documentID: try #require(DocumentID("n\(counter)")), partition: .default, context: context,
                body: Data("{}".utf8), timestamp: HybridTimestamp(wallMilliseconds: 1))
        }
        let within = SyncRequest(replica: pusher, counter: 2, checkpoint: nil, push: [try version(1, naming: 1), try version(2, naming: 1)])
        #expect(limits.violation(in: within) == nil)
        let beyond = SyncRequest(replica: pusher, counter: 2, checkpoint: nil, push: [try version(1, naming: 2), try version(2, naming: 2)])
        #expect(limits.violation(in: beyond)?.kind == .pushOrigins)
    }

    @Test func nestingDepthScanIgnoresStrings() {
        let limits = MessageLimits(maxRequestDepth: 2)
        #expect(limits.violation(inRequestJSON: Array(#"{"a":"[[[[[[{{{{"}"#.utf8)) == nil)
        #expect(limits.violation(inRequestJSON: Array(#"{"a":"\"[[[","b":[1]}"#.utf8)) == nil)
        #expect(limits.violation(inRequestJSON: Array(#"{"a":[[1]]}"#.utf8)) != nil)
    }
}
