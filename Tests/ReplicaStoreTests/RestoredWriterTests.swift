import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// A replica restored from a backup learns from the hub that its counter is higher (the answer
/// raised it) but has not pulled its later versions yet when it writes again.
@Suite("A restored replica that writes before it recovered its versions")
struct RestoredWriterTests {
    /// Schedule (fault seeds 442 and 732): the replica writes A:1 and, after its backup, A:2 on
    /// document n; the hub takes both. Restored from the backup, it syncs (the answer raises its
    /// counter to 2, the link is cut before A:2 arrives), writes A:3 on n (its context names A:1
    /// only), and then pulls A:2. A:3 does not supersede A:2: the hub keeps both as siblings.
    /// Before the fix the replica took A:2 as already seen (its state's joined vector, holding
    /// A:3, claims every dot of A up to 3) and showed A:3 alone, for ever.
    @Test("an own version pulled after a later write that did not see it is a sibling, as at the hub")
    func ownVersionPulledLater() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try folder.create("hub")
            let lost: Version
            do {
                let device = try folder.create("device")
                try device.write(StoreFixtures.put("n", "first"))
                try ReplicaFiles.copy(folder, "device", to: "backup")
                lost = try device.write(StoreFixtures.put("n", "second, after the backup"))
                _ = try StoreFixtures.exchange(from: device, to: hub)
            }
            try ReplicaFiles.copy(folder, "backup", to: "device")
            let restored = try folder.open("device")
            try restored.raiseCounter(toAtLeast: lost.dot.counter)
            let later = try restored.write(StoreFixtures.put("n", "third, after the restore"))
            #expect(later.dot.counter == 3 && !later.context.contains(lost.dot))
            try hub.apply([later], from: restored.replicaID)
            try restored.apply([lost], from: hub.replicaID)

            let key = StoreFixtures.key("n")
            let both = [lost.dot, later.dot]
            #expect(try hub.document(key)?.siblings.map(\.dot) == both)
            #expect(try restored.document(key)?.siblings.map(\.dot) == both, "the restored replica shows what the hub shows")
        }
    }

    @Test("a state built from versions equals the one merged version by version, whatever the order")
    func buildingEqualsMerging() throws {
        let a = ReplicaID.random()
        var first = VersionVector()
        first.add(Dot(replica: a, counter: 1))
        let versions = [
            Version(
                dot: Dot(replica: a, counter: 1), collection: StoreFixtures.notes, documentID: DocumentID("n")!,
                partition: Partition("default")!, context: VersionVector(), body: nil, timestamp: HybridTimestamp(wallMilliseconds: 1)),
            Version(
                dot: Dot(replica: a, counter: 2), collection: StoreFixtures.notes, documentID: DocumentID("n")!,
                partition: Partition("default")!, context: first, body: nil, timestamp: HybridTimestamp(wallMilliseconds: 2)),
            // Written by the restored replica: it had not seen A:2.
            Version(
                dot: Dot(replica: a, counter: 3), collection: StoreFixtures.notes, documentID: DocumentID("n")!,
                partition: Partition("default")!, context: first, body: nil, timestamp: HybridTimestamp(wallMilliseconds: 3)),
        ]
        let built = DocumentState(merging: versions)
        #expect(built.siblings == [versions[1].dot, versions[2].dot])
        for order in [[0, 1, 2], [0, 2, 1], [2, 1, 0], [1, 2, 0]] {
            var state = DocumentState()
            var merged: [Version] = []
            for index in order {
                state.merge(versions[index]) { dot in merged.contains { $0.context.contains(dot) } }
                merged.append(versions[index])
            }
            #expect(state == built, "order \(order)")
        }
    }
}
