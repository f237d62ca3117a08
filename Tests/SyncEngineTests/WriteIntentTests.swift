import Foundation
import SyncEngine
import Testing

@Suite("WriteIntent")
struct WriteIntentTests {
    let a = Fixtures.replica(0xa1)
    let b = Fixtures.replica(0xb2)
    let key = Fixtures.key("doc-1")
    let body = Data(#"{"title":"x"}"#.utf8)

    var conflicted: DocumentState {
        DocumentState(merging: [Fixtures.version(a, 1), Fixtures.version(b, 1)])
    }

    @Test func newDocumentGetsEmptyContextAndGivenOrDefaultPartition() throws {
        let plan = try WriteIntent(key: key, partition: Partition("p1"), body: body)
            .plan(against: DocumentState(), currentPartition: nil)
        #expect(plan.context.isEmpty)
        #expect(plan.partition == Partition("p1"))
        let unnamed = try WriteIntent(key: key, body: body).plan(against: DocumentState(), currentPartition: nil)
        #expect(unnamed.partition == .default)
    }

    @Test func anEditSeesTheWholeStateAndKeepsThePartition() throws {
        let state = DocumentState(merging: [Fixtures.version(a, 1), Fixtures.version(b, 1, context: [a: 1])])
        let plan = try WriteIntent(key: key, body: body).plan(against: state, currentPartition: Fixtures.partition)
        #expect(plan.context == state.context)
        #expect(plan.partition == Fixtures.partition)
        let same = try WriteIntent(key: key, partition: Fixtures.partition, body: nil)
            .plan(against: state, currentPartition: Fixtures.partition)
        #expect(same.partition == Fixtures.partition)
    }

    @Test func refusesAPlainEditOfAConflictedDocument() {
        let error = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body).plan(against: conflicted, currentPartition: Fixtures.partition)
        }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("conflicting versions") == true)
        #expect(error?.facts == key.facts, "the command line words its advice with the document's key")
        #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: nil).plan(against: conflicted, currentPartition: Fixtures.partition)
        }
    }

    @Test func aResolutionOfAConflictCoversEverySibling() throws {
        let state = conflicted
        let plan = try WriteIntent(key: key, body: body, isResolution: true)
            .plan(against: state, currentPartition: Fixtures.partition)
        #expect(state.siblings.allSatisfy(plan.context.contains))
    }

    @Test func aResolutionIsRefusedWhenASiblingArrivedSinceTheWriterLooked() throws {
        let seen = conflicted.siblings
        var state = conflicted
        state.merge(Fixtures.version(Fixtures.replica(0xc3), 1))
        let error = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body, isResolution: true, expectedSiblings: seen)
                .plan(against: state, currentPartition: Fixtures.partition)
        }
        #expect(error?.code == .conflict)
        #expect(error?.message.contains("changed while you were resolving") == true)
        let plan = try WriteIntent(key: key, body: body, isResolution: true, expectedSiblings: state.siblings.reversed())
            .plan(against: state, currentPartition: Fixtures.partition)
        #expect(state.siblings.allSatisfy(plan.context.contains))
    }

    @Test func refusesResolvingACleanDocument() {
        let clean = DocumentState(merging: [Fixtures.version(a, 1)])
        let error = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body, isResolution: true).plan(
                against: clean, currentPartition: Fixtures.partition)
        }
        #expect(error?.code == .conflict)
    }

    @Test func refusesAPartitionChange() {
        let clean = DocumentState(merging: [Fixtures.version(a, 1)])
        let error = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, partition: Partition("elsewhere"), body: body)
                .plan(against: clean, currentPartition: Fixtures.partition)
        }
        #expect(error?.code == .partitionMismatch)
    }

    // MARK: Writes with a base: the context is what the writer saw (issue 11 §1)

    /// The schedule of issue 11 §1: replicas A and B share a document (A:1); A's observer reads
    /// it (base {A:1}); B edits it (B:1 saw A:1) and syncs; A's `syncd run` pulls B:1, which
    /// supersedes A:1; A's observer then writes with the base read. The new version must not
    /// supersede B:1, which its writer never saw: both stay, a conflict. Without a base the new
    /// version supersedes B:1 (the documented behaviour of a write without a base).
    @Test func aChangePulledAfterTheReadStaysASibling() throws {
        let read = DocumentState(merging: [Fixtures.version(a, 1)])
        let base = read.context
        var state = read
        state.merge(Fixtures.version(b, 1, context: [a: 1]))
        let holding = DocumentHolding(
            state: state, partition: Fixtures.partition, ownHistory: [a: 1],
            contexts: [Dot(replica: a, counter: 1): [:], Dot(replica: b, counter: 1): [a: 1]])
        let plan = try WriteIntent(key: key, body: body, base: base).plan(holding)
        #expect(plan.context == [a: 1])
        #expect(!plan.context.contains(Dot(replica: b, counter: 1)))
        #expect(plan.unseenSiblings == [Dot(replica: b, counter: 1)])
        var after = state
        after.merge(dot: Dot(replica: a, counter: 2), context: plan.context)
        #expect(after.siblings == [Dot(replica: a, counter: 2), Dot(replica: b, counter: 1)])

        let blind = try WriteIntent(key: key, body: body).plan(holding)
        #expect(blind.context.contains(Dot(replica: b, counter: 1)), "without a base the state at write time is the context")
    }

    @Test func aBaseThatSawEverySiblingWritesLikeAWriteWithoutOne() throws {
        let state = DocumentState(merging: [Fixtures.version(a, 1), Fixtures.version(b, 2, context: [a: 1])])
        let holding = DocumentHolding(state: state, partition: Fixtures.partition, ownHistory: [a: 1])
        for base: VersionVector in [state.context, [b: 2], [a: 1, b: 2]] {
            let plan = try WriteIntent(key: key, body: body, base: base).plan(holding)
            let blind = try WriteIntent(key: key, body: body).plan(holding)
            #expect(plan == blind)
            #expect(plan.context == state.context.merged(with: [a: 1]))
            #expect(plan.unseenSiblings.isEmpty)
        }
    }

    @Test func aBaseMayNotClaimMoreThanTheReplicaHoldsOfTheDocument() {
        let c = Fixtures.replica(0xc3)
        let state = DocumentState(merging: [Fixtures.version(a, 1), Fixtures.version(b, 2, context: [a: 1])])
        let holding = DocumentHolding(state: state, partition: Fixtures.partition, ownHistory: [a: 1])
        for base: VersionVector in [[b: 3], [a: 1, b: 2, c: 1], [a: UInt64(Int64.max)]] {
            let error = #expect(throws: SyncEngineError.self) {
                try WriteIntent(key: key, body: body, base: base).plan(holding)
            }
            #expect(error?.code == .baseNotHeld)
            #expect(error?.message.contains("fieldcli") == false, "a library names no command")
        }
        // The replica's own versions count as held even when its state does not show them (set aside).
        let own = DocumentHolding(state: state, partition: Fixtures.partition, ownHistory: [a: 4])
        #expect(throws: Never.self) { try WriteIntent(key: key, body: body, base: [a: 4]).plan(own) }
    }

    @Test func theReplicasOwnVersionsStayAChainWhateverTheBase() throws {
        // A wrote a:1 then a:3 (a:2 is set aside, out of the state); the base saw only a:1.
        let state = DocumentState(merging: [Fixtures.version(a, 3, context: [a: 1]), Fixtures.version(b, 1, context: [a: 3])])
        let holding = DocumentHolding(state: state, partition: Fixtures.partition, ownHistory: [a: 3])
        let plan = try WriteIntent(key: key, body: nil, base: [a: 1]).plan(holding)
        #expect(plan.context == [a: 3])
        #expect(plan.unseenSiblings == [Dot(replica: b, counter: 1)])
    }

    @Test func aBaseIsClosedUnderWhatTheVersionsItCoversHadSeen() throws {
        // b:2 had seen a:1 and c:1; a base naming only b:2 still covers what b:2 covered, so a
        // replica that receives the new version before b:2 drops a:1 and c:1 as b:2 would.
        let c = Fixtures.replica(0xc3)
        let d = Fixtures.replica(0xd4)
        let state = DocumentState(merging: [
            Fixtures.version(a, 1), Fixtures.version(c, 1), Fixtures.version(b, 2, context: [a: 1, c: 1]),
            Fixtures.version(d, 1, context: [b: 2, a: 1, c: 1]),
        ])
        let contexts: [Dot: VersionVector] = [
            Dot(replica: a, counter: 1): [:], Dot(replica: c, counter: 1): [:],
            Dot(replica: b, counter: 2): [a: 1, c: 1], Dot(replica: d, counter: 1): [b: 2, a: 1, c: 1],
        ]
        let holding = DocumentHolding(state: state, partition: Fixtures.partition, contexts: contexts)
        let plan = try WriteIntent(key: key, body: body, base: [b: 2]).plan(holding)
        #expect(plan.context == [a: 1, b: 2, c: 1])
        #expect(plan.unseenSiblings == [Dot(replica: d, counter: 1)])
    }

    @Test func aBaseThatMissesSomeSiblingsOfAConflictWritesBesideThemWithoutResolving() throws {
        let c = Fixtures.replica(0xc3)
        var state = conflicted
        state.merge(Fixtures.version(c, 1))
        let holding = DocumentHolding(state: state, partition: Fixtures.partition)
        let plan = try WriteIntent(key: key, body: body, base: [a: 1, b: 1]).plan(holding)
        #expect(plan.context == [a: 1, b: 1])
        #expect(plan.unseenSiblings == [Dot(replica: c, counter: 1)])
        // Saying it resolves is refused: a resolution must have seen what it supersedes.
        let partial = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body, isResolution: true, base: [a: 1, b: 1]).plan(holding)
        }
        #expect(partial?.code == .conflict)
    }

    @Test func aBaseThatSawEverySiblingOfAConflictIsAResolutionAndMustSaySo() throws {
        let holding = DocumentHolding(state: conflicted, partition: Fixtures.partition)
        let error = #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body, base: conflicted.context).plan(holding)
        }
        #expect(error?.code == .conflict)
        let plan = try WriteIntent(key: key, body: body, isResolution: true, base: conflicted.context).plan(holding)
        #expect(conflicted.siblings.allSatisfy(plan.context.contains))
        // A resolution with a base of a document that is clean now (someone resolved it first) is refused.
        let clean = DocumentHolding(state: DocumentState(merging: [Fixtures.version(a, 1)]), partition: Fixtures.partition)
        #expect(throws: SyncEngineError.self) {
            try WriteIntent(key: key, body: body, isResolution: true, base: [a: 1]).plan(clean)
        }
    }

    @Test func anEmptyBaseSawNothing() throws {
        let state = DocumentState(merging: [Fixtures.version(a, 1)])
        let plan = try WriteIntent(key: key, body: body, base: VersionVector())
            .plan(DocumentHolding(state: state, partition: Fixtures.partition))
        #expect(plan.context.isEmpty)
        #expect(plan.unseenSiblings == [Dot(replica: a, counter: 1)])
    }
}
