import Foundation
import SyncEngine
import Testing

@Suite("DocumentState merge")
struct DocumentStateTests {
    let a = Fixtures.replica(0xa1)
    let b = Fixtures.replica(0xb2)
    let c = Fixtures.replica(0xc3)

    @Test func firstVersionMakesACleanDocument() {
        var state = DocumentState()
        #expect(state.isEmpty)
        let outcome = state.merge(Fixtures.version(a, 1))
        #expect(outcome == .added(superseded: []))
        #expect(state.siblings == [Dot(replica: a, counter: 1)])
        #expect(state.context == [a: 1])
        #expect(!state.isConflicted)
    }

    @Test func aVersionThatSawTheOnlySiblingReplacesIt() {
        var state = DocumentState()
        state.merge(Fixtures.version(a, 1))
        let outcome = state.merge(Fixtures.version(b, 1, context: [a: 1]))
        #expect(outcome == .added(superseded: [Dot(replica: a, counter: 1)]))
        #expect(state.siblings == [Dot(replica: b, counter: 1)])
        #expect(state.context == [a: 1, b: 1])
    }

    @Test func concurrentVersionsBecomeSiblings() {
        var state = DocumentState()
        state.merge(Fixtures.version(a, 1))
        state.merge(Fixtures.version(b, 1, context: [a: 1]))
        let outcome = state.merge(Fixtures.version(c, 1, context: [a: 1]))
        #expect(outcome == .added(superseded: []), "a:1 is already gone; c:1 does not cover b:1")
        #expect(state.siblings == [Dot(replica: b, counter: 1), Dot(replica: c, counter: 1)])
        #expect(state.isConflicted)
        #expect(state.context == [a: 1, b: 1, c: 1])
    }

    @Test func aVersionWhoseContextCoversEverySiblingCollapsesThem() {
        var state = DocumentState()
        state.merge(Fixtures.version(a, 1))
        state.merge(Fixtures.version(b, 1))
        state.merge(Fixtures.version(c, 1))
        #expect(state.siblings.count == 3)
        let resolution = Fixtures.version(a, 2, context: state.context)
        let outcome = state.merge(resolution)
        #expect(
            outcome
                == .added(superseded: [
                    Dot(replica: a, counter: 1), Dot(replica: b, counter: 1), Dot(replica: c, counter: 1),
                ]))
        #expect(state.siblings == [resolution.dot])
        #expect(state.context == [a: 2, b: 1, c: 1])
    }

    @Test func aVersionCoveringSomeSiblingsDropsOnlyThose() {
        var state = DocumentState()
        state.merge(Fixtures.version(a, 1))
        state.merge(Fixtures.version(b, 1))
        state.merge(Fixtures.version(c, 1))
        let outcome = state.merge(Fixtures.version(a, 2, context: [a: 1, b: 1]))
        #expect(outcome == .added(superseded: [Dot(replica: a, counter: 1), Dot(replica: b, counter: 1)]))
        #expect(state.siblings == [Dot(replica: a, counter: 2), Dot(replica: c, counter: 1)])
    }

    @Test func redeliveryIsAlreadyKnown() {
        var state = DocumentState()
        let version = Fixtures.version(a, 1)
        state.merge(version)
        let before = state
        #expect(state.merge(version) == .alreadyKnown)
        #expect(state == before)
    }

    @Test func anOldSupersededVersionArrivingLateIsAlreadyKnown() {
        let old = Fixtures.version(a, 1)
        let newer = Fixtures.version(b, 1, context: [a: 1])
        var state = DocumentState()
        state.merge(newer)
        let before = state
        #expect(state.merge(old) == .alreadyKnown)
        #expect(state == before)
        #expect(state.siblings == [newer.dot])
        #expect(state == DocumentState(merging: [old, newer]))
    }

    @Test func siblingsStaySortedWhateverTheArrivalOrder() {
        let versions = [Fixtures.version(c, 4), Fixtures.version(a, 2), Fixtures.version(b, 9)]
        let state = DocumentState(merging: versions)
        #expect(state.siblings == versions.map(\.dot).sorted())
        #expect(state == DocumentState(merging: versions.reversed()))
        #expect(DocumentState(siblings: versions.map(\.dot), context: state.context) == state)
    }
}
