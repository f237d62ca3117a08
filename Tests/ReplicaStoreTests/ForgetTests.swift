import Foundation
import ReplicaStore
import SyncEngine
import Synchronization
import Testing
import TestSupport

@Suite("Forgetting documents outside a read scope")
struct ForgetTests {
    static let notes = CollectionName("notes")!

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, in partition: String) throws -> Version {
        try store.write(
            WriteIntent(
                key: DocumentKey(collection: notes, id: DocumentID(id)!), partition: Partition(partition)!,
                body: Data(#"{"title":"x"}"#.utf8)))
    }

    /// Runs `forget` in an apply transaction; returns how many documents it forgot.
    static func forget(_ store: ReplicaStore, outside scope: String, acknowledged: UInt64) throws -> Int {
        let scope = try #require(Scope(text: scope))
        let origin = store.replicaID
        let count = Mutex(0)
        try store.apply([], from: nil, inSameTransaction: { context in
            let forgotten = try context.forget(outside: scope, keepingVersionsOf: origin, above: acknowledged)
            count.withLock { $0 = forgotten }
        })
        return count.withLock { $0 }
    }

    @Test("documents outside the scope go with their versions; those holding unsent own versions stay")
    func forgetsButKeepsUnsent() async throws {
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (local, other) = (replicas[0], replicas[1])
            let received = [
                try Self.write(other, "in-scope", in: "SD-DN"), try Self.write(other, "outside", in: "ML-1"),
            ]
            try local.apply(received, from: other.replicaID)
            try Self.write(local, "sent", in: "ML-1")  // counter 1: the hub holds it
            try Self.write(local, "unsent", in: "ML-2")  // counter 2: not yet pushed

            #expect(try Self.forget(local, outside: "notes/SD-*", acknowledged: 1) == 2)
            let left = Set(try local.documents(in: Self.notes, limit: 100).documents.map(\.key.id.description))
            #expect(left == ["in-scope", "unsent"])
            #expect(try local.history(of: received[1].key).isEmpty)
            // Forgetting is idempotent, and a forgotten version is stored again when it comes back.
            #expect(try Self.forget(local, outside: "notes/SD-*", acknowledged: 1) == 0)
            #expect(try local.apply([received[1]], from: other.replicaID).stored == 1)
            #expect(try local.document(received[1].key) != nil)
        }
    }
}
