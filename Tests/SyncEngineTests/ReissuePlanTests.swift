import Foundation
import SyncEngine
import Testing

/// The algebra of re-issuing a forked replica's own versions when another incarnation of the same
/// device already re-issued some of them.
@Suite("Re-issue plan")
struct ReissuePlanTests {
    static let notes = CollectionName("notes")!

    static func version(_ dot: Dot, _ id: String, at wall: UInt64, context: VersionVector = VersionVector()) -> Version {
        Version(
            dot: dot, collection: notes, documentID: DocumentID(id)!, partition: Partition("A")!, context: context,
            body: Data(#"{"id":"\#(id)"}"#.utf8), timestamp: HybridTimestamp(wallMilliseconds: wall))
    }

    @Test("matched versions take the earlier dot, the others are numbered from 1 under the new id, and contexts follow")
    func mapping() {
        let old = ReplicaID.random(), new = ReplicaID.random(), earlier = ReplicaID.random()
        let own = [
            Self.version(Dot(replica: old, counter: 3), "a", at: 10),
            Self.version(Dot(replica: old, counter: 4), "b", at: 11),
            Self.version(Dot(replica: old, counter: 5), "c", at: 12),
        ]
        // The earlier incarnation re-issued "a" and "c" (as 1 and 2); "b" differs in time.
        let plan = ReissuePlan(
            reissuing: own, fork: Dot(replica: old, counter: 3), newID: new,
            earlier: [
                Self.version(Dot(replica: earlier, counter: 1), "a", at: 10),
                Self.version(Dot(replica: earlier, counter: 2), "c", at: 12),
                Self.version(Dot(replica: earlier, counter: 3), "b", at: 99),
            ])
        #expect(plan.mapping == [3: Dot(replica: earlier, counter: 1), 4: Dot(replica: new, counter: 1), 5: Dot(replica: earlier, counter: 2)])
        #expect(plan.taken.map(\.dot.counter) == [1, 2])

        var seen = VersionVector()
        seen[old] = 4
        let translated = plan.translate(seen)
        #expect(translated[old] == 2 && translated[earlier] == 1 && translated[new] == 1)
        var before = VersionVector()
        before[old] = 2
        #expect(plan.translate(before) == before, "entries below the fork stay")
    }

    @Test("without earlier re-issues the plan numbers every version under the new id")
    func plain() {
        let old = ReplicaID.random(), new = ReplicaID.random()
        let own = (1...3).map { Self.version(Dot(replica: old, counter: UInt64($0)), "d\($0)", at: UInt64($0)) }
        let plan = ReissuePlan(reissuing: own, fork: Dot(replica: old, counter: 1), newID: new, earlier: [])
        #expect(plan.mapping.values.sorted() == (1...3).map { Dot(replica: new, counter: UInt64($0)) })
        #expect(plan.taken.isEmpty)
    }
}
