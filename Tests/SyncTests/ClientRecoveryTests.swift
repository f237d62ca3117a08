import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Replicas and hubs restored from old backups: nothing lost, no dot reused.
@Suite("Client recovery")
struct ClientRecoveryTests {
    static let collection = CollectionName("notes")!

    static func key(_ id: String) -> DocumentKey { DocumentKey(collection: collection, id: DocumentID(id)!) }

    static func sync(_ store: ReplicaStore, _ hub: HubExchange) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: InProcessTransport(hub: hub), peer: "test-hub",
            configuration: .init(pageLimits: PageLimits(versions: 2, bytes: 1 << 20), retry: .never, verifySignatures: false),
            logger: silentLogger
        ).run()
    }

    /// Copies the replica files `name` (closed) to `backup`.
    static func copy(_ folder: TemporaryReplica, _ name: String, to backup: String) throws {
        let manager = FileManager.default
        for suffix in ["", "-wal", "-shm", ".key", ".datakey"] {
            let source = folder.path(name) + suffix
            let target = folder.path(backup) + suffix
            try? manager.removeItem(atPath: target)
            if manager.fileExists(atPath: source) { try manager.copyItem(atPath: source, toPath: target) }
        }
    }

    /// A replica `field` in `folder` that wrote a0…a2 (dots 1–3) and synced, was backed up, wrote
    /// b0…b2 (dots 4–6) and synced, and is restored from the backup (counter 3 again).
    static func restoredAfterLaterWrites(in folder: TemporaryReplica, hub: HubExchange) async throws -> ReplicaStore {
        do {
            let field = try folder.create("field")
            for index in 0..<3 { try field.write(WriteIntent(key: Self.key("a\(index)"), body: Data("{}".utf8))) }
            _ = try await Self.sync(field, hub)
        }
        try Self.copy(folder, "field", to: "backup")
        do {
            let field = try folder.open("field")
            for index in 0..<3 { try field.write(WriteIntent(key: Self.key("b\(index)"), body: Data("{}".utf8))) }
            _ = try await Self.sync(field, hub)
        }
        try Self.copy(folder, "backup", to: "field")
        return try folder.open("field")
    }

    @Test("a replica restored from an old backup recovers its later versions and never reuses a dot")
    func restoredReplica() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let restored = try await Self.restoredAfterLaterWrites(in: folder, hub: hub)
            #expect(try restored.counter() == 3)
            _ = try await Self.sync(restored, hub)
            #expect(try restored.counter() >= 6, "the counter must move above what the hub holds")
            let next = try restored.write(WriteIntent(key: Self.key("c"), body: Data("{}".utf8)))
            #expect(next.dot.counter == 7)
            _ = try await Self.sync(restored, hub)
            #expect(try hubStore.document(Self.key("c"))?.state.siblings == [next.dot])
            // Its later versions came back from the hub.
            for index in 0..<3 { #expect(try restored.document(Self.key("b\(index)")) != nil) }
            #expect(try restored.status().versions == 7)
        }
    }

    @Test(
        "a hub restored from an old backup is healed by the replicas that hold the data",
        arguments: [true, false])
    func restoredHub(backupHoldsEarlyVersion: Bool) async throws {
        try await TemporaryReplica.withFolder { folder in
            let first = try folder.create("first")
            let second = try folder.create("second")
            do {
                let hub = try makeHub(in: folder)
                if !backupHoldsEarlyVersion { try Self.copy(folder, "hub", to: "hub-backup") }
                try first.write(WriteIntent(key: Self.key("early"), body: Data("{}".utf8)))
                _ = try await Self.sync(first, hub)
                _ = try await Self.sync(second, hub)
            }
            if backupHoldsEarlyVersion { try Self.copy(folder, "hub", to: "hub-backup") }
            do {
                let hub = HubExchange(
                    storage: try SQLiteHubStorage(store: folder.open("hub")), configuration: .withoutSignatureChecks,
                    logger: silentLogger)
                for index in 0..<4 { try first.write(WriteIntent(key: Self.key("late\(index)"), body: Data("{}".utf8))) }
                try second.write(WriteIntent(key: Self.key("other"), body: Data("{}".utf8)))
                _ = try await Self.sync(first, hub)
                _ = try await Self.sync(second, hub)
                _ = try await Self.sync(first, hub)
            }
            try Self.copy(folder, "hub-backup", to: "hub")
            let hubStore = try folder.open("hub")
            let hub = HubExchange(storage: try SQLiteHubStorage(store: hubStore), configuration: .withoutSignatureChecks, logger: silentLogger)
            #expect(try hubStore.status().versions == (backupHoldsEarlyVersion ? 1 : 0))
            // `second` relays `first`'s later versions: it is the only one to sync with the restored hub.
            for _ in 0..<3 { _ = try await Self.sync(second, hub) }
            #expect(try hubStore.status().versions == 6)
            for index in 0..<4 { #expect(try hubStore.document(Self.key("late\(index)")) != nil) }
            #expect(try hubStore.document(Self.key("other")) != nil)
            #expect(try hubStore.document(Self.key("early")) != nil)
        }
    }

    @Test("a replica file copied to a second machine forks at the first divergent dot and goes on as a new incarnation")
    func fork() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            do {
                let original = try folder.create("original")
                try original.write(WriteIntent(key: Self.key("shared"), body: Data("{}".utf8)))
                _ = try await Self.sync(original, hub)
            }
            try Self.copy(folder, "original", to: "copy")
            let original = try folder.open("original")
            let copy = try folder.open("copy")
            try original.write(WriteIntent(key: Self.key("mine"), body: Data(#"{"by":"original"}"#.utf8)))
            let divergent = try copy.write(WriteIntent(key: Self.key("theirs"), body: Data(#"{"by":"copy"}"#.utf8)))
            _ = try await Self.sync(original, hub)
            _ = try await Self.sync(copy, hub)
            // The copy took a new incarnation at the first divergent dot and re-issued its version there.
            let incarnation = try #require(try copy.earlierIncarnations().first)
            #expect(incarnation.forkedAt == divergent.dot)
            let renewed = try copy.currentReplicaID()
            #expect(renewed != divergent.dot.replica)
            // Nothing of the copy's is lost, and it has the original's version of the same dot.
            let kept = try copy.document(Self.key("theirs"))
            #expect(kept?.siblings.map(\.dot) == [Dot(replica: renewed, counter: 1)])
            #expect(kept?.siblings.first?.body == divergent.body)
            #expect(try copy.document(Self.key("mine"))?.siblings.map(\.dot) == [divergent.dot])
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            #expect(try hubStore.document(Self.key("theirs"))?.siblings.map(\.dot) == [Dot(replica: renewed, counter: 1)])
        }
    }

    @Test("a version the hub quarantines is set aside here, with the reason shown in status")
    func rejection() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder) { $0.limits.maxRecordBytes = 40 }
            let field = try folder.create("field")
            try field.write(WriteIntent(key: Self.key("small"), body: Data(#"{"ok":1}"#.utf8)))
            let big = try field.write(
                WriteIntent(key: Self.key("big"), body: Data(#"{"note":"\#(String(repeating: "x", count: 100))"}"#.utf8)))
            let summary = try await Self.sync(field, hub)
            #expect(summary.rejected == 1)
            #expect(summary.versionsPushed == 1)
            #expect(try field.document(Self.key("big")) == nil, "a set-aside version is out of the document states")
            #expect(try field.history(of: Self.key("big")).first?.setAsideReason?.detail.contains("invalid-record") == true)
            let status = try SyncStatus.load(store: field, hub: "test-hub")
            #expect(status.setAsideCount == 1)
            #expect(status.setAside.first?.dot == big.dot)
            #expect(status.waitingToPush == 0)
            // Syncing again pushes nothing more.
            let again = try await Self.sync(field, hub)
            #expect(again.isQuiet)
        }
    }
}
