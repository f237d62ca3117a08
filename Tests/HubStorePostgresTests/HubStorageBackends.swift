import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import ReplicaStore
import SyncEngine
import Testing

/// The backends the hub storage's conformance suite runs on: SQLite always, PostgreSQL when
/// `VIGIL_TEST_POSTGRES` names a server (or `VIGIL_REQUIRE_POSTGRES=1` requires one, as CI does).
enum StorageBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static var enabled: [StorageBackend] { PostgresTestDatabase.isEnabled ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }
}

/// One hub's storage as a backend gives it, with what the suite reads beside the protocol.
struct StorageUnderTest: Sendable {
    let storage: any HubStorage
    /// How many versions the foreign quarantine holds.
    let foreignQuarantineCount: @Sendable () async throws -> Int

    /// Runs `body` with a fresh, empty hub storage on `backend`, removed afterwards.
    static func with<Result>(_ backend: StorageBackend, _ body: (StorageUnderTest) async throws -> Result)
        async throws -> Result
    {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vigil-storage-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let store = try ReplicaStore.createHub(at: folder.appendingPathComponent("hub.sqlite").path)
            return try await body(
                StorageUnderTest(
                    storage: try SQLiteHubStorage(store: store),
                    foreignQuarantineCount: { try store.foreignQuarantineCount() }))
        case .postgres:
            return try await PostgresTestDatabase.withClients(1) { clients, schema in
                let storage = try PostgresHubStorage(
                    tables: try PostgresDeviceTables(
                        client: clients[0], schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(),
                        logger: PostgresTestDatabase.quiet))
                return try await body(
                    StorageUnderTest(
                        storage: storage, foreignQuarantineCount: { try await storage.foreignQuarantineCount() }))
            }
        }
    }
}

extension StorageUnderTest {
    /// Pushes `versions` as `pusher` (by default their first origin) under `policy`.
    func push(
        _ versions: [Version], by pusher: ReplicaID? = nil, policy: AdmissionPolicy = .inOrder,
        forged: [(version: Version, reason: SetAsideReason)] = []
    ) async throws -> PushReport {
        let pusher = pusher ?? versions.first?.dot.replica ?? forged.first?.version.dot.replica ?? ReplicaID.random()
        return try await storage.take(PushPlan(versions: versions, pusher: pusher, policy: policy, forged: forged))
    }

    /// Every version a reader of `filter` gets, paging from the start with pages of `limit`.
    func pageAll(_ filter: FeedFilter = .everything, limit: Int = 3) async throws -> [Version] {
        var versions: [Version] = []
        var position = FeedPosition.start
        for _ in 0..<1_000 {
            let page = try await storage.page(
                PageQuery(after: position, limit: limit, maxBytes: 1 << 20, knowledgeOf: [], filter: filter))
            versions += page.versions
            position = page.end
            if !page.hasMore { return versions }
        }
        Issue.record("the feed did not end within 1,000 pages")
        return versions
    }

    /// The hub's knowledge of `origins`, as a page claims it.
    func knowledge(of origins: Set<ReplicaID>) async throws -> VersionVector {
        try await storage.page(
            PageQuery(after: .start, limit: 1, maxBytes: 1 << 20, knowledgeOf: origins, filter: .everything)
        ).knowledge
    }
}

/// Versions for the storage suite: each a document of its own unless told, signed with random
/// bytes (a storage stores what the exchange checked; it does not verify signatures).
enum PushFixtures {
    static func version(
        _ origin: ReplicaID, _ counter: UInt64, document: String? = nil, partition: String = "SD-DN",
        context: VersionVector = VersionVector(), wall: UInt64? = nil
    ) throws -> Version {
        var version = try FeedFixtures.version(origin, counter, partition: partition)
        if let document { version.documentID = try #require(DocumentID(document)) }
        version.context = context
        if let wall { version.timestamp = HybridTimestamp(wallMilliseconds: wall) }
        return version
    }

    static func versions(_ origin: ReplicaID, _ counters: ClosedRange<UInt64>) throws -> [Version] {
        try counters.map { try version(origin, $0) }
    }
}
