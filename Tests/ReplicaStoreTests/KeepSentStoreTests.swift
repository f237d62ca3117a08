import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Delete after receipt in the store: what a drop keeps, and how a dropped version reads.
@Suite("Delete after receipt in the store")
struct KeepSentStoreTests {
    static let notes = CollectionName("notes")!

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, _ text: String) throws -> Version {
        try store.write(
            WriteIntent(
                key: DocumentKey(collection: notes, id: DocumentID(id)!), partition: Partition("SD-DN")!,
                body: Data(#"{"title":"\#(text)"}"#.utf8)))
    }

    /// A document in conflict keeps every sibling's body even when the hub has acknowledged them
    /// all (they are what `conflicts resolve` chooses between); a plain sent document, and a
    /// tombstone, are told apart after the drop; unsent versions stay; dropped ones are not pushed.
    @Test("a drop spares conflicted documents and unsent versions; a dropped version is no tombstone and is never pushed")
    func dropRules() async throws {
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (device, other) = (replicas[0], replicas[1])
            let sent = try Self.write(device, "sent", "sent and acknowledged")
            let mine = try Self.write(device, "conflicted", "my side")
            let theirs = try Self.write(other, "conflicted", "their side")
            try device.apply([theirs], from: other.replicaID)
            try device.write(WriteIntent(key: sent.key, body: nil))
            let unsent = try Self.write(device, "unsent", "not yet sent")
            let acknowledged = VersionVector([device.replicaID: unsent.dot.counter - 1, other.replicaID: 1])
            try device.updatePeer("hub") { $0.knowledge = acknowledged }

            #expect(try device.setKeepSent(.none) == 1)  // the tombstone has no body; the conflict keeps both
            let conflicted = try #require(try device.document(mine.key))
            #expect(conflicted.isConflicted && conflicted.droppedBodies.isEmpty)
            #expect(conflicted.siblings.allSatisfy { $0.body != nil })
            #expect(try device.document(unsent.key)?.siblings.first?.body != nil)
            let history = try device.history(of: sent.key)
            #expect(history.map(\.bodyDropped) == [true, false], "\(history)")
            #expect(try device.status().droppedBodies == 1)
            #expect(try device.document(sent.key)?.isDeleted == true)
            let pushable = try device.pushVersions(missingFrom: VersionVector(), limit: 100, maxBytes: 1 << 20).versions
            #expect(!pushable.map(\.dot).contains(sent.dot))
        }
    }

    @Test("keep sent=own keeps this replica's own acknowledged bodies and drops others'")
    func keepOwn() async throws {
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (device, other) = (replicas[0], replicas[1])
            let own = try Self.write(device, "own", "mine")
            let received = try Self.write(other, "received", "theirs")
            try device.apply([received], from: other.replicaID)
            try device.updatePeer("hub") { $0.knowledge = VersionVector([device.replicaID: 1, other.replicaID: 1]) }
            #expect(try device.setKeepSent(.own) == 1)
            #expect(try device.keepSent() == .own)
            #expect(try device.document(own.key)?.isNotKeptHere == false)
            let dropped = try #require(try device.document(received.key))
            #expect(dropped.isNotKeptHere && !dropped.isDeleted)
            #expect(try device.documents(in: Self.notes).documents.count == 2)
        }
    }
}
