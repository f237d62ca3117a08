import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Set-aside state follows its reason: what was set aside only because of another version comes
/// back when that version is set aside in turn.
@Suite("Set-aside versions")
struct SetAsideTests {
    /// Schedule: replica A writes document `k` in partition north; B, elsewhere, writes a document
    /// of the same id in partition south, and the hub takes B's first. A pulls B's version: since
    /// A holds `k` in north, B's is set aside as a partition move. The hub's answer rejects A's
    /// own version (it would move the hub's document), and A sets it aside. Before the fix A then
    /// showed no document `k` at all: B's version stayed set aside though the reason (A's version
    /// in good standing) was gone, so A's view did not match the network's.
    @Test func aPartitionMoveComesBackWhenTheVersionItYieldedToIsSetAside() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let mine = try a.write(StoreFixtures.put("k", "mine", partition: StoreFixtures.north))
            let theirs = try b.write(StoreFixtures.put("k", "theirs", partition: StoreFixtures.south))
            let report = try a.apply([theirs], from: b.replicaID)
            #expect(report.setAside.keys.sorted() == [theirs.dot])
            #expect(try a.document(mine.key)?.siblings == [mine])

            try a.setAside([mine.dot: SetAsideReason(.rejectedByHub, "rejected by the hub (invalid-record): Quarantined: it moves k")])
            let document = try #require(try a.document(mine.key))
            #expect(document.partition == StoreFixtures.south)
            #expect(document.siblings == [theirs])
            let history = try a.history(of: mine.key)
            #expect(history.first { $0.version.dot == theirs.dot }?.setAsideReason == nil)
            #expect(history.first { $0.version.dot == mine.dot }?.setAsideReason?.code == .rejectedByHub)
        }
    }

    /// Schedule: as above, but A wrote `k` twice in north and only the later one is rejected: A's
    /// first version stays in good standing, so B's stays set aside.
    @Test func aPartitionMoveStaysAsideWhileItsReasonHolds() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let mine = try a.write(StoreFixtures.put("k", "mine", partition: StoreFixtures.north))
            let later = try a.write(StoreFixtures.put("k", "later"))
            let theirs = try b.write(StoreFixtures.put("k", "theirs", partition: StoreFixtures.south))
            try a.apply([theirs], from: b.replicaID)
            try a.setAside([later.dot: SetAsideReason(.rejectedByHub, "rejected by the hub (invalid-record)")])
            let document = try #require(try a.document(mine.key))
            #expect(document.partition == StoreFixtures.north)
            #expect(document.siblings == [mine])
            #expect(try a.history(of: mine.key).first { $0.version.dot == theirs.dot }?.setAsideReason?.code == .partitionMove)
        }
    }

    /// Schedule: A writes three notes; the hub rejected the first, and A forgot the second when its
    /// read scope narrowed (both set aside here); a version of B's is set aside here too. A hub
    /// restored from a backup holds nothing of A: A's push to it carries its own set-aside versions
    /// in counter order (else A:3 is a gap the hub refuses forever), never B's.
    @Test func ownSetAsideVersionsArePushedToAPeerThatLacksThem() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let rejected = try a.write(StoreFixtures.put("r", "rejected"))
            let forgotten = try a.write(StoreFixtures.put("f", "forgotten"))
            let kept = try a.write(StoreFixtures.put("k", "kept"))
            let theirs = try b.write(StoreFixtures.put("t", "theirs"))
            try a.apply([theirs], from: b.replicaID)
            try a.setAside([
                rejected.dot: SetAsideReason(.rejectedByHub, "rejected by the hub (invalid-record)"),
                forgotten.dot: SetAsideReason.outsideReadScope,
                theirs.dot: SetAsideReason(.rejectedByHub, "rejected by the hub (bad-signature)"),
            ])
            let push = try a.pushVersions(missingFrom: VersionVector(), limit: 100, maxBytes: .max).versions
            #expect(push.map(\.dot) == [rejected.dot, forgotten.dot, kept.dot])
            let held = try a.pushVersions(missingFrom: VersionVector([a.replicaID: 3]), limit: 100, maxBytes: .max)
            #expect(held.versions.isEmpty, "a peer that holds them gets none again")
        }
    }
}
