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
        #expect(error?.message.contains("conflicts resolve") == true)
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
}
