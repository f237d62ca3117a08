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

    /// Runs `forget` in an apply transaction; returns what it did.
    static func forget(_ store: ReplicaStore, outside scope: String, acknowledged: UInt64) throws -> ForgetOutcome {
        let scope = try #require(Scope(text: scope))
        let origin = store.replicaID
        let result = Mutex(ForgetOutcome())
        try store.apply([], from: nil, inSameTransaction: { context in
            let outcome = try context.forget(outside: scope, keepingVersionsOf: origin, above: acknowledged)
            result.withLock { $0 = outcome }
        })
        return result.withLock { $0 }
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

            #expect(try Self.forget(local, outside: "notes/SD-*", acknowledged: 1) == ForgetOutcome(forgotten: 2, kept: 1))
            let left = Set(try local.documents(in: Self.notes, limit: 100).documents.map(\.key.id.description))
            #expect(left == ["in-scope", "unsent"])
            #expect(try local.history(of: received[1].key).isEmpty)
            // Its own versions stay, set aside, out of the rejections status lists.
            let sent = StoreFixtures.key("sent")
            #expect(try local.history(of: sent).map(\.setAsideReason) == [SetAsideReason.outsideReadScope])
            #expect(try local.setAsideVersions().isEmpty)
            // Forgetting is idempotent, and a forgotten version is stored again when it comes back.
            #expect(try Self.forget(local, outside: "notes/SD-*", acknowledged: 1) == ForgetOutcome(forgotten: 0, kept: 1))
            // Once the hub holds it, it goes too.
            #expect(try Self.forget(local, outside: "notes/SD-*", acknowledged: 2) == ForgetOutcome(forgotten: 1, kept: 0))
            #expect(try local.apply([received[1]], from: other.replicaID).stored == 1)
            #expect(try local.document(received[1].key) != nil)
            // A scope that covers them again brings the own versions back into their documents.
            let origin = local.replicaID
            let restored = Mutex(0)
            try local.apply([], from: nil, inSameTransaction: { context in
                let count = try context.restoreOwnVersions(within: .everything, of: origin)
                restored.withLock { $0 = count }
            })
            #expect(restored.withLock { $0 } == 2)
            #expect(try local.document(sent)?.siblings.map(\.dot.replica) == [origin])
            #expect(try local.history(of: sent).allSatisfy { $0.setAsideReason == nil })
        }
    }
}
