import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Protocol 2 over HTTP: negotiated through `Accept`, frames both ways, protocol 1 still served
/// to old clients as before, and old and new clients and hubs converge in every pairing.
@Suite("Protocol 2 over HTTP")
struct Protocol2Tests {
    static let collection = CollectionName("notes")!
    static let frameAccept = "\(SyncFrame.mediaType), application/json, application/problem+json"

    /// A hub of a release before protocol 2: it reads and writes JSON only.
    static func oldHub(_ configuration: inout HubConfiguration) { configuration.maxProtocol = 1 }

    static func post(
        _ client: TestClient, _ hub: HubFixture, body: Data, contentType: String = "application/json", accept: String?
    ) async throws -> TestClient.Response {
        var extra: HTTPFields = [:]
        if let accept { extra[.accept] = accept }
        return try await HubHTTPTests.post(client, hub, body: ByteBuffer(bytes: body), contentType: contentType, extra: extra)
    }

    static func bytes(_ response: TestClient.Response) throws -> Data {
        Data(try #require(response.body).readableBytesView)
    }

    static func signed(_ hub: HubFixture, count: Int) throws -> [Version] {
        try (1...count).map { counter in
            try hub.deviceKey.sign(Version(
                dot: Dot(replica: hub.deviceID, counter: UInt64(counter)), collection: collection,
                documentID: DocumentID(UUID().uuidString.lowercased())!, partition: .default, context: VersionVector(),
                body: Data(#"{"title":"report \#(counter)","note":"ünïcode \"quoted\""}"#.utf8),
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + UInt64(counter))))
        }
    }

    // MARK: Negotiation at the hub

    @Test("the hub answers in protocol 2 to a client that accepts frames, in JSON protocol 1 otherwise")
    func negotiation() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let request = try JSONEncoder().encode(SyncRequest(protocolVersion: 1, replica: hub.deviceID, counter: 0, checkpoint: nil, push: []))

            let framed = try await Self.post(client, hub, body: request, accept: Self.frameAccept)
            #expect(framed.status == .ok)
            #expect(framed.headers[.contentType] == SyncFrame.mediaType)
            let answer = try SyncFrame.response(from: try Self.bytes(framed))
            #expect(answer.protocolVersion == 2)
            #expect(answer.hub == hub.exchange.hubID)

            // As a client before protocol 2 asks: the answer is JSON protocol 1, the bytes
            // JSONEncoder makes of it, with no header protocol 2 added.
            for accept in ["application/json, application/problem+json", nil, "*/*", "\(SyncFrame.mediaType);q=0, application/json"] {
                let old = try await Self.post(client, hub, body: request, accept: accept)
                #expect(old.status == .ok)
                #expect(old.headers[.contentType] == "application/json")
                #expect(old.headers[.vary] == nil)
                let body = try Self.bytes(old)
                let decoded = try JSONDecoder().decode(SyncResponse.self, from: body)
                #expect(decoded.protocolVersion == 1)
                #expect(body == (try JSONEncoder().encode(decoded)), "the JSON answer is JSONEncoder's bytes")
                #expect(String(decoding: body, as: UTF8.self).hasPrefix(#"{"protocol":1,"#))
            }
        }
    }

    @Test("a hub capped at protocol 1 answers JSON whatever the client accepts, and refuses a frame as an old hub does (415)")
    func oldHubSpeaksJSONOnly() async throws {
        try await HubHTTPTests.withHub(configure: Self.oldHub) { hub, client in
            let request = SyncRequest(protocolVersion: 1, replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
            let json = try await Self.post(client, hub, body: try JSONEncoder().encode(request), accept: Self.frameAccept)
            #expect(json.headers[.contentType] == "application/json")
            #expect(try JSONDecoder().decode(SyncResponse.self, from: try Self.bytes(json)).protocolVersion == 1)

            let frame = try await Self.post(
                client, hub, body: try SyncFrame.encode(request), contentType: SyncFrame.mediaType, accept: Self.frameAccept)
            #expect(frame.status == .unsupportedMediaType)
            #expect(try HubHTTPTests.problem(frame)["type"] as? String == "unsupported-media-type")

            var two = request
            two.protocolVersion = 2
            let said = try await Self.post(client, hub, body: try JSONEncoder().encode(two), accept: nil)
            #expect(said.status == .badRequest)
            let problem = try HubHTTPTests.problem(said)
            #expect(problem["type"] as? String == "unsupported-protocol")
            #expect((problem["detail"] as? String)?.contains("version 1") == true)
            let again = try await Self.post(client, hub, body: try JSONEncoder().encode(request), accept: nil)
            #expect(again.status == .ok, "the hub keeps serving")
        }
    }

    // MARK: Frames at the hub

    @Test("a pushed frame is taken, and its answer is a frame")
    func pushAsFrame() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let push = try Self.signed(hub, count: 20)
            let request = SyncRequest(protocolVersion: 2, replica: hub.deviceID, counter: 20, checkpoint: nil, push: push)
            let response = try await Self.post(
                client, hub, body: try SyncFrame.encode(request), contentType: SyncFrame.mediaType, accept: Self.frameAccept)
            #expect(response.status == .ok)
            let answer = try SyncFrame.response(from: try Self.bytes(response), answering: request)
            #expect(answer.accepted == 20)
            #expect(answer.rejected.isEmpty)
            #expect(answer.knowledge[hub.deviceID] == 20)
        }
    }

    /// Replays "a small sync" of issue 14 (bytes against the gzip floor): the plain keys are for
    /// clients before certificates, and a protocol 2 client is none.
    @Test("a page's certificates come in both protocols, its plain keys in protocol 1 only")
    func keysOnlyForProtocol1() async throws {
        try await HubHTTPTests.withHub { hub, client in
            try hub.store.write(WriteIntent(key: DocumentKey(collection: Self.collection, id: DocumentID("n1")!), body: Data(#"{"n":1}"#.utf8)))
            let request = SyncRequest(protocolVersion: 1, replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
            let framed = try await Self.post(client, hub, body: try JSONEncoder().encode(request), accept: Self.frameAccept)
            let answer = try SyncFrame.response(from: try Self.bytes(framed), answering: request)
            #expect(answer.versions.count == 1)
            #expect(answer.certificates?.isEmpty == false)
            #expect(answer.keys == nil)
            let json = try await Self.post(client, hub, body: try JSONEncoder().encode(request), accept: nil)
            let old = try JSONDecoder().decode(SyncResponse.self, from: try Self.bytes(json))
            #expect(old.versions.count == 1)
            #expect(old.keys?.isEmpty == false, "protocol 1 keeps the keys for clients before certificates")
        }
    }

    /// Replays the small sync of issue 14 (10 up, 10 down, 1.42x the gzip floor): the hub's
    /// certificate of itself and the receipts in base64 weighed on every page.
    @Test("revision 2 of the answer: receipts apart, no certificates; without `rev=2`, revision 1 as before")
    func answerRevision2() async throws {
        try await HubHTTPTests.withHub { hub, client in
            try hub.store.write(WriteIntent(key: DocumentKey(collection: Self.collection, id: DocumentID("n1")!), body: Data(#"{"n":1}"#.utf8)))
            let push = try Self.signed(hub, count: 3)
            let request = SyncRequest(protocolVersion: 2, replica: hub.deviceID, counter: 3, checkpoint: nil, push: push)
            let frame = try SyncFrame.encode(request)
            let key = hub.exchange.storage.receiptKey
            let hubID = hub.exchange.hubID

            let revised = try await Self.post(
                client, hub, body: frame, contentType: SyncFrame.mediaType, accept: "\(SyncFrame.mediaType); rev=2")
            #expect(revised.status == .ok)
            #expect(revised.headers[.vary] == nil)
            let revisedBytes = try Self.bytes(revised)
            let answer = try SyncFrame.response(from: revisedBytes, answering: request)
            #expect(answer.accepted == 3)
            #expect(answer.versions.count == 1)
            #expect(answer.certificates == nil, "a client of revision 2 asks for the certificates it lacks")
            #expect(!answer.versions.isEmpty && answer.versions.allSatisfy(key.vouches(for:)), "the page's receipts, from the receipt section")
            for version in push {
                var received = version
                received.receipt = answer.receipts?[String(version.dot.counter)]
                #expect(key.vouches(for: received), "the receipt of pushed \(version.dot)")
            }
            let header = String(decoding: revisedBytes.prefix(2_000), as: UTF8.self)
            #expect(!header.contains("\"receipt\"") && !header.contains("\"receiptIndex\"") && !header.contains("\"receipts\""),
                "no receipt in base64 in the header")

            // The same exchange again (a re-delivery) as a client of protocol 2 before revision 2 asks.
            let plain = try await Self.post(client, hub, body: frame, contentType: SyncFrame.mediaType, accept: SyncFrame.mediaType)
            let plainBytes = try Self.bytes(plain)
            let old = try SyncFrame.response(from: plainBytes, answering: request)
            #expect(old.certificates?.contains { $0.replica == hubID } == true)
            #expect(old.versions.map(\.receipt) == answer.versions.map(\.receipt))
            #expect(old.receipts == answer.receipts)
            #expect(String(decoding: plainBytes.prefix(2_000), as: UTF8.self).contains("\"receiptIndex\""))
            #expect(revisedBytes.count < plainBytes.count - 200, "\(revisedBytes.count) B against \(plainBytes.count) B")

            // A later revision offered gets this hub's highest; the frame refused with q=0 gets JSON.
            let later = try await Self.post(
                client, hub, body: frame, contentType: SyncFrame.mediaType, accept: "application/json, \(SyncFrame.mediaType);rev=7")
            #expect(try SyncFrame.response(from: try Self.bytes(later), answering: request).certificates == nil)
            #expect(!String(decoding: try Self.bytes(later).prefix(2_000), as: UTF8.self).contains("\"receiptIndex\""))
            let refused = try await Self.post(
                client, hub, body: frame, contentType: SyncFrame.mediaType, accept: "\(SyncFrame.mediaType);rev=2;q=0, application/json")
            #expect(refused.headers[.contentType] == "application/json")
        }
    }

    static func askCertificates(_ client: TestClient, _ hub: HubFixture, _ body: Data, token: String?) async throws -> TestClient.Response {
        try await client.execute(
            TestClient.Request(
                "/v1/certificates", method: .post, authority: "127.0.0.1",
                headers: HubHTTPTests.headers(token: token), body: ByteBuffer(bytes: body)))
    }

    /// A revision 2 answer carries no certificates; a device asks for those it lacks.
    @Test("POST /v1/certificates gives the hub's certificates of the ids named and of no other; over 1,000 ids is 400, no credential 401")
    func certificatesOnRequest() async throws {
        try await HubHTTPTests.withHub { hub, client in
            let hubID = hub.exchange.hubID
            let asked = CertificateRequest(replicas: [hub.deviceID, hubID, ReplicaID.random()])
            let response = try await Self.askCertificates(client, hub, try JSONEncoder().encode(asked), token: hub.token)
            #expect(response.status == .ok)
            let answer = try JSONDecoder().decode(CertificateResponse.self, from: try Self.bytes(response))
            #expect(Set(answer.certificates.map(\.replica)) == [hub.deviceID, hubID])
            let hubKey = hub.exchange.storage.hubKey
            #expect(answer.certificates.allSatisfy { $0.hub == hubID && $0.isSigned(by: hubKey) })
            #expect(answer.certificates.first { $0.replica == hub.deviceID }?.publicKey == hub.deviceKey.publicKey)

            let tooMany = CertificateRequest(replicas: (0...CertificateRequest.maxReplicas).map { _ in ReplicaID.random() })
            let refused = try await Self.askCertificates(client, hub, try JSONEncoder().encode(tooMany), token: hub.token)
            #expect(refused.status == .badRequest)
            let anonymous = try await Self.askCertificates(client, hub, try JSONEncoder().encode(asked), token: nil)
            #expect(anonymous.status == .unauthorized)
        }
    }

    @Test("a malformed, cut or oversized frame is a 4xx problem and the hub keeps serving")
    func hostileFrames() async throws {
        try await HubHTTPTests.withHub(configure: { $0.limits.maxPushVersions = 3 }) { hub, client in
            let request = SyncRequest(protocolVersion: 2, replica: hub.deviceID, counter: 4, checkpoint: nil, push: try Self.signed(hub, count: 4))
            let frame = try SyncFrame.encode(request)

            let tooMany = try await Self.post(client, hub, body: frame, contentType: SyncFrame.mediaType, accept: Self.frameAccept)
            #expect(tooMany.status == .contentTooLarge)
            #expect(try HubHTTPTests.problem(tooMany)["type"] as? String == "too-large")

            var within = request
            within.push.removeLast()
            let allowed = try SyncFrame.encode(within)
            let cut = try await Self.post(client, hub, body: allowed.prefix(allowed.count - 10), contentType: SyncFrame.mediaType, accept: nil)
            #expect(cut.status == .badRequest)
            let problem = try HubHTTPTests.problem(cut)
            #expect(problem["type"] as? String == "malformed-request")
            #expect((problem["detail"] as? String)?.contains("frame") == true)

            let notAFrame = try await Self.post(client, hub, body: Data("{}".utf8), contentType: SyncFrame.mediaType, accept: nil)
            #expect(notAFrame.status == .badRequest)

            // Brackets after a frame are not JSON nesting (the depth check reads the header only):
            // they are bytes after its last section.
            var bytes = allowed
            bytes.append(Data(repeating: UInt8(ascii: "["), count: 100))
            let trailing = try await Self.post(client, hub, body: bytes, contentType: SyncFrame.mediaType, accept: nil)
            #expect(trailing.status == .badRequest)
            #expect((try HubHTTPTests.problem(trailing)["detail"] as? String)?.contains("after its last section") == true)

            // A header holding a key twice is refused, as a JSON request is: two readers could
            // take two different requests from it.
            var header = Data(#"{"protocol":2,"replica":"\#(hub.deviceID.hex)","counter":0,"counter":7,"push":[],"limits":{"versions":1,"bytes":1}}"#.utf8)
            var duplicate = Data(SyncFrame.magic + [2, 1])
            for byte in withUnsafeBytes(of: UInt32(header.count).bigEndian, Array.init) { duplicate.append(byte) }
            duplicate.append(header)
            duplicate.append(Data(repeating: 0, count: 16))
            let twice = try await Self.post(client, hub, body: duplicate, contentType: SyncFrame.mediaType, accept: nil)
            #expect(twice.status == .badRequest)
            #expect((try HubHTTPTests.problem(twice)["detail"] as? String)?.contains("'counter' twice") == true)
            header = Data(#"{"protocol":2,"replica":"\#(hub.deviceID.hex)","counter":0,"push":[],"limits":{"versions":1,"bytes":1}}"#.utf8)
            var single = Data(SyncFrame.magic + [2, 1])
            for byte in withUnsafeBytes(of: UInt32(header.count).bigEndian, Array.init) { single.append(byte) }
            single.append(header)
            single.append(Data(repeating: 0, count: 16))
            let once = try await Self.post(client, hub, body: single, contentType: SyncFrame.mediaType, accept: Self.frameAccept)
            #expect(once.status == .ok, "the same frame with each key once is taken")
            try await HubHTTPTests.expectServing(client, hub)
        }
    }

    // MARK: Old and new, both ways

    static func transport(_ hub: HubFixture, token: String, protocols: ClosedRange<Int>, pinned: Bool = false) -> HTTPSyncTransport {
        var configuration = HTTPSyncTransport.Configuration(hub: hub.url, token: token, timeoutSeconds: 30)
        configuration.protocols = protocols
        configuration.hubKeyPinned = pinned
        return HTTPSyncTransport(configuration: configuration)
    }

    static func sync(_ store: ReplicaStore, _ hub: HubFixture, _ transport: HTTPSyncTransport) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: transport, peer: HubCredentials.peerName(for: hub.url),
            configuration: .init(retry: .never), logger: silentLogger
        ).run()
    }

    static func write(_ store: ReplicaStore, _ id: String, _ text: String) throws {
        let key = DocumentKey(collection: collection, id: DocumentID(id)!)
        try store.write(WriteIntent(key: key, body: Data(#"{"text":"\#(text)"}"#.utf8)))
    }

    /// Two devices, one on each protocol range, write, sync, edit each other's documents (one
    /// concurrently) and sync again until quiet: both end with the same documents. Returns the
    /// protocols the two transports negotiated.
    ///
    /// A replica of a `pinned` side holds the hub's key pinned, as `fieldcli enroll` leaves it,
    /// and its transport offers revision 2 of the answer.
    static func converge(
        hub: HubFixture, first: ClosedRange<Int>, second: ClosedRange<Int>, pinned: (Bool, Bool) = (false, false),
        check: (_ a: ReplicaStore, _ b: ReplicaStore) throws -> Void = { _, _ in }
    ) async throws -> (Int, Int) {
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (a, b) = (replicas[0], replicas[1])
            for (replica, pin) in [(a, pinned.0), (b, pinned.1)] where pin {
                try replica.pinHub(hub.exchange.hubID, key: hub.exchange.storage.hubKey)
            }
            let transportA = transport(hub, token: try await hub.enroll(a), protocols: first, pinned: pinned.0)
            let transportB = transport(hub, token: try await hub.enroll(b), protocols: second, pinned: pinned.1)
            for index in 0..<30 { try write(a, "a-\(index)", "from a \(index)") }
            for index in 0..<30 { try write(b, "b-\(index)", "from b \(index)") }
            _ = try await sync(a, hub, transportA)
            _ = try await sync(b, hub, transportB)
            _ = try await sync(a, hub, transportA)
            // Later pushes go in the negotiated form: edits of the other's documents, one of them
            // concurrent (a conflict both must show).
            for index in 0..<10 { try write(a, "b-\(index)", "a edits b \(index)") }
            for index in 0..<10 { try write(b, "a-\(index)", "b edits a \(index)") }
            try write(b, "b-0", "b edits its own")
            for _ in 0..<3 {
                _ = try await sync(a, hub, transportA)
                _ = try await sync(b, hub, transportB)
            }
            #expect(try await sync(a, hub, transportA).isQuiet)
            #expect(try await sync(b, hub, transportB).isQuiet)
            let keys = (0..<30).flatMap { ["a-\($0)", "b-\($0)"] }.map { DocumentKey(collection: collection, id: DocumentID($0)!) }
            for key in keys {
                let onA = try #require(try a.document(key), "\(key) missing on A")
                let onB = try #require(try b.document(key), "\(key) missing on B")
                #expect(onA.state == onB.state, "\(key)")
                #expect(onA.siblings == onB.siblings, "\(key)")
            }
            let conflicted = try #require(try a.document(DocumentKey(collection: collection, id: DocumentID("b-0")!)))
            #expect(conflicted.siblings.count == 2, "the concurrent edit shows as a conflict")
            #expect(try a.status().versions == b.status().versions)
            #expect(try a.status().versions == 60 + 21)
            try check(a, b)
            return (transportA.negotiatedProtocol, transportB.negotiatedProtocol)
        }
    }

    @Test("an old client (protocol 1 only) and a new one converge through a new hub")
    func oldClientNewHub() async throws {
        try await HubFixture.withHub { hub in
            let (old, new) = try await Self.converge(hub: hub, first: 1...1, second: SyncProtocol.supported)
            #expect(old == 1)
            #expect(new == 2)
        }
    }

    @Test("new clients converge through a hub that answers protocol 1 only")
    func newClientOldHub() async throws {
        try await HubFixture.withHub(configure: Self.oldHub) { hub in
            let (first, second) = try await Self.converge(hub: hub, first: SyncProtocol.supported, second: SyncProtocol.supported)
            #expect(first == 1)
            #expect(second == 1)
        }
    }

    @Test("a no-op sync stays one small round trip in protocol 2 (both protocols' bytes printed)")
    func noOpCost() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                var costs: [Int: Int] = [:]
                for (replica, protocols) in zip(replicas, [1...1, SyncProtocol.supported]) {
                    let transport = Self.transport(hub, token: try await hub.enroll(replica), protocols: protocols)
                    _ = try await Self.sync(replica, hub, transport)
                    let quiet = try await Self.sync(replica, hub, transport)
                    #expect(quiet.isQuiet)
                    #expect(quiet.roundTrips == 1)
                    costs[protocols.upperBound] = quiet.bytesSent + quiet.bytesReceived
                }
                print("no-op sync: protocol 1 \(costs[1] ?? 0) B, protocol 2 \(costs[2] ?? 0) B (request and answer, headers included)")
                #expect((costs[2] ?? .max) < 1_024)
            }
        }
    }

    /// Pulled and pushed versions keep the receipts a revision 2 answer carries apart: the hub
    /// vouches for every one of them (a restored hub admits them again, Protocol.md).
    static func receiptsKept(_ a: ReplicaStore, _ b: ReplicaStore, hub: HubFixture) throws {
        let key = hub.exchange.storage.receiptKey
        for replica in [a, b] {
            let held = try replica.versions(missingFrom: VersionVector(), limit: 1_000, maxBytes: .max).versions
            #expect(held.count == 81)
            #expect(held.allSatisfy(key.vouches(for:)), "\(held.filter { !key.vouches(for: $0) }.count) without a receipt")
        }
    }

    @Test("a client on revision 2 and an old client (protocol 1 only) converge through a new hub, receipts kept")
    func revision2ClientOldClient() async throws {
        try await HubFixture.withHub { hub in
            let (new, old) = try await Self.converge(
                hub: hub, first: SyncProtocol.supported, second: 1...1, pinned: (true, false),
                check: { try Self.receiptsKept($0, $1, hub: hub) })
            #expect(new == 2)
            #expect(old == 1)
        }
    }

    @Test("clients offering revision 2 converge through a hub that answers revision 1 only, and with a protocol 2 client before it")
    func revision2ClientOldAnswer() async throws {
        try await HubFixture.withHub(configure: { $0.maxAnswerRevision = 1 }) { hub in
            let (first, second) = try await Self.converge(
                hub: hub, first: SyncProtocol.supported, second: SyncProtocol.supported, pinned: (true, true),
                check: { try Self.receiptsKept($0, $1, hub: hub) })
            #expect(first == 2)
            #expect(second == 2)
        }
        try await HubFixture.withHub { hub in
            let (first, second) = try await Self.converge(
                hub: hub, first: SyncProtocol.supported, second: SyncProtocol.supported, pinned: (true, false),
                check: { try Self.receiptsKept($0, $1, hub: hub) })
            #expect(first == 2)
            #expect(second == 2)
        }
    }

    @Test("two new clients speak protocol 2 and converge")
    func newClientsNewHub() async throws {
        try await HubFixture.withHub { hub in
            let (first, second) = try await Self.converge(hub: hub, first: SyncProtocol.supported, second: SyncProtocol.supported)
            #expect(first == 2)
            #expect(second == 2)
        }
    }
}
