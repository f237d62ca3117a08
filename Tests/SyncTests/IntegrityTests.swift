import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// What a seized device or a compromised hub can no longer make other replicas believe: causal
/// plausibility, verify before showing, certified keys, revocation horizons (issue 10 §1–3).
@Suite("Integrity", .serialized)
struct IntegrityTests {
    static let notes = CollectionName("notes")!
    static let key = DocumentKey(collection: notes, id: DocumentID("shared")!)

    /// A hub with signature checks on, and replicas enrolled at it (each pins the hub's key).
    struct Network {
        let folder: TemporaryReplica
        let hub: HubExchange
        let hubStore: ReplicaStore
        /// The hub's registry, counting its reads (nil unless asked for).
        let counted: CountingDeviceRegistry?

        init(countingReads: Bool = false) throws {
            folder = try TemporaryReplica()
            hubStore = try folder.create("hub")
            counted = countingReads ? CountingDeviceRegistry(SQLiteDeviceRegistry(store: hubStore)) : nil
            hub = HubExchange(
                storage: try SQLiteHubStorage(store: hubStore), configuration: HubConfiguration(), devices: counted,
                logger: silentLogger)
        }

        /// A new replica enrolled at the hub under `name`.
        func device(_ name: String) async throws -> ReplicaStore {
            let store = try folder.create(name)
            let code = try await DeviceAdministration(store: hubStore).addDevice(name: name, grants: .everything, lifetime: .seconds(600)).code
            let answer = try await hub.enroll(try store.enrollmentRequest(code: code), logger: silentLogger)
            try store.pinHub(answer.hub, key: try #require(answer.hubKey))
            return store
        }

        /// A device enrolled with a bare key, as a captor holding a seized device's key would use it.
        func attacker(_ name: String) async throws -> (id: ReplicaID, key: DeviceKey) {
            let (id, key) = (ReplicaID.random(), DeviceKey())
            let code = try await DeviceAdministration(store: hubStore).addDevice(name: name, grants: .everything, lifetime: .seconds(600)).code
            _ = try await hub.enroll(try EnrollmentRequest(code: code, replica: id, key: key), logger: silentLogger)
            return (id, key)
        }

        @discardableResult
        func sync(_ store: ReplicaStore) async throws -> SyncSummary {
            try await Synchronizer(
                store: store, transport: InProcessTransport(hub: hub), peer: "hub", configuration: .init(retry: .never),
                logger: silentLogger
            ).run()
        }
    }

    static func write(_ store: ReplicaStore, _ json: String) throws -> Version {
        try store.write(WriteIntent(key: key, body: Data(json.utf8)))
    }

    static func body(_ store: ReplicaStore) throws -> String? {
        try store.document(key).flatMap { $0.siblings.first?.body }.map { String(decoding: $0, as: UTF8.self) }
    }

    // MARK: Causal plausibility

    /// Schedule: B writes a shared report and syncs; a captor with a seized device's key pushes one
    /// correctly signed version of it whose context claims Int64.max for every origin (the hub's
    /// included); B and C sync; B edits the report and syncs; C syncs. Before the fix the hub took
    /// the forgery, and every later version counted as already known: C kept showing the captor's text.
    @Test("a version claiming R: 2^63-1 is quarantined as implausible, and an honest edit still reaches every replica")
    func freezeAttackIsQuarantined() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (b, c) = (try await network.device("b"), try await network.device("c"))
        let captor = try await network.attacker("seized")
        _ = try Self.write(b, #"{"title":"first"}"#)
        try await network.sync(b)

        var claim = VersionVector()
        for origin in [b.replicaID, c.replicaID, network.hub.hubID, captor.id] { claim[origin] = Dot.maxCounter }
        claim[captor.id] = 0
        let forged = try captor.key.sign(
            Version(
                dot: Dot(replica: captor.id, counter: 1), collection: Self.notes, documentID: Self.key.id,
                partition: .default, context: claim, body: Data(#"{"title":"frozen"}"#.utf8),
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000, logical: 0)))
        let answer = try await network.hub.handle(SyncRequest(replica: captor.id, counter: 1, checkpoint: nil, push: [forged]))
        #expect(answer.rejected.map(\.reason) == [.implausibleContext])
        #expect(answer.rejected.first?.quarantined == true)
        let audit = try network.hubStore.auditEntries(after: 0, limit: 100).filter { $0.action == .quarantined }
        #expect(audit.map(\.subject) == [forged.dot.description], "the quarantine is audited")

        try await network.sync(b)
        try await network.sync(c)
        _ = try b.write(WriteIntent(key: Self.key, body: Data(#"{"title":"second"}"#.utf8)))
        try await network.sync(b)
        try await network.sync(c)
        #expect(try Self.body(c) == #"{"title":"second"}"#)
        #expect(try Self.body(b) == #"{"title":"second"}"#)
    }

    /// Schedule: a compromised hub serves a validly signed version whose context claims more of an
    /// origin than exists anywhere. The field replica sets it aside instead of letting it supersede.
    @Test("a field replica sets aside a pulled version whose context claims more than it holds plus the page")
    func replicaSetsAsideImplausiblePull() throws {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        let (a, reader) = (try folder.create("a"), try folder.create("reader"))
        let honest = try Self.write(a, #"{"title":"honest"}"#)
        try reader.apply([honest], from: a.replicaID)
        var lying = try Self.write(a, #"{"title":"claims too much"}"#)
        lying.context[ReplicaID.random()] = 50
        let report = try reader.apply([lying], from: a.replicaID)
        #expect(report.setAside[lying.dot]?.code == .implausibleContext)
        #expect(try Self.body(reader) == #"{"title":"honest"}"#)
    }

    @Test("the hub applies a push in causal order: a version comes after what its context names in the same push")
    func hubAppliesInCausalOrder() throws {
        let (early, late) = (ReplicaID("ff" + String(repeating: "0", count: 30))!, ReplicaID(String(repeating: "0", count: 32))!)
        func version(_ origin: ReplicaID, _ counter: UInt64, context: VersionVector) -> Version {
            Version(
                dot: Dot(replica: origin, counter: counter), collection: Self.notes, documentID: Self.key.id, partition: .default,
                context: context, body: Data("{}".utf8), timestamp: .zero)
        }
        // `late` sorts first by dot but depends on `early`'s second version.
        let pushed = [
            version(late, 1, context: [early: 2]), version(early, 1, context: [:]), version(early, 2, context: [early: 1]),
        ]
        #expect(CausalPlausibility.causalOrder(pushed).map(\.dot) == [pushed[1].dot, pushed[2].dot, pushed[0].dot])
    }

    // MARK: Verify before showing

    /// Schedule: a compromised hub (or an unpinned man in the middle) serves a forged report under
    /// an enrolled author. Before the fix it was applied first and checked afterwards, so the forgery
    /// was the document's visible state until someone ran `verify`.
    @Test("a pulled version whose signature fails is never shown: it is kept apart, counted and reported")
    func forgeryIsKeptApart() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, reader) = (try await network.device("a"), try await network.device("reader"))
        _ = try Self.write(a, #"{"title":"what A wrote"}"#)
        try await network.sync(a)
        let transport = TamperingTransport(hub: network.hub) { response in
            for index in response.versions.indices where response.versions[index].dot.replica == a.replicaID {
                response.versions[index].body = Data(#"{"title":"not what A wrote"}"#.utf8)
            }
        }
        let summary = try await Synchronizer(
            store: reader, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
        #expect(summary.unverified == 1)
        #expect(try reader.document(Self.key) == nil, "nothing of the forgery is visible")
        #expect(try reader.unverifiedVersions(of: Self.key).map(\.reason) == [.badSignature])
        let reports = try network.hubStore.auditEntries(after: 0, limit: 100).filter { $0.action == .verificationFailed }
        #expect(reports.map(\.actor) == [reader.replicaID.hex], "reported to the hub before the sync ended")
        // The genuine version, served honestly later, is applied: the forgery took no dot.
        try reader.updatePeer("hub") { $0.checkpoint = nil }
        try await network.sync(reader)
        #expect(try Self.body(reader) == #"{"title":"what A wrote"}"#)
    }

    /// Schedule: a man in the middle replaces an author's certificate with one for his own key,
    /// signed by a key of his own (he does not hold the hub's), and serves a version signed with it.
    @Test("a key without a certificate by the pinned hub key is not established, and its versions are kept apart")
    func uncertifiedKeyIsRefused() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, reader) = (try await network.device("a"), try await network.device("reader"))
        _ = try Self.write(a, #"{"title":"what A wrote"}"#)
        try await network.sync(a)
        let impostor = DeviceKey()
        let transport = TamperingTransport(hub: network.hub) { response in
            guard let hub = response.certificates?.first?.hub else { return }
            response.certificates = try response.certificates?.map { certificate in
                guard certificate.replica == a.replicaID else { return certificate }
                return try DeviceCertificate(
                    hub: hub, replica: a.replicaID, publicKey: impostor.publicKey, name: "a", issuedAt: 1, signedWith: impostor)
            }
            response.keys = nil
            for index in response.versions.indices where response.versions[index].dot.replica == a.replicaID {
                response.versions[index].body = Data(#"{"title":"impostor"}"#.utf8)
                response.versions[index] = try impostor.sign(response.versions[index])
            }
        }
        let summary = try await Synchronizer(
            store: reader, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
        #expect(summary.unverified == 1)
        #expect(try reader.publicKeys()[a.replicaID] == nil)
        #expect(try reader.document(Self.key) == nil)
        #expect(try reader.unverifiedVersions(of: Self.key).map(\.reason) == [.unknownKey])
    }

    @Test("a certificate that changes a held key is refused, even when the pinned hub signed it; one by another key is refused too")
    func keyChangeIsRefused() throws {
        let (hub, hubKey, other) = (ReplicaID.random(), DeviceKey(), DeviceKey())
        let (author, held, newcomer) = (ReplicaID.random(), DeviceKey().publicKey, ReplicaID.random())
        func certificate(_ replica: ReplicaID, _ key: PublicDeviceKey, by signer: DeviceKey) throws -> DeviceCertificate {
            try DeviceCertificate(hub: hub, replica: replica, publicKey: key, name: "device", issuedAt: 1, signedWith: signer)
        }
        let changed = try certificate(author, DeviceKey().publicKey, by: hubKey)
        let forged = try certificate(newcomer, DeviceKey().publicKey, by: other)
        let genuine = try certificate(newcomer, DeviceKey().publicKey, by: hubKey)
        let trust = try PageTrust(
            anchors: .init(hubs: [hub: hubKey.publicKey], keys: [author: held], revocations: [:]),
            hub: hub, certificates: [changed, forged, genuine], revocations: [])
        #expect(trust.refusedCertificates == [changed, forged])
        #expect(trust.newCertificates == [genuine])
        #expect(trust.keys[author] == held)
        #expect(trust.keys[hub] == hubKey.publicKey)
    }

    @Test("an answer from a hub this replica did not pin is refused and changes nothing")
    func unknownHubIsRefused() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let reader = try await network.device("reader")
        let other = try Network()
        defer { other.folder.remove() }
        let writer = try await other.device("writer")
        _ = try Self.write(writer, #"{"title":"elsewhere"}"#)
        try await other.sync(writer)
        let error = await #expect(throws: SyncClientError.self) {
            try await Synchronizer(
                store: reader, transport: InProcessTransport(hub: other.hub), peer: "hub", configuration: .init(retry: .never),
                logger: silentLogger
            ).run()
        }
        #expect(error?.code == .untrustedHub)
        #expect(try reader.document(Self.key) == nil)
    }

    // MARK: Hostile answers about this replica itself

    /// Schedule: a compromised hub answers a device's push with `knowledge` claiming Int64.max of
    /// the device's own id. Before the fix the device raised its counter to 2^63-1 (its next write
    /// failed for ever) and believed the hub held every later version of its own (it never pushed).
    @Test("a hub claiming 2^63-1 of this replica's own id raises neither its counter nor its belief")
    func ownKnowledgeClaimNeedsProof() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let device = try await network.device("device")
        _ = try Self.write(device, #"{"title":"first"}"#)
        let me = device.replicaID
        let transport = TamperingTransport(hub: network.hub) { response in response.knowledge[me] = Dot.maxCounter }
        try await Synchronizer(
            store: device, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
        #expect(try device.counter() == 1)
        _ = try device.write(WriteIntent(key: Self.key, body: Data(#"{"title":"second"}"#.utf8)))
        try await network.sync(device)
        #expect(try network.hubStore.history(of: Self.key).count == 2, "the second version was still pushed")
    }

    /// Schedule: a compromised hub reports that a device forked at its first dot, without the
    /// conflicting version. Before the fix the device took a new incarnation at once, re-issuing its
    /// versions under a new id, on the hub's word alone.
    @Test("a fork reported without a version signed by this replica's key is refused and changes nothing")
    func forkNeedsProof() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let device = try await network.device("device")
        let written = try Self.write(device, #"{"title":"first"}"#)
        let transport = TamperingTransport(hub: network.hub) { response in
            response.rejected = [
                Rejection(dot: written.dot, reason: .fork, message: "The hub already holds it with another signature.", quarantined: false)
            ]
        }
        let error = await #expect(throws: SyncClientError.self) {
            try await Synchronizer(
                store: device, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
            ).run()
        }
        #expect(error?.code == .untrustedHub)
        #expect(try device.currentReplicaID() == device.replicaID)
    }

    // MARK: Revocation

    /// Schedule: device S syncs two reports, is seized and revoked; the captor writes a third with
    /// S's key and has another device relay it. Before the fix the hub took it (a revoked key only
    /// stopped S's own credential). A field replica also refuses what a hub serves above the horizon.
    @Test("after revocation, versions of the revoked origin above its horizon are refused at the hub and on every replica")
    func revocationHorizonHolds() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let seized = try await network.device("seized")
        let (relay, reader) = (try await network.device("relay"), try await network.device("reader"))
        _ = try Self.write(seized, #"{"title":"before"}"#)
        try await network.sync(seized)
        _ = try await DeviceAdministration(store: network.hubStore).revoke("seized")
        let injected = try seized.write(WriteIntent(key: Self.key, body: Data(#"{"title":"injected"}"#.utf8)))
        let answer = try await network.hub.handle(
            SyncRequest(replica: relay.replicaID, counter: 0, checkpoint: nil, push: [injected]))
        #expect(answer.rejected.map(\.reason) == [.revoked])
        #expect(try network.hubStore.history(of: Self.key).map(\.version.dot) == [Dot(replica: seized.replicaID, counter: 1)])

        // A hub that serves it anyway (compromised after the revocation it signed) is not believed.
        let transport = TamperingTransport(hub: network.hub) { response in
            if !response.versions.isEmpty { response.versions.append(injected) }
        }
        let summary = try await Synchronizer(
            store: reader, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
        #expect(summary.unverified == 1)
        #expect(try reader.revocationHorizons()[seized.replicaID] == 1)
        #expect(try Self.body(reader) == #"{"title":"before"}"#)
        #expect(try reader.unverifiedVersions(of: Self.key).map(\.reason) == [.revoked])
    }

    /// Schedule: a seized device is revoked; a reader pulls three times, another device writing
    /// between pulls, and a second device is revoked before the third. Before the change every
    /// page carried every notice the hub ever signed (about 100 bytes each, gzipped, for ever);
    /// now a page carries them only while the reader's horizons differ from the hub's.
    @Test("an answer leaves out the revocation notices its client already holds")
    func heldRevocationsAreNotSentAgain() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (seized, spare) = (try await network.device("seized"), try await network.device("spare"))
        let (writer, reader) = (try await network.device("writer"), try await network.device("reader"))
        _ = try Self.write(seized, #"{"title":"before"}"#)
        try await network.sync(seized)
        let administration = DeviceAdministration(store: network.hubStore)
        _ = try await administration.revoke("seized")
        let pages = Mutex<[Int]>([])
        let transport = TamperingTransport(hub: network.hub) { response in
            if !response.versions.isEmpty { pages.withLock { $0.append(response.revocations?.count ?? 0) } }
        }
        let pull = { () async throws in
            _ = try await Synchronizer(
                store: reader, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
            ).run()
        }
        try await pull()
        _ = try writer.write(WriteIntent(key: DocumentKey(collection: Self.notes, id: DocumentID("second")!), body: Data("{}".utf8)))
        try await network.sync(writer)
        try await pull()
        _ = try await administration.revoke("spare")
        _ = try writer.write(WriteIntent(key: DocumentKey(collection: Self.notes, id: DocumentID("third")!), body: Data("{}".utf8)))
        try await network.sync(writer)
        try await pull()
        #expect(pages.withLock { $0 } == [1, 0, 2])
        #expect(try reader.revocationHorizons() == [seized.replicaID: 1, spare.replicaID: 0])

        // A client that says nothing of what it holds (an older one) gets every notice.
        let older = try await network.hub.handle(SyncRequest(replica: writer.replicaID, counter: 0, checkpoint: nil, push: []))
        #expect(older.revocations?.count == 2)
    }

    /// Schedule: a device writes and syncs, is revoked; a writer pushes a note and pulls the first
    /// device's in one exchange. Before, that exchange read every revocation's horizon twice (for
    /// the push's checks, then for the answer's notices): one round trip to PostgreSQL more for
    /// every exchange that pushes and pulls.
    @Test("an exchange that pushes and pulls reads the revocation horizons once, and still carries the notice")
    func anExchangeReadsTheHorizonsOnce() async throws {
        let network = try Network(countingReads: true)
        defer { network.folder.remove() }
        let counted = try #require(network.counted)
        let (seized, writer) = (try await network.device("seized"), try await network.device("writer"))
        _ = try Self.write(seized, #"{"title":"before"}"#)
        try await network.sync(seized)
        _ = try await DeviceAdministration(store: network.hubStore).revoke("seized")
        let note = try Self.write(writer, #"{"title":"a note"}"#)

        let before = counted.revocationHorizonReads
        let answer = try await network.hub.handle(
            SyncRequest(replica: writer.replicaID, counter: 1, checkpoint: nil, push: [note]))
        #expect(counted.revocationHorizonReads - before == 1)
        #expect(answer.accepted == 1)
        #expect(answer.versions.map(\.dot.replica).contains(seized.replicaID))
        #expect(answer.revocations?.map(\.replica) == [seized.replicaID])
    }

    /// Schedule (found by review): a compromised hub answers a reader's push with a rejection
    /// naming a version the reader pulled earlier (another author's, verified). Before, the reader
    /// set that version aside: the document lost it for good, since only dots a replica pushes
    /// are ever taken back. A hub rejects only what it was pushed; the rest is ignored.
    @Test("a rejection of a version the device did not push sets nothing aside")
    func rejectionsOfWhatWasNotPushedAreIgnored() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (writer, reader) = (try await network.device("writer"), try await network.device("reader"))
        let written = try Self.write(writer, #"{"title":"seen"}"#)
        try await network.sync(writer)
        try await network.sync(reader)
        #expect(try Self.body(reader) == #"{"title":"seen"}"#)
        _ = try reader.write(WriteIntent(key: DocumentKey(collection: Self.notes, id: DocumentID("own")!), body: Data("{}".utf8)))
        let transport = TamperingTransport(hub: network.hub) { response in
            response.rejected.append(Rejection(dot: written.dot, reason: .outOfScope, message: "", quarantined: true))
        }
        _ = try await Synchronizer(
            store: reader, transport: transport, peer: "hub", configuration: .init(retry: .never), logger: silentLogger
        ).run()
        #expect(try Self.body(reader) == #"{"title":"seen"}"#)
    }

    /// Schedule: an operator gives out two codes for one device name, the device enrolls with the
    /// first and is revoked; before the fix the second code still enrolled a new key under that name.
    @Test("revoking a device cancels the unused codes given out for its name")
    func revocationCancelsCodes() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let administration = DeviceAdministration(store: network.hubStore)
        let first = try await administration.addDevice(name: "laptop", grants: .everything, lifetime: .seconds(600)).code
        let second = try await administration.addDevice(name: "laptop", grants: .everything, lifetime: .seconds(600)).code
        let device = try network.folder.create("laptop")
        _ = try await network.hub.enroll(try device.enrollmentRequest(code: first), logger: silentLogger)
        _ = try await administration.revoke("laptop")
        let captor = try network.folder.create("captor")
        await #expect(throws: SyncHubError.self) {
            _ = try await network.hub.enroll(try captor.enrollmentRequest(code: second), logger: silentLogger)
        }
    }
}

/// A transport to an in-process hub that alters its answers, as a compromised hub or a man in the
/// middle would.
final class TamperingTransport: SyncTransport {
    let hub: HubExchange
    let alter: @Sendable (inout SyncResponse) throws -> Void

    init(hub: HubExchange, alter: @escaping @Sendable (inout SyncResponse) throws -> Void) {
        self.hub = hub
        self.alter = alter
    }

    func exchange(_ request: SyncRequest) async throws -> TransportReply {
        var response = try await hub.handle(request)
        try alter(&response)
        let bytes = try JSONEncoder().encode(response)
        return TransportReply(response: try JSONDecoder().decode(SyncResponse.self, from: bytes), bytesSent: 0, bytesReceived: bytes.count)
    }
}
