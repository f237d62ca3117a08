import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import PostgresNIO
import ReplicaStore
import SyncEngine
import Testing

/// One hub's storage with the console's document pages over it (``DocumentPages``), on a backend.
struct DocumentPagesUnderTest: Sendable {
    let hub: StorageUnderTest
    let pages: any DocumentPages

    /// Runs `body` with a fresh hub on `backend`, removed afterwards.
    static func with<Result>(_ backend: StorageBackend, _ body: (DocumentPagesUnderTest) async throws -> Result)
        async throws -> Result
    {
        try await StorageUnderTest.with(backend) { hub in
            let pages: any DocumentPages
            if let sqlite = hub.storage as? SQLiteHubStorage {
                pages = SQLiteDocumentPages(store: sqlite.store, writer: sqlite.writer)
            } else {
                pages = PostgresDocumentPages(storage: try #require(hub.storage as? PostgresHubStorage))
            }
            return try await body(DocumentPagesUnderTest(hub: hub, pages: pages))
        }
    }
}

/// The console's document pages (conflicts, a document and its history, the lists of a
/// collection, an operator's resolution) on every backend: the SQLite replica's `documents`, and
/// PostgreSQL's `document_states` kept by every path that stores versions
/// (``PostgresDocumentStates``).
@Suite(.serialized)
struct DocumentPagesConformanceTests {
    static let notes = "notes"

    /// A note of `origin` at `counter` (a collection the hub does not merge field by field).
    static func note(
        _ origin: ReplicaID, _ counter: UInt64, _ id: String, body: String? = #"{"t":1}"#, partition: String = "SD-DN",
        seen: VersionVector = VersionVector(), wall: UInt64
    ) throws -> Version {
        Version(
            dot: Dot(replica: origin, counter: counter), collection: try #require(CollectionName(notes)),
            documentID: try #require(DocumentID(id)), partition: try #require(Partition(partition)), context: seen,
            body: body.map { Data($0.utf8) }, timestamp: HybridTimestamp(wallMilliseconds: wall),
            signature: Data((0..<64).map { _ in UInt8.random(in: .min ... .max) }))
    }

    static func key(_ id: String, _ collection: String = notes) throws -> DocumentKey {
        DocumentKey(collection: try #require(CollectionName(collection)), id: try #require(DocumentID(id)))
    }

    @Test(arguments: StorageBackend.enabled)
    func aConflictIsListedAfterConcurrentEditsAndGoneAfterAResolution(_ backend: StorageBackend) async throws {
        try await DocumentPagesUnderTest.with(backend) { test in
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let first = try Self.note(a, 1, "n1", body: #"{"t":"a"}"#, wall: 1_000)
            let second = try Self.note(b, 1, "n1", body: #"{"t":"b"}"#, wall: 2_000)
            _ = try await test.hub.push([first])
            #expect(try await test.pages.conflicts(in: nil, partition: nil, limit: 10, after: nil).documents.isEmpty)
            _ = try await test.hub.push([second])
            let key = try Self.key("n1")
            let page = try await test.pages.conflicts(in: nil, partition: nil, limit: 10, after: nil)
            #expect(page.documents.map(\.key) == [key] && page.nextCursor == nil)
            #expect(page.documents.first?.siblings.map(\.dot) == [first.dot, second.dot].sorted())
            #expect(page.documents.first?.partition.rawValue == "SD-DN")
            #expect(try await test.pages.conflictedCollections().map(\.rawValue) == [Self.notes])
            #expect(try await test.pages.conflicts(in: CollectionName("warnings"), partition: nil, limit: 10, after: nil).documents.isEmpty)
            #expect(try await test.pages.conflicts(in: nil, partition: Partition("SD-KH"), limit: 10, after: nil).documents.isEmpty)
            let document = try #require(try await test.pages.document(key))
            #expect(document.isConflicted && Set(document.siblings.compactMap(\.body)) == [Data(#"{"t":"a"}"#.utf8), Data(#"{"t":"b"}"#.utf8)])
            #expect(try await test.pages.history(of: key, newest: 10).map(\.version.dot) == [first.dot, second.dot], "by clock")
            #expect(try await test.pages.authorNames(of: [a])[a] == nil, "no device of that id")

            let resolution = try await test.pages.resolveAsOperator(
                key, body: Data(#"{"t":"both"}"#.utf8), expectedSiblings: [second.dot, first.dot], operator: "rafael",
                reason: "checked", how: "merged")
            #expect(resolution.context.contains(first.dot) && resolution.context.contains(second.dot))
            #expect(try await test.pages.conflicts(in: nil, partition: nil, limit: 10, after: nil).documents.isEmpty)
            #expect(try await test.pages.conflictedCollections().isEmpty)
            let resolved = try #require(try await test.pages.document(key))
            #expect(!resolved.isConflicted && resolved.siblings.map(\.dot) == [resolution.dot])
            #expect(try await test.pages.history(of: key, newest: 10).map(\.version.dot) == [first.dot, second.dot, resolution.dot])
            #expect(try await test.pages.history(of: key, newest: 2).map(\.version.dot) == [second.dot, resolution.dot], "the newest two")
            #expect(try await test.pages.authorNames(of: [resolution.dot.replica])[resolution.dot.replica] == "hub")
            // A resolution over what the document no longer holds is refused.
            await #expect(throws: SyncEngineError.self) {
                try await test.pages.resolveAsOperator(
                    key, body: nil, expectedSiblings: [first.dot, second.dot], operator: "rafael", reason: "again", how: "kept")
            }
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aResolutionOverSiblingsTheOperatorDidNotSeeIsRefused(_ backend: StorageBackend) async throws {
        try await DocumentPagesUnderTest.with(backend) { test in
            let (a, b, c) = (ReplicaID.random(), ReplicaID.random(), ReplicaID.random())
            let (first, second) = (try Self.note(a, 1, "n1", wall: 1_000), try Self.note(b, 1, "n1", wall: 2_000))
            _ = try await test.hub.push([first, second], by: a)
            _ = try await test.hub.push([try Self.note(c, 1, "n1", wall: 3_000)])
            await #expect(throws: SyncEngineError.self) {
                try await test.pages.resolveAsOperator(
                    try Self.key("n1"), body: nil, expectedSiblings: [first.dot, second.dot], operator: "rafael", reason: "r",
                    how: "kept")
            }
            #expect(try await test.pages.document(try Self.key("n1"))?.siblings.count == 3)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aFieldByFieldMergeEndsTheConflict(_ backend: StorageBackend) async throws {
        try await DocumentPagesUnderTest.with(backend) { test in
            typealias F = MergeFixtures
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let base = try F.version(a, 1, F.situation)
            let seen = VersionVector([a: 1])
            _ = try await test.hub.push([base])
            _ = try await test.hub.push([try F.version(a, 2, F.edited([F.critical]), seen: seen)])
            #expect(try await test.hub.push([try F.version(b, 1, F.edited([F.retitled]), seen: seen)]).merged == 1)
            #expect(try await test.pages.conflicts(in: nil, partition: nil, limit: 10, after: nil).documents.isEmpty)
            let document = try #require(try await test.pages.document(base.key))
            let merge = try #require(document.siblings.first)
            #expect(document.siblings.count == 1 && merge.context.contains(Dot(replica: b, counter: 1)))
            #expect(try await test.pages.authorNames(of: [merge.dot.replica])[merge.dot.replica] == "hub")
            let listed = try await test.pages.documents(in: base.collection, partition: nil, limit: 10, after: nil)
            #expect(listed.documents.map(\.siblings) == [[merge]])
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aDeletedDocumentIsLeftOutOfTheListsButHeld(_ backend: StorageBackend) async throws {
        try await DocumentPagesUnderTest.with(backend) { test in
            let a = ReplicaID.random()
            _ = try await test.hub.push([try Self.note(a, 1, "gone", wall: 1_000), try Self.note(a, 2, "kept", wall: 2_000)])
            _ = try await test.hub.push([try Self.note(a, 3, "gone", body: nil, seen: VersionVector([a: 1]), wall: 3_000)])
            let collection = try #require(CollectionName(Self.notes))
            let listed = try await test.pages.documents(in: collection, partition: nil, limit: 10, after: nil)
            #expect(listed.documents.map(\.key.id.rawValue) == ["kept"])
            let gone = try #require(try await test.pages.document(try Self.key("gone")))
            #expect(gone.isDeleted && !gone.isConflicted && gone.siblings.map(\.dot) == [Dot(replica: a, counter: 3)])
            #expect(try await test.pages.document(try Self.key("never")) == nil)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func documentsAreListedNewestFirstAndPaged(_ backend: StorageBackend) async throws {
        try await DocumentPagesUnderTest.with(backend) { test in
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            // d0..d6 at walls 1..7 s, d7 at d6's wall (the id breaks the tie), d8 in another partition.
            var versions = try (0..<7).map { try Self.note(a, UInt64($0 + 1), "d\($0)", wall: UInt64($0 + 1) * 1_000) }
            versions.append(try Self.note(a, 8, "d7", wall: 7_000))
            versions.append(try Self.note(a, 9, "d8", partition: "SD-KH", wall: 9_000))
            _ = try await test.hub.push(versions)
            let collection = try #require(CollectionName(Self.notes))
            var ids: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await test.pages.documents(
                    in: collection, partition: Partition("SD-DN"), limit: 3, after: cursor)
                ids += page.documents.map(\.key.id.rawValue)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(ids == ["d7", "d6", "d5", "d4", "d3", "d2", "d1", "d0"] && pages == 3)
            #expect(try await test.pages.documents(in: collection, partition: nil, limit: 1, after: nil).documents.map(\.key.id.rawValue) == ["d8"])

            // Conflicts in two collections, newest first, paged by two.
            var conflicts: [Version] = []
            for index in 0..<5 {
                let wall = UInt64(20 + index) * 1_000
                conflicts.append(try Self.note(a, UInt64(10 + index), "c\(index)", wall: wall))
                conflicts.append(try Self.note(b, UInt64(1 + index), "c\(index)", wall: wall))
            }
            _ = try await test.hub.push(conflicts, by: a)
            var listed: [String] = []
            cursor = nil
            pages = 0
            repeat {
                let page = try await test.pages.conflicts(in: nil, partition: nil, limit: 2, after: cursor)
                listed += page.documents.map(\.key.id.rawValue)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(listed == ["c4", "c3", "c2", "c1", "c0"] && pages == 3)
        }
    }
}

/// What only PostgreSQL's document states need proven: every path that stores versions keeps
/// them, a schema migrated from before them gets them filled, and two hub processes pushing to one
/// document at once leave the state a serial order would.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PostgresDocumentStatesTests {
    typealias N = DocumentPagesConformanceTests

    /// The state `document_states` holds of `key` next to the one computed from every version in
    /// good standing the feed holds.
    static func states(_ storage: PostgresHubStorage, _ key: DocumentKey) async throws -> (held: DocumentState?, serial: DocumentState) {
        let held = try await PostgresDocumentPages(storage: storage).document(key)?.state
        let versions = try await storage.feed.page(after: .start, limit: 1_000, maxBytes: 1 << 24).versions
        return (held, DocumentState(merging: versions.filter { $0.key == key }))
    }

    /// A hub's storage in `schema`, under a hub id and key of its own.
    static func storage(_ client: PostgresClient, _ schema: String) throws -> PostgresHubStorage {
        try PostgresHubStorage(
            tables: try PostgresDeviceTables(
                client: client, schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(), logger: PostgresTestDatabase.quiet))
    }

    @Test func anAppendKeepsTheStates() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let storage = try Self.storage(clients[0], schema)
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            _ = try await storage.feed.append([try N.note(a, 1, "n1", wall: 1_000)], receivedFrom: nil)
            _ = try await storage.feed.append([try N.note(b, 1, "n1", wall: 2_000)], receivedFrom: nil)
            let states = try await Self.states(storage, try N.key("n1"))
            #expect(states.held == states.serial && states.serial.siblings.count == 2)
        }
    }

    @Test func aSchemaMigratedBeforeTheStatesGetsThemFilled() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let storage = try Self.storage(clients[0], schema)
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            _ = try await storage.take(
                PushPlan(
                    versions: [
                        try N.note(a, 1, "n1", wall: 1_000), try N.note(b, 1, "n1", wall: 2_000),
                        try N.note(a, 2, "n2", wall: 3_000), try N.note(a, 3, "n2", body: nil, seen: VersionVector([a: 2]), wall: 4_000),
                    ], pusher: a, policy: .inOrder))
            let before = try await PostgresDocumentPages(storage: storage).conflicts(in: nil, partition: nil, limit: 10, after: nil)
            // As a schema migrated before the step: no table, the step not recorded.
            for statement in [
                "DROP TABLE \(schema).document_states",
                "DELETE FROM \(schema).vigil_schema_migrations WHERE name = 'v12-document-states'",
            ] {
                try await clients[0].query(PostgresQuery(unsafeSQL: statement), logger: PostgresTestDatabase.quiet)
            }
            #expect(try await PostgresMigrations.migrate(clients[0], schema: schema, logger: PostgresTestDatabase.quiet) == ["v12-document-states"])
            let pages = PostgresDocumentPages(storage: storage)
            let after = try await pages.conflicts(in: nil, partition: nil, limit: 10, after: nil)
            #expect(after.documents == before.documents && after.documents.count == 1)
            #expect(try await pages.document(try N.key("n2"))?.isDeleted == true)
            for id in ["n1", "n2"] {
                let states = try await Self.states(storage, try N.key(id))
                #expect(states.held == states.serial)
            }
        }
    }

    @Test func aCopiedSQLiteHubHasTheSameStates() async throws {
        // An SQLite hub holding a conflict, a clean document, a deletion and a merged situation,
        // copied as `syncd copy-to-postgres` copies it: PostgreSQL computes the same states.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-states-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("hub.sqlite").path
        let sqlite = try SQLiteHubStorage(store: try ReplicaStore.createHub(at: path))
        let (a, b, c, d) = (ReplicaID.random(), ReplicaID.random(), ReplicaID.random(), ReplicaID.random())
        typealias F = MergeFixtures
        for versions in [
            [try N.note(a, 1, "n1", wall: 1_000), try N.note(b, 1, "n1", wall: 2_000), try N.note(a, 2, "n2", wall: 3_000)],
            [try N.note(a, 3, "n3", wall: 4_000), try N.note(a, 4, "n3", body: nil, seen: VersionVector([a: 3]), wall: 5_000)],
            [try F.version(c, 1, F.situation)],
            [try F.version(c, 2, F.edited([F.critical]), seen: VersionVector([c: 1]))],
            [try F.version(d, 1, F.edited([F.retitled]), seen: VersionVector([c: 1]))],
        ] {
            _ = try await sqlite.take(PushPlan(versions: versions, pusher: versions[0].dot.replica, policy: .inOrder))
        }
        let local = SQLiteDocumentPages(store: sqlite.store, writer: sqlite.writer)
        let keys = [try N.key("n1"), try N.key("n2"), try N.key("n3"), try N.key("s1", "situations")]
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let keyFile = try PostgresTestDatabase.hubKeyFile(for: schema)
            _ = try await HubFileExport.reading(path) { export in
                try await PostgresHubImport.copy(
                    export, into: clients[0], schema: schema, keyFile: keyFile, logger: PostgresTestDatabase.quiet)
            }
            let hub = try await PostgresHub.open(
                client: clients[0], schema: schema, keyFile: keyFile, logger: PostgresTestDatabase.quiet)
            let copied = try #require(try hub.backend().documents)
            for key in keys {
                let (here, there) = (try await local.document(key), try await copied.document(key))
                #expect(there != nil && there?.state == here?.state && there?.siblings == here?.siblings, "\(key)")
            }
            #expect(try await copied.conflicts(in: nil, partition: nil, limit: 10, after: nil).documents.map(\.key) == [keys[0]])
        }
    }

    @Test func twoHubProcessesPushingToOneDocumentAtOnceLeaveTheSerialState() async throws {
        // Replays: a note is held; A's edit is inside its push, its state written, paused before
        // its last statement, when B's concurrent edit is pushed through another hub process. B
        // waits for A's document guard, then reads A's edit with the others: the state holds both
        // edits as siblings, as it would had B come after A's commit.
        let (held, serial) = try await Self.sameDocumentRace(guards: .all)
        #expect(held == serial && serial.siblings.count == 2)
    }

    @Test func withoutTheDocumentGuardTheStateMissesAnEdit() async throws {
        // The negative control: without the documents' guards B reads the versions before A
        // commits, and its state (written after A's, once A's row lock is released) lacks A's edit.
        let (held, serial) = try await Self.sameDocumentRace(guards: PushGuards(documents: false))
        #expect(held != serial && serial.siblings.count == 2)
    }

    private static func sameDocumentRace(guards: PushGuards) async throws -> (DocumentState?, DocumentState) {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
            let tables = try clients.map {
                try PostgresDeviceTables(client: $0, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet)
            }
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let seen = VersionVector([a: 1])
            let setup = try PostgresHubStorage(tables: tables[1])
            _ = try await setup.take(PushPlan(versions: [try N.note(a, 1, "n1", wall: 1_000)], pusher: a, policy: .inOrder))
            let hold = Hold(for: .milliseconds(1_500))
            let hubA = try PostgresHubStorage(
                tables: tables[0], commitOrder: .serialized, guards: guards, beforeFeedLock: hold.pause)
            let hubB = try PostgresHubStorage(tables: tables[1], commitOrder: .serialized, guards: guards)
            for hub in [hubA, hubB] { _ = try await hub.counts() }
            hold.arm()
            let editA = try N.note(a, 2, "n1", body: #"{"t":"a"}"#, seen: seen, wall: 2_000)
            let editB = try N.note(b, 1, "n1", body: #"{"t":"b"}"#, seen: seen, wall: 3_000)
            async let first = hubA.take(PushPlan(versions: [editA], pusher: a, policy: .inOrder))
            try await hold.waitUntilHeld()
            _ = try await hubB.take(PushPlan(versions: [editB], pusher: b, policy: .inOrder))
            _ = try await first
            return try await Self.states(setup, try N.key("n1"))
        }
    }
}
