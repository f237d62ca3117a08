import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// A replica file copied to a second machine (or restored and written since) forks: the copy
/// that syncs second takes a new incarnation, re-issues its versions under it, and nothing is lost.
@Suite("Client incarnation")
struct ClientIncarnationTests {
    static let collection = CollectionName("notes")!

    static func key(_ id: String) -> DocumentKey { DocumentKey(collection: collection, id: DocumentID(id)!) }

    static func body(_ text: String) -> Data { Data(#"{"text":"\#(text)"}"#.utf8) }

    /// Copies the replica files `name` (with its key and credential) to `target`.
    static func copy(_ folder: TemporaryReplica, _ name: String, to target: String) throws {
        let manager = FileManager.default
        for suffix in ["", "-wal", "-shm", ".key", ".credential", ".datakey"] {
            let source = folder.path(name) + suffix
            let destination = folder.path(target) + suffix
            try? manager.removeItem(atPath: destination)
            if manager.fileExists(atPath: source) { try manager.copyItem(atPath: source, toPath: destination) }
        }
    }

    /// Syncs in pages of two; without verification unless the replicas are enrolled (`verify`).
    static func sync(
        _ store: ReplicaStore, _ transport: any SyncTransport, peer: String = "test-hub", verify: Bool = false
    ) async throws -> SyncSummary {
        try await Synchronizer(
            store: store, transport: transport, peer: peer,
            configuration: .init(pageLimits: PageLimits(versions: 2, bytes: 1 << 20), retry: .never, verifySignatures: verify),
            logger: silentLogger
        ).run()
    }

    /// The writes both copies make after the copy: the original one document; the copy a new
    /// document, an edit of it, and an edit of the shared document.
    static func diverge(original: ReplicaStore, copy: ReplicaStore) throws -> (mine: Version, theirs: Version, shared: Version) {
        let mine = try original.write(WriteIntent(key: key("mine"), body: body("original")))
        try copy.write(WriteIntent(key: key("theirs"), body: body("copy, first")))
        let theirs = try copy.write(WriteIntent(key: key("theirs"), body: body("copy, edited")))
        let shared = try copy.write(WriteIntent(key: key("shared"), body: body("edited on the copy")))
        return (mine, theirs, shared)
    }

    /// Every document, on every side, as the same single sibling.
    static func expectConverged(_ stores: [ReplicaStore], old: ReplicaID, new: ReplicaID) throws {
        for store in stores {
            let mine = try #require(try store.document(key("mine")))
            #expect(mine.siblings.map(\.dot) == [Dot(replica: old, counter: 2)])
            let theirs = try #require(try store.document(key("theirs")))
            #expect(theirs.siblings.map(\.dot) == [Dot(replica: new, counter: 2)], "the re-issued edit supersedes the re-issued first write")
            #expect(theirs.siblings.first?.body == body("copy, edited"))
            let shared = try #require(try store.document(key("shared")))
            #expect(shared.siblings.map(\.dot) == [Dot(replica: new, counter: 3)], "the edit made on the copy supersedes the shared original")
            #expect(shared.siblings.first?.body == body("edited on the copy"))
        }
    }

    @Test("the second copy to sync takes a new incarnation, re-issues its versions, and nothing is lost")
    func inProcess() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let transport = InProcessTransport(hub: hub)
            let old: ReplicaID
            do {
                let original = try folder.create("original")
                old = original.replicaID
                try original.write(WriteIntent(key: Self.key("shared"), body: Self.body("shared")))
                _ = try await Self.sync(original, transport)
            }
            try Self.copy(folder, "original", to: "copy")
            let original = try folder.open("original")
            let copy = try folder.open("copy")
            _ = try Self.diverge(original: original, copy: copy)
            _ = try await Self.sync(original, transport)
            _ = try await Self.sync(copy, transport)

            let new = try copy.currentReplicaID()
            #expect(new != old)
            let incarnation = try #require(try copy.earlierIncarnations().first)
            #expect(incarnation.replicaID == old && incarnation.succeededBy == new && incarnation.reissued == 3)
            #expect(incarnation.forkedAt == Dot(replica: old, counter: 2))
            #expect(try copy.status().earlierIncarnations == [incarnation])
            #expect(try copy.counter() == 3)
            // The re-issued edit's context names the re-issued first write, not the old id's dot.
            let edit = try #require(try copy.history(of: Self.key("theirs")).first { $0.version.dot == Dot(replica: new, counter: 2) })
            #expect(edit.version.context[new] == 1 && edit.version.context[old] == 1)

            _ = try await Self.sync(original, transport)
            try Self.expectConverged([hubStore, original, copy], old: old, new: new)
            #expect(try hubStore.status().versions == 5)
            // Syncing again changes nothing.
            #expect(try await Self.sync(copy, transport).isQuiet)
            #expect(try await Self.sync(original, transport).isQuiet)
            // The copy writes on under its new id, even through the store value opened before the fork.
            let later = try copy.write(WriteIntent(key: Self.key("later"), body: Self.body("after")))
            #expect(later.dot == Dot(replica: new, counter: 4))
            _ = try await Self.sync(copy, transport)
            _ = try await Self.sync(original, transport)
            #expect(try original.document(Self.key("later"))?.siblings.map(\.dot) == [later.dot])
        }
    }

    /// Replays a review's finding (schedule: a copied device and a bundle). A writes X:1..4 and
    /// syncs; D pulls them. B, a file copy of A, writes X:5' and hands it to D outside the hub (a
    /// bundle: applied as one). A writes X:5..10 and syncs; D pulls. Before, D refused the hub's
    /// X:5 as a fork and every later X version of the batch, saved the checkpoint past them and
    /// never asked again: A's reports 5 to 10 were missing at D for good (with pages of two, the
    /// first of each later page was stored, so a later page raised D's knowledge over the hole).
    /// Now the hub's version takes the dot, the copy waits in `forked_versions`, and B's
    /// incarnation brings its content under B's new id: every report once at D.
    @Test("a device holding another copy's version of a dot takes the hub's, loses none after it, and gets the copy's content again from its incarnation")
    func anotherOriginsForkDoesNotLoseWhatFollowsIt() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try makeHub(in: folder)
            let transport = InProcessTransport(hub: hub)
            let reader = try folder.create("reader")
            do {
                let original = try folder.create("original")
                for index in 1...4 { try original.write(WriteIntent(key: Self.key("a\(index)"), body: Self.body("a\(index)"))) }
                _ = try await Self.sync(original, transport)
            }
            _ = try await Self.sync(reader, transport)
            try Self.copy(folder, "original", to: "copy")
            let original = try folder.open("original")
            let copy = try folder.open("copy")
            let planted = try copy.write(WriteIntent(key: Self.key("b5"), body: Self.body("b5")))
            try reader.apply([planted], from: copy.replicaID)
            for index in 5...10 { try original.write(WriteIntent(key: Self.key("a\(index)"), body: Self.body("a\(index)"))) }
            _ = try await Self.sync(original, transport)

            _ = try await Self.sync(reader, transport)
            for index in 1...10 {
                #expect(try reader.document(Self.key("a\(index)"))?.siblings.first?.body == Self.body("a\(index)"), "a\(index)")
            }
            #expect(try reader.document(Self.key("b5")) == nil, "the copy's version gave way to the hub's at its dot")

            _ = try await Self.sync(copy, transport)
            #expect(try copy.currentReplicaID() != original.replicaID, "the copy took a new incarnation")
            _ = try await Self.sync(reader, transport)
            let b5 = try #require(try reader.document(Self.key("b5")))
            #expect(b5.siblings.map(\.body) == [Self.body("b5")])
            #expect(b5.siblings.first?.dot.replica == (try copy.currentReplicaID()))
        }
    }

    @Test("over HTTP the hub binds the new incarnation to the device, and every version it holds verifies")
    func overHTTP() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let old: ReplicaID
                let token: String
                do {
                    let original = try folder.create("original")
                    old = original.replicaID
                    token = try await hub.enroll(original, name: "amina-laptop", save: true)
                    try original.write(WriteIntent(key: Self.key("shared"), body: Self.body("shared")))
                    _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                }
                try Self.copy(folder, "original", to: "copy")
                let original = try folder.open("original")
                let copy = try folder.open("copy")
                #expect(HubCredentials.savedToken(for: copy) == token)
                _ = try Self.diverge(original: original, copy: copy)
                _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                _ = try await Self.sync(copy, Self.transport(hub, token), verify: true)
                _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                let new = try copy.currentReplicaID()
                #expect(new != old)
                try Self.expectConverged([hub.store, original, copy], old: old, new: new)
                #expect(try await Self.sync(copy, Self.transport(hub, token), verify: true).isQuiet)

                // Operators see the incarnation; the key directory serves the key for both ids.
                let device = try #require(try hub.store.devices().first { $0.replicaID == old })
                #expect(device.incarnations == [new])
                let keys = try hub.store.enrolledKeys(of: [old, new])
                #expect(keys[old] == copy.publicKey && keys[new] == copy.publicKey)
                // `fieldcli verify` on the hub: every version verifies against its origin's key.
                let stored = try hub.store.storedVersions(afterSequence: 0, limit: 1_000)
                #expect(stored.count == 5)
                #expect(stored.allSatisfy { $0.setAsideReason == nil })
                let all = try hub.store.enrolledKeys(of: Set(stored.map(\.version.dot.replica)))
                for item in stored {
                    #expect(all[item.version.dot.replica]?.isValidSignature(of: item.version) == true, "\(item.version.dot)")
                }
                // The pulled versions verify on the copies too.
                for store in [original, copy] {
                    for item in try store.storedVersions(afterSequence: 0, limit: 1_000) {
                        #expect(try store.signatureStatus(of: item.version) == .valid, "\(item.version.dot)")
                    }
                }
                // The credential may not take an id already in use.
                await #expect(throws: SyncClientError.self) {
                    _ = try await Self.transport(hub, token).incarnate(IncarnationRequest(replica: hub.exchange.hubID))
                }
            }
        }
    }

    /// Schedule (fault seeds 45, 231, 386, 414): a replica and its copy write the same dot; the
    /// replica is backed up, syncs, takes a new incarnation and re-issues its version; then it is
    /// restored from the backup and syncs again. Before the fix the restored replica took another
    /// incarnation and re-issued the same version a second time, so the hub held one report twice,
    /// as two siblings of one document.
    @Test("a replica restored from a backup older than its incarnation takes the earlier re-issue instead of re-issuing again")
    func restoredAfterIncarnation() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let (old, token) = try await Self.enrollAndShare(hub, folder)
                try Self.copy(folder, "original", to: "copy")
                do {
                    let copy = try folder.open("copy")
                    try copy.write(WriteIntent(key: Self.key("theirs"), body: Self.body("copy")))
                    _ = try await Self.sync(copy, Self.transport(hub, token), verify: true)
                    let original = try folder.open("original")
                    try original.write(WriteIntent(key: Self.key("mine"), body: Self.body("original")))
                }
                try Self.copy(folder, "original", to: "backup")
                let first: ReplicaID
                do {
                    let original = try folder.open("original")
                    _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                    first = try original.currentReplicaID()
                    #expect(first != old)
                }
                try Self.copy(folder, "backup", to: "original")
                let restored = try folder.open("original")
                _ = try await Self.sync(restored, Self.transport(hub, token), verify: true)
                let second = try restored.currentReplicaID()
                #expect(second != old && second != first)

                let mine = [Dot(replica: first, counter: 1)]
                #expect(try hub.store.history(of: Self.key("mine")).map(\.version.dot) == mine, "the report is held once")
                #expect(try hub.store.document(Self.key("mine"))?.siblings.map(\.dot) == mine)
                #expect(try restored.document(Self.key("mine"))?.siblings.map(\.dot) == mine)
                #expect(try restored.earlierIncarnations().last?.reissued == 0)
                // The restored replica writes on under its new id from 1, and stays in step.
                let later = try restored.write(WriteIntent(key: Self.key("mine"), body: Self.body("edited")))
                #expect(later.dot == Dot(replica: second, counter: 1) && later.context[first] == 1)
                _ = try await Self.sync(restored, Self.transport(hub, token), verify: true)
                #expect(try hub.store.document(Self.key("mine"))?.siblings.map(\.dot) == [later.dot])
                #expect(try await Self.sync(restored, Self.transport(hub, token), verify: true).isQuiet)
            }
        }
    }

    /// Schedule (fault seed 729): a replica is copied before its first sync. The original syncs,
    /// then writes R:2 and R:3, the latter outside its write scope: the hub quarantines R:3. The
    /// copy writes its own R:2 and R:3 and syncs: it pushes R:1 again (so the hub looks up what it
    /// holds again), R:2 (a fork) and R:3 (refused unread after the fork). Before the fix the hub
    /// reported the copy's R:3 as quarantined (by its dot: the original's R:3 is held there), the
    /// copy set it aside as rejected and did not re-issue it, and its report never reached the hub.
    @Test("a version refused after a fork is not reported as the quarantined version another copy pushed at that dot")
    func refusedAfterForkIsNotQuarantined() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let a = Partition("A")!
                let grants = AccessGrants(read: .everything, write: try #require(Scope(text: "notes/A")))
                let token: String
                do {
                    let original = try folder.create("original")
                    token = try await hub.enroll(original, name: "amina-laptop", grants: grants, save: true)
                    try original.write(WriteIntent(key: Self.key("shared"), partition: a, body: Self.body("shared")))
                }
                try Self.copy(folder, "original", to: "copy")
                do {
                    let original = try folder.open("original")
                    _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                    try original.write(WriteIntent(key: Self.key("o2"), partition: a, body: Self.body("original")))
                    try original.write(WriteIntent(key: Self.key("o3"), partition: Partition("B")!, body: Self.body("out of scope")))
                    _ = try await Self.sync(original, Self.transport(hub, token), verify: true)
                }
                let copy = try folder.open("copy")
                try copy.write(WriteIntent(key: Self.key("c2"), partition: a, body: Self.body("copy")))
                try copy.write(WriteIntent(key: Self.key("c3"), partition: a, body: Self.body("copy, in scope")))
                _ = try await Self.sync(copy, Self.transport(hub, token), verify: true)

                #expect(try copy.earlierIncarnations().last?.reissued == 2, "both of the copy's versions are re-issued")
                #expect(try hub.store.document(Self.key("c3"))?.siblings.first?.body == Self.body("copy, in scope"))
                #expect(try copy.document(Self.key("c3"))?.siblings.count == 1)
            }
        }
    }

    /// Enrolls the replica "original", writes the shared document and syncs it; closes the replica.
    static func enrollAndShare(_ hub: HubFixture, _ folder: TemporaryReplica) async throws -> (ReplicaID, String) {
        let original = try folder.create("original")
        let token = try await hub.enroll(original, name: "amina-laptop", save: true)
        try original.write(WriteIntent(key: key("shared"), body: body("shared")))
        _ = try await sync(original, transport(hub, token), verify: true)
        return (original.replicaID, token)
    }

    /// A generous time-out: the whole suite (over 400 tests) runs in parallel on two cores.
    static func transport(_ hub: HubFixture, _ token: String) -> HTTPSyncTransport {
        HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 30))
    }
}
