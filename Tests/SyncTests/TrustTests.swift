import Foundation
import HTTPTypes
import HubStore
import HubStoreSQLite
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Enrollment, per-device credentials, revocation and signatures checked end to end.
@Suite("Trust", .serialized)
struct TrustTests {
    static let notes = CollectionName("notes")!

    // MARK: Helpers

    /// A hub replica in `folder` (with signature checks on) and its exchange.
    static func hub(in folder: TemporaryReplica) throws -> HubExchange {
        HubExchange(storage: try SQLiteHubStorage(store: try folder.create("hub")), configuration: HubConfiguration(), logger: silentLogger)
    }

    /// Enrolls `replica` at `hub` (operator's code, then the device's request); returns the credential.
    @discardableResult
    static func enroll(_ replica: ReplicaStore, at hub: HubExchange) async throws -> String {
        let store = try #require((hub.storage as? SQLiteHubStorage)?.store)
        let code = try await DeviceAdministration(store: store).addDevice(name: "device-\(replica.replicaID.short)", lifetime: .seconds(600)).code
        return try await hub.enroll(
            try replica.enrollmentRequest(code: code), logger: silentLogger
        ).credential
    }

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, _ json: String = #"{"title":"report"}"#) throws -> Version {
        try store.write(WriteIntent(key: DocumentKey(collection: notes, id: DocumentID(id)!), body: Data(json.utf8)))
    }

    static func push(_ store: ReplicaStore, _ versions: [Version], to hub: HubExchange) async throws -> SyncResponse {
        try await hub.handle(SyncRequest(replica: store.replicaID, counter: try store.counter(), checkpoint: nil, push: versions))
    }

    static func missing(_ store: ReplicaStore) throws -> [Version] {
        try store.versions(missingFrom: VersionVector(), limit: 10_000, maxBytes: .max).versions
    }

    static func post(
        _ client: TestClient, _ path: String, _ body: some Encodable, token: String? = nil
    ) async throws -> TestClient.Response {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let token { headers[.authorization] = "Bearer \(token)" }
        return try await client.execute(
            TestClient.Request(
                path, method: .post, authority: "127.0.0.1", headers: headers,
                body: ByteBuffer(bytes: try JSONEncoder().encode(body))))
    }

    static func problemType(_ response: TestClient.Response) throws -> String? {
        #expect(response.headers[.contentType] == "application/problem+json")
        let body = try #require(response.body)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        return object?["type"] as? String
    }

    static func withHubAndClient(_ body: @escaping @Sendable (HubFixture, TestClient) async throws -> Void) async throws {
        try await HubFixture.withHub { hub in
            try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))) { client in
                try await body(hub, client)
            }
        }
    }

    // MARK: Enrollment

    @Test("a device enrolls with a code, keeps the credential with the hub's URL (0600), and syncs with no flags")
    func enrollmentHappyPath() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                try Self.write(store, "first")
                let code = try await hub.enrollmentCode(name: "amina-laptop")
                let answer = try await DeviceEnrollment.enroll(store, hub: hub.url, code: code.lowercased())
                #expect(answer.name == "amina-laptop")
                #expect(answer.hub == hub.exchange.hubID)
                let path = HubCredentials.credentialPath(forReplicaAt: store.path)
                let attributes = try FileManager.default.attributesOfItem(atPath: path)
                #expect((attributes[.posixPermissions] as? Int) == 0o600)

                let credentials = try HubCredentials.resolve(hub: nil, token: nil, store: store, environment: [:])
                #expect(credentials.url.absoluteString == hub.url.absoluteString)
                #expect(credentials.token == answer.credential)
                let summary = try await Synchronizer(
                    store: store, transport: HTTPSyncTransport(configuration: .init(hub: credentials.url, token: credentials.token)),
                    peer: credentials.peerName, configuration: .init(retry: .never), logger: silentLogger
                ).run()
                #expect(summary.versionsPushed == 1)

                let device = try #require(try hub.store.devices().first { $0.replicaID == store.replicaID })
                #expect(device.name == "amina-laptop" && device.status == .active)
                #expect(device.publicKey == store.publicKey, "the code bound the device's public key")
                #expect(device.lastSeenAt != nil && device.lastLag != nil && device.lastSkewMilliseconds != nil)
                #expect(abs(device.lastSkewMilliseconds ?? .max) < 60_000)
                // The hub keeps no credential in clear.
                let stored = try Data(contentsOf: URL(fileURLWithPath: hub.configuration.databasePath))
                #expect(stored.range(of: Data(answer.credential.utf8)) == nil)
            }
        }
    }

    @Test("an expired code is 410 enrollment-expired, a used one 409 enrollment-used, an unknown one 404 enrollment-unknown")
    func enrollmentCodeFailures() async throws {
        try await Self.withHubAndClient { hub, client in
            let key = DeviceKey()
            // Expired: a code that lapsed a minute ago.
            let expired = EnrollmentCode.random()
            _ = try hub.store.addEnrollmentCode(
                hash: try #require(EnrollmentCode.hash(expired)), deviceName: "late", expiresAt: hub.store.now() - 60_000)
            let lapsed = try await Self.post(client, "/v1/enroll", try EnrollmentRequest(code: expired, replica: .random(), key: key))
            #expect(lapsed.status == .gone)
            #expect(try Self.problemType(lapsed) == "enrollment-expired")

            // Used: the second device presenting a code is refused.
            let code = try await hub.enrollmentCode(name: "once")
            let first = try await Self.post(client, "/v1/enroll", try EnrollmentRequest(code: code, replica: .random(), key: key))
            #expect(first.status == .ok)
            let second = try await Self.post(client, "/v1/enroll", try EnrollmentRequest(code: code, replica: .random(), key: key))
            #expect(second.status == .conflict)
            #expect(try Self.problemType(second) == "enrollment-used")

            // Unknown.
            let unknown = try await Self.post(
                client, "/v1/enroll", try EnrollmentRequest(code: EnrollmentCode.random(), replica: .random(), key: key))
            #expect(unknown.status == .notFound)
            #expect(try Self.problemType(unknown) == "enrollment-unknown")

            // The client says each in one sentence, as a refusal.
            try await TemporaryReplica.withReplica { store in
                let error = await #expect(throws: SyncClientError.self) {
                    try await DeviceEnrollment.enroll(store, hub: hub.url, code: code)
                }
                #expect(error?.code == .enrollmentRefused)
                #expect(error?.message.contains("already used") == true)
                #expect(!FileManager.default.fileExists(atPath: HubCredentials.credentialPath(forReplicaAt: store.path)))
            }
        }
    }

    @Test("an enrollment whose proof is not by the key it enrolls is 403 enrollment-proof, and the code stays usable")
    func enrollmentNeedsProofOfTheKey() async throws {
        try await Self.withHubAndClient { hub, client in
            let code = try hub.store.addEnrollmentCode(
                hash: try #require(EnrollmentCode.hash("ABCD-EFGH-JKMN-PQRS")), deviceName: "proof", expiresAt: hub.store.now() + 60_000)
            #expect(code)
            let (holder, claimed) = (DeviceKey(), DeviceKey())
            let replica = ReplicaID.random()
            // Signed by another key than the one it claims.
            let signedByHolder = try EnrollmentRequest(code: "ABCD-EFGH-JKMN-PQRS", replica: replica, key: holder)
            let forged = EnrollmentRequest(
                code: signedByHolder.code, replica: replica, publicKey: claimed.publicKey, proof: signedByHolder.proof)
            // A proof made for another code.
            let otherCode = try EnrollmentRequest(code: "ZZZZ-ZZZZ-ZZZZ-ZZZZ", replica: replica, key: holder)
            let replayed = EnrollmentRequest(
                code: "ABCD-EFGH-JKMN-PQRS", replica: replica, publicKey: holder.publicKey, proof: otherCode.proof)
            for request in [forged, replayed] {
                let refused = try await Self.post(client, "/v1/enroll", request)
                #expect(refused.status == .forbidden)
                #expect(try Self.problemType(refused) == "enrollment-proof")
            }
            // The code was not used up: the real holder enrolls with it (dashes and case do not matter).
            let real = try await Self.post(
                client, "/v1/enroll", try EnrollmentRequest(code: "abcd efgh jkmn pqrs", replica: replica, key: holder))
            #expect(real.status == .ok)
        }
    }

    @Test("enrollments above the hub's limit per minute get 429 with Retry-After")
    func enrollmentsAreRateLimited() async throws {
        try await HubFixture.withHub(configure: { $0.limits.enrollmentsPerMinute = 2 }) { hub in
            try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))) { client in
                var statuses: [HTTPResponse.Status] = []
                for _ in 0..<3 {
                    let request = try EnrollmentRequest(code: EnrollmentCode.random(), replica: .random(), key: DeviceKey())
                    statuses.append(try await Self.post(client, "/v1/enroll", request).status)
                }
                #expect(statuses == [.notFound, .notFound, .tooManyRequests])
                let limited = try await Self.post(
                    client, "/v1/enroll", try EnrollmentRequest(code: EnrollmentCode.random(), replica: .random(), key: DeviceKey()))
                #expect(limited.headers[.retryAfter] != nil)
                #expect(try Self.problemType(limited) == "too-many-requests")
            }
        }
    }

    // MARK: Credentials

    @Test("a request speaking for another replica than its credential's is 403")
    func credentialBoundToItsReplica() async throws {
        try await Self.withHubAndClient { hub, client in
            // An id no device holds: the device may bind it (a hub restored from a backup forgot it).
            let other = SyncRequest(replica: .random(), counter: 0, checkpoint: nil, push: [])
            let response = try await Self.post(client, "/v1/sync", other, token: hub.token)
            #expect(response.status == .forbidden)
            #expect(try Self.problemType(response) == "unknown-incarnation")
            // The hub's own id is not this device's.
            let hubs = SyncRequest(replica: hub.exchange.hubID, counter: 0, checkpoint: nil, push: [])
            let refused = try await Self.post(client, "/v1/sync", hubs, token: hub.token)
            #expect(refused.status == .forbidden)
            let own = SyncRequest(replica: hub.deviceID, counter: 0, checkpoint: nil, push: [])
            #expect(try await Self.post(client, "/v1/sync", own, token: hub.token).status == .ok)
        }
    }

    @Test("a revoked device gets 403 device-revoked; fieldcli sync exits 77 and the replica is unchanged")
    func revokedDevice() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let token = try await hub.enroll(store, save: true)
                try Self.write(store, "before-revocation")
                let sync = Synchronizer(
                    store: store, transport: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 30)),
                    peer: HubCredentials.peerName(for: hub.url), configuration: .init(retry: .never), logger: silentLogger)
                #expect(try await sync.run().versionsPushed == 1)

                let revoked = try await DeviceAdministration(store: hub.store).revoke(store.replicaID.hex)
                #expect(revoked.status == .revoked)
                try Self.write(store, "after-revocation")
                let before = try store.status()
                let error = await #expect(throws: SyncClientError.self) { try await sync.run() }
                #expect(error?.code == .revoked)
                #expect(error?.httpStatus == 403)
                #expect(error?.message == "This device was revoked by the hub at \(HubCredentials.peerName(for: hub.url)); local data is kept.")
                #expect(error?.isDeviceRefused == true && error?.isTransient == false)

                #expect(await ClientCommandTests.exitCode(["--db", store.path]) == 77)
                #expect(try store.status() == before, "nothing local is lost or changed")
                #expect(try store.status().versions == 2)
            }
        }
    }

    @Test("the daemon stops at a revoked credential instead of retrying, keeping local data")
    func daemonStopsWhenRevoked() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { store in
                let token = try await hub.enroll(store)
                _ = try await DeviceAdministration(store: hub.store).revoke(store.replicaID.hex)
                try Self.write(store, "kept")
                let daemon = SyncDaemon(
                    synchronizer: Synchronizer(
                        store: store, transport: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 30)),
                        peer: HubCredentials.peerName(for: hub.url), configuration: .init(retry: .never), logger: silentLogger),
                    logger: silentLogger)
                let started = ContinuousClock.now
                let error = await #expect(throws: SyncClientError.self) { try await daemon.run() }
                #expect(error?.code == .revoked)
                #expect(ContinuousClock.now - started < .seconds(10), "no retry loop")
                #expect(try store.status().versions == 1)
            }
        }
    }

    // MARK: Signatures at the hub

    @Test("the hub quarantines a forged origin without taking its dot, and a bad own signature")
    func forgedAndBadSignaturesAreQuarantined() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        try await Self.enroll(a, at: hub)
        try await Self.enroll(b, at: hub)

        // A pushes a version claiming to be B's first, signed with another key.
        let forged = try DeviceKey().sign(
            Version(
                dot: Dot(replica: b.replicaID, counter: 1), collection: Self.notes, documentID: DocumentID("forged")!,
                partition: .default, context: VersionVector(), body: Data(#"{"title":"forged"}"#.utf8),
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000, logical: 0)))
        let answer = try await Self.push(a, [forged], to: hub)
        #expect(answer.rejected.map(\.dot) == [forged.dot])
        #expect(answer.rejected.first?.reason == .badSignature)
        #expect(answer.rejected.first?.quarantined == true)
        let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
        #expect(try hubStore.foreignQuarantineCount() == 1)
        #expect(try hubStore.knowledge()[b.replicaID] == 0, "the forged version does not take B's dot")

        // B's real first version is then taken, with no fork.
        try Self.write(b, "real")
        let real = try await Self.push(b, Self.missing(b), to: hub)
        #expect(real.accepted == 1 && real.rejected.isEmpty)

        // A version of A's own whose body was altered after signing.
        var altered = try Self.write(a, "altered")
        altered.body = Data(#"{"title":"changed after signing"}"#.utf8)
        let bad = try await Self.push(a, [altered], to: hub)
        #expect(bad.rejected.map(\.reason) == [.badSignature])
        #expect(bad.rejected.first?.message.contains("does not verify") == true)

        // An origin no device is enrolled as.
        let stranger = try folder.create("stranger")
        let strangers = try Self.write(stranger, "unknown")
        let unknown = try await Self.push(a, [strangers], to: hub)
        #expect(unknown.rejected.map(\.reason) == [.badSignature])
        #expect(unknown.rejected.first?.message.contains("unknown origin") == true)
        #expect(try hubStore.status().versions == 2, "B's real version, and A's altered one in quarantine")
    }

    @Test("a relayed version with its origin's valid signature is accepted")
    func relayedVersionIsAccepted() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        try await Self.enroll(a, at: hub)
        try await Self.enroll(b, at: hub)
        let bs = try Self.write(b, "from-b")
        try a.apply([bs], from: b.replicaID)
        try Self.write(a, "from-a")
        let answer = try await Self.push(a, Self.missing(a), to: hub)
        #expect(answer.rejected.isEmpty)
        #expect(answer.accepted == 2)
        #expect(answer.knowledge[b.replicaID] == 1)
    }

    // MARK: Key directory and client verification

    @Test("the pull carries the origins' keys; the puller saves them and its versions verify")
    func keyDirectoryDelivered() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (writer, reader) = (replicas[0], replicas[1])
                for index in 0..<3 { try Self.write(writer, "doc-\(index)") }
                let writerToken = try await hub.enroll(writer)
                let readerToken = try await hub.enroll(reader)
                func synchronizer(_ store: ReplicaStore, _ token: String) -> Synchronizer {
                    Synchronizer(
                        store: store, transport: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token)),
                        peer: HubCredentials.peerName(for: hub.url), configuration: .init(retry: .never), logger: silentLogger)
                }
                try await synchronizer(writer, writerToken).run()
                #expect(try reader.publicKeys()[writer.replicaID] == nil)
                let pulled = try await synchronizer(reader, readerToken).run()
                #expect(pulled.versionsPulled == 3)
                #expect(pulled.unverified == 0)
                #expect(try reader.publicKeys()[writer.replicaID] == writer.publicKey)
                for stored in try reader.history(of: DocumentKey(collection: Self.notes, id: DocumentID("doc-0")!)) {
                    #expect(try reader.signatureStatus(of: stored.version) == .valid)
                }
                // A no-op exchange carries no keys.
                let quiet = try await HubFixture.withoutKeys(hub, reader, token: readerToken)
                #expect(quiet)
            }
        }
    }

    @Test("a hub's key directory never replaces a key the replica holds")
    func directoryNeverReplacesAHeldKey() async throws {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try Self.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        try await Self.enroll(a, at: hub)
        try await Self.enroll(b, at: hub)
        try Self.write(a, "doc")
        _ = try await Self.push(a, Self.missing(a), to: hub)
        let impostor = DeviceKey().publicKey
        try b.savePublicKeys([a.replicaID: a.publicKey])
        let transport = KeyRewritingTransport(hub: hub, replace: a.replicaID, with: impostor)
        let summary = try await Synchronizer(store: b, transport: transport, peer: "hub", logger: silentLogger).run()
        #expect(summary.versionsPulled == 1 && summary.unverified == 0)
        #expect(try b.publicKeys()[a.replicaID] == a.publicKey)
    }

    /// Runs `body` with a hub that does not check signatures (a compromised or misconfigured one)
    /// holding a forgery of A's first version and A's genuine second one, and a fresh reader.
    static func withForgeryAtHub(_ body: (HubExchange, Version, ReplicaStore) async throws -> Void) async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = HubExchange(
                storage: try SQLiteHubStorage(store: try folder.create("hub")), configuration: .withoutSignatureChecks,
                logger: silentLogger)
            let (a, reader) = (try folder.create("a"), try folder.create("reader"))
            try await Self.enroll(a, at: hub)
            var forged = try Self.write(a, "doc-1")
            forged.body = Data(#"{"title":"not what A wrote"}"#.utf8)
            _ = try await Self.push(a, [forged, try Self.write(a, "doc-2")], to: hub)
            try await body(hub, forged, reader)
        }
    }

    @Test("a pulled version that fails verification is kept apart, counted and reported, never shown")
    func pulledForgeryIsFlagged() async throws {
        try await Self.withForgeryAtHub { hub, forged, reader in
            let summary = try await Synchronizer(
                store: reader, transport: InProcessTransport(hub: hub), peer: "hub", logger: silentLogger
            ).run()
            #expect(summary.versionsPulled == 2)
            #expect(summary.unverified == 1)
            #expect(try reader.history(of: forged.key).isEmpty && reader.document(forged.key) == nil)
            let kept = try #require(try reader.unverifiedVersions(of: forged.key).first)
            #expect(kept.version == forged && kept.reason == .badSignature)
            // Reported to the hub before the sync ended, once: the hub's audit log names it.
            #expect(try reader.unreportedVerificationFailures(limit: 10).isEmpty)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let reports = try hubStore.auditEntries(after: 0, limit: 100).filter { $0.action == .verificationFailed }
            #expect(reports.map(\.subject) == [forged.dot.description])
            #expect(reports.first?.actor == reader.replicaID.hex)
            #expect(reports.first?.detail["reason"] == "bad-signature")
            try await Synchronizer(store: reader, transport: InProcessTransport(hub: hub), peer: "hub", logger: silentLogger).run()
            #expect(try hubStore.auditEntries(after: 0, limit: 100).count { $0.action == .verificationFailed } == 1)
        }
    }

    @Test("a page that fails verification is still checked when the link is cut before the next; the next sync reports it")
    func failuresSurviveACutLink() async throws {
        try await Self.withForgeryAtHub { hub, forged, reader in
            // One version a page; the link is cut before the second page, and stays cut (the
            // client asks for the second page while it checks the first, and again with the report).
            let cut = InProcessTransport(hub: hub, cuts: [.none, .beforeHub, .beforeHub])
            let configuration = Synchronizer.Configuration(pageLimits: PageLimits(versions: 1), retry: .never)
            await #expect(throws: SyncClientError.self) {
                try await Synchronizer(store: reader, transport: cut, peer: "hub", configuration: configuration, logger: silentLogger).run()
            }
            #expect(try reader.unreportedVerificationFailures(limit: 10).map(\.dot) == [forged.dot])
            try await Synchronizer(store: reader, transport: InProcessTransport(hub: hub), peer: "hub", logger: silentLogger).run()
            #expect(try reader.unreportedVerificationFailures(limit: 10).isEmpty)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            #expect(try hubStore.auditEntries(after: 0, limit: 100).filter { $0.action == .verificationFailed }.map(\.subject) == [forged.dot.description])
        }
    }
}

/// A transport to an in-process hub that replaces one key in the answers' key directories, as a
/// hostile hub would.
final class KeyRewritingTransport: SyncTransport {
    let hub: HubExchange
    let replace: ReplicaID
    let key: PublicDeviceKey

    init(hub: HubExchange, replace: ReplicaID, with key: PublicDeviceKey) {
        self.hub = hub
        self.replace = replace
        self.key = key
    }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        var response = try await hub.handle(request)
        if response.keys?.keys[replace] != nil { response.keys?.keys[replace] = key }
        return TransportReply(response: response, bytesSent: 0, bytesReceived: 0)
    }
}

extension HubFixture {
    /// Whether a no-op exchange of `store` answers without a key directory.
    static func withoutKeys(_ hub: HubFixture, _ store: ReplicaStore, token: String) async throws -> Bool {
        let base = try store.exchangeBase(peer: HubCredentials.peerName(for: hub.url))
        let request = SyncRequest(
            replica: store.replicaID, counter: try store.counter(), checkpoint: base.peer.checkpoint, push: [])
        let reply = try await HTTPSyncTransport(configuration: .init(hub: hub.url, token: token)).exchange(request)
        return reply.response.keys == nil && reply.response.versions.isEmpty
    }
}
