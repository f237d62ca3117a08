import Foundation
import HubStore
import HubStoreSQLite
import HubStorePostgres
import PostgresNIO
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// Which of the hub's counters an exchange's knowledge delta gives a device with a read scope: of
/// the origins it assumes, only those whose certificates it may be given (the hub's ids, its own,
/// authors of a version within its scope: ``HubExchange/certifiable(_:to:)``, CertificateScopeTests)
/// and those it pushes; of the origins a pulled context names, the others only up to the claim.
@Suite("Assumed knowledge within the read scope", .serialized)
struct AssumedKnowledgeScopeTests {
    enum Backend: String, Sendable, CustomTestStringConvertible {
        case sqlite
        case postgres

        static var enabled: [Backend] { PostgresServer.isEnabled ? [.sqlite, .postgres] : [.sqlite] }

        var testDescription: String { rawValue }
    }

    /// An enrolled device, by id, key and the record its credential names.
    struct Observer: Sendable {
        let id: ReplicaID
        let key: DeviceKey
        let record: DeviceRecord

        /// Its note `counter` in `partition`, each a document of its own, signed.
        func note(_ counter: UInt64, _ partition: String, context: VersionVector = VersionVector()) throws -> Version {
            try key.sign(
                Version(
                    dot: Dot(replica: id, counter: counter), collection: try #require(CollectionName("notes")),
                    documentID: try #require(DocumentID("note-\(id.short)-\(counter)")),
                    partition: try #require(Partition(partition)), context: context,
                    body: Data(#"{"title":"from \#(partition)"}"#.utf8),
                    timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + counter)))
        }
    }

    /// A hub's exchange on one backend, driven as its route drives it: with the device the
    /// request's credential belongs to.
    struct Hub: Sendable {
        let exchange: HubExchange
        let administration: any DeviceAdministrationStorage

        /// Runs `body` with a fresh hub on `backend` (PostgreSQL: a schema of its own, dropped after).
        static func with(_ backend: Backend, _ body: (Hub) async throws -> Void) async throws {
            let logger = HubFixture.silentLogger
            switch backend {
            case .sqlite:
                let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-assumed-\(UUID().uuidString)")
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                defer { try? FileManager.default.removeItem(at: folder) }
                let exchange = try HubExchange.sqlite(path: folder.appendingPathComponent("hub.sqlite").path, logger: logger)
                try await body(Hub(exchange: exchange, administration: try #require(exchange.backend.administration)))
            case .postgres:
                let address = try #require(PostgresServer.address, "VIGIL_REQUIRE_POSTGRES=1 but VIGIL_TEST_POSTGRES is unset")
                let client = PostgresClient(configuration: try PostgresClient.Configuration(address: address), backgroundLogger: logger)
                let schema = "vigil_assumed_" + String(UInt64.random(in: .min ... .max), radix: 16)
                defer { PostgresServer.removeHubKeyFile(for: schema) }
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { await client.run() }
                    defer { group.cancelAll() }
                    var failure: (any Error)?
                    do {
                        try await PostgresHub.reachable(client, within: .seconds(30), logger: logger)
                        let hub = try await PostgresHub.open(
                            client: client, schema: schema, keyFile: try PostgresServer.hubKeyFile(for: schema), logger: logger)
                        let exchange = HubExchange(backend: try hub.backend(), configuration: HubConfiguration(), logger: logger)
                        try await body(Hub(exchange: exchange, administration: hub.administration))
                    } catch {
                        failure = error
                    }
                    _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
                    if let failure { throw failure }
                }
            }
        }

        /// Enrolls a device called `name` with a code for `read` and `write`.
        func enroll(_ name: String, read: String, write: String) async throws -> Observer {
            let code = EnrollmentCode.random()
            let grants = AccessGrants(read: try #require(Scope(text: read)), write: try #require(Scope(text: write)))
            #expect(
                try await administration.addEnrollmentCode(
                    hash: try #require(EnrollmentCode.hash(code)), deviceName: name, grants: grants,
                    expiresAt: try await administration.now() + 3_600_000, actor: "test"))
            let (id, key) = (ReplicaID.random(), DeviceKey())
            let enrolled = try await exchange.enroll(
                try EnrollmentRequest(code: code, replica: id, key: key), logger: HubFixture.silentLogger)
            let credential = try #require(DeviceCredential(enrolled.credential))
            return Observer(id: id, key: key, record: try #require(try await exchange.devices.device(presenting: credential)))
        }

        /// One exchange of `observer`, as its credential sends it.
        func exchange(
            _ observer: Observer, counter: UInt64 = 0, push: [Version] = [], checkpoint: String? = nil,
            assumed: VersionVector? = nil
        ) async throws -> SyncResponse {
            try await exchange.handle(
                SyncRequest(
                    replica: observer.id, counter: counter, checkpoint: checkpoint, push: push, assumedKnowledge: assumed),
                device: observer.record, logger: HubFixture.silentLogger)
        }
    }

    /// The network of both tests: a north observer with two notes, a south observer with three,
    /// and a north reader that pushed one note and pulled the north observer's two.
    struct Network {
        let north: Observer
        let south: Observer
        let reader: Observer
        /// The reader's checkpoint after its first pull.
        let checkpoint: String

        init(_ hub: Hub) async throws {
            let north = try await hub.enroll("north-observer", read: "notes/north", write: "notes/north")
            let south = try await hub.enroll("south-observer", read: "notes/south", write: "notes/south")
            let reader = try await hub.enroll("north-reader", read: "notes/north", write: "notes/north")
            #expect(try await hub.exchange(north, counter: 2, push: [north.note(1, "north"), north.note(2, "north")]).accepted == 2)
            #expect(try await hub.exchange(south, counter: 3, push: (1...3).map { try south.note($0, "south") }).accepted == 3)
            let first = try await hub.exchange(reader, counter: 1, push: [reader.note(1, "north")])
            #expect(first.accepted == 1)
            #expect(first.versions.map(\.dot) == [Dot(replica: north.id, counter: 1), Dot(replica: north.id, counter: 2)])
            (self.north, self.south, self.reader, checkpoint) = (north, south, reader, first.checkpoint)
        }
    }

    /// Replays a seized north device that sends, in an exchange that follows no reset,
    /// `assumedKnowledge` naming (a) the south observer (an author of south notes only, id taken
    /// from a log), (b) the north observer, (c) a random id and (d) itself. Before the fix the hub
    /// answered every assumed origin it held anything of: (a) with 3, so one seized credential and
    /// a list of ids told how many versions the hub held of every observer of the network; (c) is
    /// answered nothing either way (the hub holds none of it). Now only (b) and (d) are answered;
    /// a device reading everything is answered (a) as before.
    @Test("a device of one region is answered the counters of assumed origins it may read, never another region's author's", arguments: Backend.enabled)
    func assumedOriginsWithinTheScope(_ backend: Backend) async throws {
        try await Hub.with(backend) { hub in
            let network = try await Network(hub)
            let (north, south, reader) = (network.north, network.south, network.reader)
            let assumed: VersionVector = [south.id: 3, north.id: 2, ReplicaID.random(): 5, reader.id: 1]
            let answer = try await hub.exchange(reader, counter: 1, checkpoint: network.checkpoint, assumed: assumed)
            #expect(answer.versions.isEmpty)
            #expect(answer.knowledge == [north.id: 2, reader.id: 1])

            // A device of the south is answered its region's author, not the north's.
            let southern = try await hub.exchange(south, counter: 3, assumed: assumed)
            #expect(southern.knowledge == [south.id: 3])
            // A device reading everything is answered every origin the hub holds of, as before.
            let analyst = try await hub.enroll("analyst", read: "*", write: "notes/north")
            #expect(try await hub.exchange(analyst, assumed: assumed).knowledge == [south.id: 3, north.id: 2, reader.id: 1])
        }
    }

    /// Replays a review's finding: once a north reader has read its scope, its checkpoint names
    /// the feed's last position, here the south observer's fourth note. The binary checkpoint
    /// carried that version's dot: 16 bytes of the south observer's id and its counter, which told
    /// a north device who writes in the south and how much, at every no-op exchange. A position
    /// now names its row by sequence and tag; the checkpoint goes on working.
    @Test("a scoped reader's checkpoint names no author outside its scope", arguments: Backend.enabled)
    func checkpointNamesNoAuthorOutsideTheScope(_ backend: Backend) async throws {
        try await Hub.with(backend) { hub in
            let network = try await Network(hub)
            let (south, reader) = (network.south, network.reader)
            #expect(try await hub.exchange(south, counter: 4, push: [south.note(4, "south")]).accepted == 1)
            let answer = try await hub.exchange(reader, counter: 1, checkpoint: network.checkpoint)
            #expect(answer.versions.isEmpty)
            let bytes = try #require(Data(base64Encoded: PullCheckpointTests.padded(answer.checkpoint.dropFirst())))
            #expect(bytes.range(of: Data(south.id.bytes)) == nil, "\(answer.checkpoint)")
            let next = try await hub.exchange(reader, counter: 1, checkpoint: answer.checkpoint)
            #expect(!next.checkpointReset && next.versions.isEmpty)
            #expect(next.checkpoint == answer.checkpoint)
        }
    }

    /// Replays a north writer whose note's context names the south observer's first dot (the hub
    /// holds it, so it admits the note) and the north observer's first; the north reader pulls
    /// the note. Before the fix the hub vouched for both origins with its whole counters (south 3,
    /// north 2): a north device learned how active a south observer is by any context naming it.
    /// Now an author the reader may read is vouched for in full (north 2) and any other only up to
    /// what the page claims (south 1), which is all the reader's admission of the note needs.
    @Test("a pulled context's origins are vouched for in full if the device may read them, else only up to the claim", arguments: Backend.enabled)
    func vouchesWithinTheScope(_ backend: Backend) async throws {
        try await Hub.with(backend) { hub in
            let network = try await Network(hub)
            let (north, south, reader) = (network.north, network.south, network.reader)
            let analyst = try await hub.enroll("analyst", read: "*", write: "notes/north")
            let before = try await hub.exchange(analyst)
            #expect(before.versions.count == 6)
            let writer = try await hub.enroll("north-writer", read: "notes/north", write: "notes/north")
            let edit = try writer.note(1, "north", context: [south.id: 1, north.id: 1])
            #expect(try await hub.exchange(writer, counter: 1, push: [edit]).accepted == 1)

            let answer = try await hub.exchange(reader, counter: 1, checkpoint: network.checkpoint)
            #expect(answer.versions.map(\.dot) == [edit.dot])
            #expect(answer.knowledge == [south.id: 1, north.id: 2, reader.id: 1])
            #expect(answer.knowledge.dominates(edit.context), "the reader can admit the note")
            // A device reading everything is vouched the hub's whole counters, as before.
            let pulled = try await hub.exchange(analyst, checkpoint: before.checkpoint)
            #expect(pulled.versions.map(\.dot) == [edit.dot])
            #expect(pulled.knowledge == [south.id: 3, north.id: 2])
        }
    }

    /// Replays the seized north reader pushing a version it forged at the south observer's dot 4
    /// (any bytes signed with its own key): the hub quarantines it as a forgery, and before the
    /// fix answered the pushed origin's counter as for any push (3), the same oracle as
    /// `assumedKnowledge` for the price of a quarantined row per id. Now a pushed origin none of
    /// whose versions passed the signature check is answered only if the device may read it.
    @Test("a forged push of another region's origin is not answered that origin's counter", arguments: Backend.enabled)
    func forgedPushIsNoOracle(_ backend: Backend) async throws {
        try await Hub.with(backend) { hub in
            let network = try await Network(hub)
            let (north, south, reader) = (network.north, network.south, network.reader)
            let forgery = { (origin: ReplicaID, counter: UInt64) in
                try reader.key.sign(
                    Version(
                        dot: Dot(replica: origin, counter: counter), collection: try #require(CollectionName("notes")),
                        documentID: try #require(DocumentID("forged-\(counter)")), partition: try #require(Partition("north")),
                        context: VersionVector(), body: Data(#"{"title":"forged"}"#.utf8),
                        timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000)))
            }
            let answer = try await hub.exchange(
                reader, counter: 1, push: [try forgery(south.id, 4), try forgery(north.id, 3)], checkpoint: network.checkpoint)
            #expect(answer.rejected.map(\.reason) == [.badSignature, .badSignature])
            #expect(answer.knowledge == [north.id: 2, reader.id: 1])
        }
    }

    /// Replays the seized north reader pushing its own version whose context claims an absurd
    /// counter of the south observer: the hub quarantines it as implausible, and before the fix
    /// its rejection said "at most <south>:3 exists", the hub's counter of any id in one request.
    /// Now the rejection says the context names what the hub does not hold, and no counter.
    @Test("an implausible context's rejection names no counter of the hub's", arguments: Backend.enabled)
    func implausibleContextIsNoOracle(_ backend: Backend) async throws {
        try await Hub.with(backend) { hub in
            let network = try await Network(hub)
            let (south, reader) = (network.south, network.reader)
            let claim = try reader.note(2, "north", context: [south.id: 1_000_000])
            let answer = try await hub.exchange(reader, counter: 2, push: [claim], checkpoint: network.checkpoint)
            let rejection = try #require(answer.rejected.first)
            #expect(rejection.reason == .implausibleContext)
            #expect(rejection.quarantined)
            #expect(!rejection.message.contains(":3"), "\(rejection.message)")
            #expect(answer.knowledge[south.id] == 0)
        }
    }

    // MARK: Convergence of a relay

    /// Carries a device's exchanges to a hub in process through the JSON wire form, with the
    /// device's record (as the route passes the one its credential names), and keeps them.
    final class DeviceTransport: SyncTransport {
        let hub: HubExchange
        let device: DeviceRecord
        private let kept = Mutex<[(request: SyncRequest, response: SyncResponse)]>([])

        init(hub: HubExchange, device: DeviceRecord) {
            self.hub = hub
            self.device = device
        }

        var exchanges: [(request: SyncRequest, response: SyncResponse)] { kept.withLock { $0 } }

        func exchange(_ request: SyncRequest) async throws -> TransportReply {
            let requestBytes = try JSONEncoder().encode(request)
            let response = try await hub.handle(
                try JSONDecoder().decode(SyncRequest.self, from: requestBytes), device: device, logger: silentLogger)
            let responseBytes = try JSONEncoder().encode(response)
            let decoded = try JSONDecoder().decode(SyncResponse.self, from: responseBytes)
            kept.withLock { $0.append((request, decoded)) }
            return TransportReply(response: decoded, bytesSent: requestBytes.count, bytesReceived: responseBytes.count)
        }
    }

    static func sync(_ store: ReplicaStore, _ transport: DeviceTransport) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: transport, peer: "test-hub",
            configuration: .init(pageLimits: PageLimits(versions: 2, bytes: 1 << 20), retry: .never, verifySignatures: false),
            logger: silentLogger
        ).run()
    }

    /// Schedule: origin O writes a south note (O:1) and syncs; the hub is backed up; O writes a
    /// north note (O:2) and syncs; the north relay R writes a note and syncs, pulling O:2; the hub
    /// is restored from the backup (it holds O:1, out of R's scope, and nothing of R); O stays
    /// away. R syncs: the hub resets its checkpoint, R sends `assumedKnowledge` naming O:2, and the
    /// hub, holding no version of O within R's scope, no longer answers O's counter (before the
    /// fix it answered 1). R then believes the hub holds nothing of O, pushes the O:2 it relays,
    /// and learns O's counter from that push: the hub gets back both lost versions and R's next
    /// sync is quiet.
    @Test("a relay of an origin the restored hub holds only outside the relay's scope converges after the reset, by pushing")
    func relayConvergesAfterAReset() async throws {
        try await TemporaryReplica.withFolder { folder in
            let notes = try #require(CollectionName("notes"))
            func key(_ id: String) throws -> DocumentKey { DocumentKey(collection: notes, id: try #require(DocumentID(id))) }
            let (northern, southern) = (try #require(Partition("north")), try #require(Partition("south")))
            let (origin, relay) = (try folder.create("origin"), try folder.create("relay"))
            let device = DeviceRecord(
                replicaID: relay.replicaID, name: "relay", publicKey: DeviceKey().publicKey, status: .active, enrolledAt: 1,
                grants: AccessGrants(read: try #require(Scope(text: "notes/north")), write: try #require(Scope(text: "notes/north"))))
            do {
                let hub = try makeHub(in: folder)
                try origin.write(WriteIntent(key: try key("south-report"), partition: southern, body: Data("{}".utf8)))
                _ = try await RestoredHubTests.sync(origin, hub)
            }
            try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
            do {
                let hub = try RestoredHubTests.reopen(folder)
                try origin.write(WriteIntent(key: try key("north-report"), partition: northern, body: Data("{}".utf8)))
                _ = try await RestoredHubTests.sync(origin, hub)
                try relay.write(WriteIntent(key: try key("relay-note"), partition: northern, body: Data("{}".utf8)))
                _ = try await Self.sync(relay, DeviceTransport(hub: hub, device: device))
                #expect(try relay.document(try key("north-report")) != nil)
            }
            try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
            let hub = try RestoredHubTests.reopen(folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            #expect(try hubStore.knowledge()[origin.replicaID] == 1)

            let transport = DeviceTransport(hub: hub, device: device)
            _ = try await Self.sync(relay, transport)
            let assuming = try #require(transport.exchanges.first { $0.request.assumedKnowledge != nil })
            #expect(assuming.request.assumedKnowledge?[origin.replicaID] == 2)
            #expect(assuming.response.knowledge[origin.replicaID] == 0, "not answered: no version of it within the scope")
            #expect(try hubStore.document(try key("north-report")) != nil)
            #expect(try hubStore.document(try key("relay-note")) != nil)
            #expect(try hubStore.knowledge()[origin.replicaID] == 2)
            #expect(try hubStore.knowledge()[relay.replicaID] == 1)
            #expect(try await Self.sync(relay, transport).isQuiet)
        }
    }
}
