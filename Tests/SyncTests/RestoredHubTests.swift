import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
@testable import SyncHub
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
        return HubExchange(storage: try SQLiteHubStorage(store: try folder.open("hub")), configuration: configuration, logger: silentLogger)
    }

    /// `store`'s body of `key` with the top-level `field` set to `value`.
    static func edited(_ store: ReplicaStore, _ key: DocumentKey, _ field: String, _ value: String) throws -> WriteIntent {
        let body = try #require(try store.document(key)?.siblings.first?.body)
        var object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        object[field] = value
        object.removeValue(forKey: JSONBody.resolutionField)
        return WriteIntent(key: key, body: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// The hub's merge writer in this process.
    static func writer(_ hub: HubExchange) throws -> ReplicaID {
        try #require(hub.storage as? SQLiteHubStorage).writer
    }

    /// A writes a situation that B and C pull; the hub is backed up; A and B edit different fields
    /// and push, and the hub merges them; only C pulls the merge; the hub is restored from the
    /// backup (its file only: the caller opens it). Returns A, B, C and the merge's dot.
    static func restoredAfterAMergeOnlyCHolds(
        _ folder: TemporaryReplica, _ key: DocumentKey
    ) async throws -> (ReplicaStore, ReplicaStore, ReplicaStore, Dot) {
        let (a, b, c) = (try folder.create("a"), try folder.create("b"), try folder.create("c"))
        do {
            let hub = try makeHub(in: folder)
            try a.write(WriteIntent(key: key, body: Data(HubFieldwiseMergeTests.situation.utf8)))
            for replica in [a, b, c] { _ = try await Self.sync(replica, hub) }
        }
        try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
        let merge: Dot
        do {
            let hub = try Self.reopen(folder)
            try a.write(try Self.edited(a, key, "overall_risk_level", "critical"))
            try b.write(try Self.edited(b, key, "title", "North Darfur, March (revised)"))
            _ = try await hub.handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a)))
            _ = try await hub.handle(HubExchangeTests.request(b, push: HubExchangeTests.missing(b)))
            _ = try await Self.sync(c, hub)
            merge = try #require(try c.document(key)?.siblings.first?.dot)
            #expect(merge.replica == (try Self.writer(hub)), "the merge is written under this process's writer id")
        }
        try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
        return (a, b, c, merge)
    }

    /// Schedule (fault seeds 108 and 611 of the 1,000-seed run): the hub merges A's and B's edits of
    /// a situation, and only C pulls the merge; the hub is restored from a backup taken before the
    /// edits; A and B sync and push their edits again, and the restored hub merges them again
    /// before C has spoken. Before the fix both merges took the hub's dot H:1, with different
    /// signatures: C held one content of H:1 and every other replica the other, for ever (no dot
    /// may have two contents). Now each hub process writes under a writer id of its own.
    @Test("a restored hub's merge never takes a dot of a merge only an absent device holds")
    func restoredHubNeverReusesAMergeDot() async throws {
        try await TemporaryReplica.withFolder { folder in
            let key = Self.situation("s1")
            let (a, b, c, firstMerge) = try await Self.restoredAfterAMergeOnlyCHolds(folder, key)
            let hub = try Self.reopen(folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            for replica in [a, b] { _ = try await Self.sync(replica, hub) }
            let secondMerge = try #require(try a.document(key)?.siblings.first?.dot)
            #expect(secondMerge != firstMerge)
            for _ in 0..<3 { for replica in [a, b, c] { _ = try await Self.sync(replica, hub) } }
            for replica in [a, b, c] {
                for held in try replica.versions(at: [firstMerge, secondMerge]) {
                    let hubs = try hubStore.versions(at: [held.dot])
                    #expect(hubs.map(\.signature) == [held.signature], "one content per dot: \(held.dot)")
                }
                #expect(try replica.document(key)?.siblings.map(\.dot) == hubStore.document(key)?.siblings.map(\.dot))
            }
        }
    }

    /// Schedule: as above, with signatures checked: C relays the first process's merge to the
    /// restored hub, which no longer knows that writer id. Before the fix the hub quarantined it as
    /// a forgery of an unknown origin. Now the hub recognizes its own key, takes the version, and
    /// certifies the writer id to devices that pull it.
    @Test("a restored hub takes back, and certifies, merges of its earlier writer ids that devices relay")
    func restoredHubRecognizesItsEarlierWriters() async throws {
        try await TemporaryReplica.withFolder { folder in
            let key = Self.situation("s1")
            let (a, b, c, firstMerge) = try await Self.restoredAfterAMergeOnlyCHolds(folder, key)
            let hub = HubExchange(
                storage: try SQLiteHubStorage(store: try folder.open("hub")), configuration: HubConfiguration(), logger: silentLogger)
            for replica in [a, b, c] { try await TrustTests.enroll(replica, at: hub) }
            let relayed = try c.versions(at: [firstMerge])
            let answer = try await hub.handle(HubExchangeTests.request(c, push: HubExchangeTests.missing(c)))
            #expect(!answer.rejected.contains { $0.dot == firstMerge }, "\(answer.rejected)")
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            #expect(try hubStore.versions(at: [firstMerge]).map(\.signature) == relayed.map(\.signature))
            let pulled = try await hub.handle(HubExchangeTests.request(a))
            #expect(pulled.versions.contains { $0.dot == firstMerge })
            let certificate = try #require(pulled.certificates?.first { $0.replica == firstMerge.replica })
            #expect(certificate.publicKey == hubStore.publicKey && certificate.isSigned(by: hubStore.publicKey))
        }
    }

    /// Schedule (fault seed 611 of the 1,000-seed run): A pushes a note; the hub is backed up; A
    /// pushes two more and D pushes one, and D's answer gives it a checkpoint naming its own note's
    /// row (sequence 4). The hub is restored from the backup; A pushes its two notes again, and D
    /// syncs with the old checkpoint, pushing its note again, which lands at sequence 4 as before.
    /// Before the fix the checkpoint still matched (the same dot at the same sequence): the hub
    /// did not reset it, D never sent its belief of what the hub holds, and the versions D had
    /// pulled and the hub lost (in the seed, a merge of the hub's) were never relayed back. Now a
    /// position also names a tag drawn when its row was stored, and a row stored again draws another.
    @Test("a checkpoint from before a restore is recognised even where the same version was stored again at its sequence")
    func checkpointOfARestoredFeedIsRecognisedByItsTag() async throws {
        try await TemporaryReplica.withFolder { folder in
            let (a, d) = (try folder.create("a"), try folder.create("d"))
            try HubExchangeTests.write(a, "n0")
            _ = try await makeHub(in: folder).handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a)))
            try ClientRecoveryTests.copy(folder, "hub", to: "hub-backup")
            for id in ["n1", "n2"] { try HubExchangeTests.write(a, id) }
            let note = try HubExchangeTests.write(d, "n3")
            let checkpoint: String?
            do {
                let hub = try Self.reopen(folder)
                _ = try await hub.handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a)))
                checkpoint = try await hub.handle(HubExchangeTests.request(d, push: [note])).checkpoint
            }
            let position = checkpoint.flatMap(PullCheckpoint.init)?.position
            #expect(position?.sequence == 4 && position?.tag != nil, "\(checkpoint ?? "none")")
            try ClientRecoveryTests.copy(folder, "hub-backup", to: "hub")
            let hub = try Self.reopen(folder)
            _ = try await hub.handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a)))
            let answer = try await hub.handle(HubExchangeTests.request(d, push: [note], checkpoint: checkpoint))
            #expect(answer.checkpointReset == true)
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
