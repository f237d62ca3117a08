import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// What a replica that took a new incarnation keeps of the versions it wrote under its earlier id.
@Suite("Incarnations in the store")
struct IncarnationTests {
    static let notes = CollectionName("notes")!

    static func key(_ id: String) -> DocumentKey { DocumentKey(collection: notes, id: DocumentID(id)!) }

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, in partition: String) throws -> Version {
        try store.write(
            WriteIntent(key: key(id), partition: Partition(partition)!, body: Data(#"{"title":"\#(id)"}"#.utf8)))
    }

    /// Schedule: a replica writes old:1 in partition B (the hub takes it) and old:2 in partition A;
    /// it forks at old:2 and goes on as new (old:2 re-issued as new:1). The operator narrows its
    /// read scope to A: it forgets partition B. old:1 is its own write under its earlier id: it
    /// stays in its history, set aside, and comes back when the scope covers B again; only other
    /// replicas' versions are dropped.
    @Test("forgetting a document keeps the replica's own versions of its earlier ids, and a wider scope brings them back")
    func forgettingKeepsEarlierOwnVersions() async throws {
        try await TemporaryReplica.withReplicas(1) { replicas in
            let store = replicas[0]
            let written = try Self.write(store, "b", in: "B")
            try Self.write(store, "a", in: "A")
            let new = ReplicaID.random()
            try store.takeIncarnation(forkAt: Dot(replica: written.dot.replica, counter: 2), newID: new)
            let narrow = try #require(Scope(text: "notes/A"))
            try store.apply([], from: nil, inSameTransaction: { context in
                _ = try context.forget(outside: narrow, keepingVersionsOf: new, above: 1)
            })
            #expect(try store.document(Self.key("b")) == nil)
            let history = try store.history(of: Self.key("b"))
            #expect(history.map(\.version.dot) == [written.dot], "an own version is never dropped")
            #expect(history.first?.setAsideReason == SetAsideReason.outsideReadScope)

            try store.apply([], from: nil, inSameTransaction: { context in
                _ = try context.restoreOwnVersions(within: .everything, of: new)
            })
            #expect(try store.document(Self.key("b"))?.siblings.map(\.dot) == [written.dot])
        }
    }

    /// Schedule (fault seeds 45, 231, 386, 414, at the store): a replica's copy took incarnation E
    /// and re-issued old:1 and old:2 as E:1 and E:2; the replica (restored from a backup older
    /// than E) takes its own incarnation N. The hub names E's versions: the genuine E:1 stands for
    /// old:1, but E:2 with a changed body (its signature no longer verifies: a compromised hub's
    /// forgery) is not taken, and old:2 is re-issued as N:1.
    @Test("an earlier re-issue stands for an own version only when signed by this replica's key and equal to it")
    func earlierReissueTakesThePlace() async throws {
        try await TemporaryReplica.withFolder { folder in
            let old: ReplicaID
            do {
                let store = try folder.create("a")
                old = store.replicaID
                try Self.write(store, "x", in: "A")
                try Self.write(store, "y", in: "A")
            }
            for suffix in ["", "-wal", "-shm", ".key", ".datakey"] where FileManager.default.fileExists(atPath: folder.path("a") + suffix) {
                try FileManager.default.copyItem(atPath: folder.path("a") + suffix, toPath: folder.path("b") + suffix)
            }
            let earlierID = ReplicaID.random()
            let earlier = try folder.open("b").takeIncarnation(forkAt: Dot(replica: old, counter: 1), newID: earlierID)
            #expect(earlier.map(\.dot.counter) == [1, 2])
            var forged = earlier[1]
            forged.body = Data(#"{"title":"y, as the hub would have it"}"#.utf8)

            let store = try folder.open("a")
            let next = ReplicaID.random()
            let reissued = try store.takeIncarnation(
                forkAt: Dot(replica: old, counter: 1), newID: next, reissuedEarlier: [earlier[0], forged], from: ReplicaID.random())
            #expect(reissued.map(\.dot) == [Dot(replica: next, counter: 1)])
            #expect(try store.document(Self.key("x"))?.siblings.map(\.dot) == [earlier[0].dot])
            #expect(try store.document(Self.key("y"))?.siblings.map(\.body) == [Data(#"{"title":"y"}"#.utf8)])
            #expect(try store.counter() == 1)
            #expect(try store.earlierIncarnations().last?.reissued == 1)
            // A later write names the earlier re-issue in its context.
            let edit = try store.write(WriteIntent(key: Self.key("x"), partition: Partition("A")!, body: Data(#"{"title":"x2"}"#.utf8)))
            #expect(edit.context[earlierID] == 1 && edit.dot == Dot(replica: next, counter: 2))
        }
    }
}
