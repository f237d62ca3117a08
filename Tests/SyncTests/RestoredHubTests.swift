import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// A hub restored from an old backup: it never reuses its own dots, the step that tells it what
/// devices believed it held survives a cut link, and a device's set-aside versions fill its gaps.
@Suite("Restored hub")
struct RestoredHubTests {
    static func situation(_ id: String) -> DocumentKey {
        DocumentKey(collection: CollectionName("situations")!, id: DocumentID(id)!)
    }

    static func sync(_ store: ReplicaStore, _ hub: HubExchange, cuts: [InProcessTransport.Cut] = []) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: InProcessTransport(hub: hub, cuts: cuts), peer: "test-hub",
            configuration: .init(pageLimits: PageLimits(versions: 2, bytes: 1 << 20), retry: .never, verifySignatures: false),
            logger: silentLogger
        ).run()
    }

    /// The hub replica `name` in `folder`, opened again (after a restore).
    static func reopen(_ folder: TemporaryReplica, configure: (inout HubConfiguration) -> Void = { _ in }) throws -> HubExchange {
        var configuration = HubConfiguration.withoutSignatureChecks
        configure(&configuration)
        return HubExchange(storage: SQLiteHubStorage(store: try folder.open("hub")), configuration: configuration, logger: silentLogger)
    }

    /// `store`'s body of `key` with the top-level `field` set to `value`.
    static func edited(_ store: ReplicaStore, _ key: DocumentKey, _ field: String, _ value: String) throws -> WriteIntent {
        let body = try #require(try store.document(key)?.siblings.first?.body)
        var object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        object[field] = value
        object.removeValue(forKey: JSONBody.resolutionField)
        return WriteIntent(key: key, body: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// Schedule: A writes a situation, B pulls it; the hub is backed up; A and B edit different
    /// fields, the hub merges them field by field as its own version H:1, and both pull it. The hub
    /// is restored from the backup (its counter back at 0). A syncs and relays H:1 back to it; then
    /// A and B edit different fields again, and the hub merges once more. Before the fix the
    /// relayed H:1 left the hub's counter at 0, the merge took H:1 again and the exchange failed
    /// with a UNIQUE error (a 500 over HTTP).
    @Test("a restored hub raises its counter past its own dots relayed back, and its next merge takes a new dot")
    func relayedHubDotsRaiseTheCounter() async throws {
        try await TemporaryReplica.withFolder { folder in
            let key = Self.situation("s1")
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            do {
                let hub = try makeHub(in: folder)
                try a.write(WriteIntent(key: key, body: Data(HubFieldwiseMergeTests.situation.utf8)))
                _ = try await Self.sync(a, hub)
                _ = try await Self.sync(b, hub)
            }
            try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
            let firstMerge: Dot
            do {
                let hub = try Self.reopen(folder)
                try a.write(try Self.edited(a, key, "overall_risk_level", "critical"))
                try b.write(try Self.edited(b, key, "title", "North Darfur, March (revised)"))
                _ = try await Self.sync(a, hub)
                _ = try await Self.sync(b, hub)
                _ = try await Self.sync(a, hub)
                firstMerge = try #require(try a.document(key)?.siblings.first?.dot)
                #expect(firstMerge.replica == hub.hubID)
            }
            try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
            let hub = try Self.reopen(folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            #expect(try hubStore.counter() < firstMerge.counter)
            _ = try await Self.sync(a, hub)
            #expect(try hubStore.versions(at: [firstMerge]).count == 1, "A relayed the hub's merge back")
            #expect(try hubStore.counter() >= firstMerge.counter)

            try a.write(try Self.edited(a, key, "period_end", "2026-04-15"))
            try b.write(try Self.edited(b, key, "period_start", "2026-02-15"))
            _ = try await Self.sync(a, hub)
            _ = try await Self.sync(b, hub)
            let merged = try #require(try hubStore.document(key))
            #expect(!merged.isConflicted)
            #expect(merged.siblings.map(\.dot) == [Dot(replica: hub.hubID, counter: firstMerge.counter + 1)])
        }
    }

    /// Schedule: O writes, and O and C sync; the hub is backed up; O writes four more versions and
    /// syncs, C pulls them; the hub is restored from the backup; C syncs, the hub answers that it
    /// reset C's checkpoint, and the link is cut before the next exchange (the one carrying C's
    /// assumed knowledge) reaches the hub; C syncs again (a restart). Before the fix the step was a
    /// variable of the loop: the second run never sent the assumed knowledge, so C never learned
    /// that the hub lacks O's later versions, and they stayed lost at the hub.
    @Test("the assumed-knowledge step after a checkpoint reset survives a cut link and a restart")
    func assumedKnowledgeSurvivesACut() async throws {
        try await TemporaryReplica.withFolder { folder in
            let (origin, relay) = (try folder.create("origin"), try folder.create("relay"))
            let notes = CollectionName("notes")!
            func key(_ id: String) -> DocumentKey { DocumentKey(collection: notes, id: DocumentID(id)!) }
            do {
                let hub = try makeHub(in: folder)
                try origin.write(WriteIntent(key: key("early"), body: Data("{}".utf8)))
                _ = try await Self.sync(origin, hub)
                _ = try await Self.sync(relay, hub)
            }
            try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
            do {
                let hub = try Self.reopen(folder)
                for index in 0..<4 { try origin.write(WriteIntent(key: key("late\(index)"), body: Data("{}".utf8))) }
                _ = try await Self.sync(origin, hub)
                _ = try await Self.sync(relay, hub)
            }
            try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
            let hub = try Self.reopen(folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            await #expect(throws: SyncClientError.self) {
                _ = try await Self.sync(relay, hub, cuts: [.none, .beforeHub])
            }
            #expect(try relay.peerState("test-hub").sendAssumedKnowledge, "kept with the page that reset the checkpoint")
            _ = try await Self.sync(relay, hub)
            for index in 0..<4 { #expect(try hubStore.document(key("late\(index)")) != nil) }
            #expect(try relay.peerState("test-hub").sendAssumedKnowledge == false, "cleared once answered")
        }
    }

    /// Schedule: D writes a small note (D:1), a note the hub quarantines as too large (D:2) and
    /// another small note (D:3), and syncs: the hub takes D:1 and D:3, quarantines D:2, and D sets
    /// D:2 aside. The hub is restored from a backup taken before any of it. D syncs. Before the fix
    /// D pushed only its versions in good standing, D:1 and D:3; the hub refused D:3 as a gap (it
    /// lacks D:2) and D stopped as stalled, at every later sync too. Now D pushes its set-aside D:2
    /// as well: the hub quarantines it again and takes D:3.
    @Test("a device's own set-aside version is pushed again to a restored hub that lacks it, so its gap closes")
    func setAsideOwnVersionFillsTheGap() async throws {
        try await TemporaryReplica.withFolder { folder in
            let notes = CollectionName("notes")!
            func key(_ id: String) -> DocumentKey { DocumentKey(collection: notes, id: DocumentID(id)!) }
            let small: (inout HubConfiguration) -> Void = { $0.limits.maxRecordBytes = 40 }
            let device = try folder.create("device")
            do {
                _ = try makeHub(in: folder, configure: small)
                try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
                let hub = try Self.reopen(folder, configure: small)
                try device.write(WriteIntent(key: key("first"), body: Data(#"{"ok":1}"#.utf8)))
                let big = try device.write(
                    WriteIntent(key: key("big"), body: Data(#"{"note":"\#(String(repeating: "x", count: 100))"}"#.utf8)))
                try device.write(WriteIntent(key: key("third"), body: Data(#"{"ok":3}"#.utf8)))
                let summary = try await Self.sync(device, hub)
                #expect(summary.rejected == 1)
                #expect(try device.history(of: big.key).first?.setAsideReason != nil)
            }
            try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
            let hub = try Self.reopen(folder, configure: small)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            _ = try await Self.sync(device, hub)
            #expect(try hubStore.document(key("third")) != nil, "the gap at the restored hub closed")
            #expect(try hubStore.knowledge()[device.replicaID] == 3)
            #expect(try hubStore.document(key("big")) == nil, "quarantined again")
            #expect(try device.history(of: key("big")).first?.setAsideReason != nil)
            #expect(try await Self.sync(device, hub).isQuiet)
        }
    }

    /// Schedule: D writes three notes; a client pushes D:1 and D:3 without D:2 (a gap at the hub).
    /// Before the fix the hub refused D:3 without a word; now a client that lists `gap` gets a typed
    /// rejection naming the counter the hub holds, and an older client (no list) still gets none, since
    /// it would set aside a version rejected for a reason it does not know.
    @Test("a gap is answered with a typed rejection to clients that understand it, and silently to older ones")
    func gapRejection() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let device = try folder.create("device")
            let notes = CollectionName("notes")!
            let versions = try (0..<3).map { index in
                try device.write(WriteIntent(key: DocumentKey(collection: notes, id: DocumentID("n\(index)")!), body: Data("{}".utf8)))
            }
            var request = SyncRequest(
                replica: device.replicaID, counter: 3, checkpoint: nil, push: [versions[0], versions[2]])
            let old = try await hub.handle(request)
            #expect(old.rejected.isEmpty)
            request.understoodReasons = [.gap]
            let answer = try await hub.handle(request)
            let rejection = try #require(answer.rejected.first)
            #expect(answer.rejected.count == 1)
            #expect(rejection.dot == versions[2].dot)
            #expect(rejection.reason == .gap)
            #expect(rejection.heldCounter == 1)
            #expect(!rejection.quarantined)
            #expect(answer.knowledge[device.replicaID] == 1)
        }
    }
}
