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
            #expect(history.first?.setAsideReason == ReplicaStore.outsideReadScope)

            try store.apply([], from: nil, inSameTransaction: { context in
                _ = try context.restoreOwnVersions(within: .everything, of: new)
            })
            #expect(try store.document(Self.key("b"))?.siblings.map(\.dot) == [written.dot])
        }
    }
}
