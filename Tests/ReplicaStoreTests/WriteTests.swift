import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Recording writes")
struct WriteTests {
    @Test func countersAre1_2_3AndSurviveReopening() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            let counters = try ["a", "b", "a"].map { try store.write(StoreFixtures.put($0, "x")).dot.counter }
            #expect(counters == [1, 2, 3])
            #expect(try store.counter() == 3)
            let reopened = try folder.open()
            #expect(try reopened.counter() == 3)
            #expect(try reopened.write(StoreFixtures.put("c", "y")).dot.counter == 4)
            #expect(try reopened.knowledge() == [store.replicaID: 4])
            #expect(try reopened.status().versions == 4)
        }
    }

    @Test func aCounterIsNeverReusedAfterACrashLikeCopy() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            for index in 0..<5 { try store.write(StoreFixtures.put("doc-\(index)", "x")) }
            // Copy the files while the store is still open, as a power cut would leave them:
            // the committed writes are in the write-ahead log, not yet in the main file.
            let source = folder.path("replica")
            let target = folder.path("after-crash")
            for suffix in ["", "-wal", ".key", ".datakey"] where FileManager.default.fileExists(atPath: source + suffix) {
                try FileManager.default.copyItem(atPath: source + suffix, toPath: target + suffix)
            }
            let recovered = try folder.open("after-crash")
            #expect(try recovered.counter() == 5)
            let next = try recovered.write(StoreFixtures.put("doc-9", "after"))
            #expect(next.dot == Dot(replica: store.replicaID, counter: 6))
            #expect(try recovered.status().versions == 6)
        }
    }

    @Test func aRefusedWriteUsesNoCounterAndChangesNothing() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            try store.write(StoreFixtures.put("a", "x", partition: StoreFixtures.north))
            let before = try StoreFixtures.view(store)
            #expect(throws: SyncEngineError.self) {
                try store.write(WriteIntent(key: StoreFixtures.key("a"), body: Data("[1]".utf8)))
            }
            #expect(throws: SyncEngineError.self) {
                try store.write(StoreFixtures.put("a", "moved", partition: StoreFixtures.south))
            }
            #expect(throws: SyncEngineError.self) {
                try store.write(
                    WriteIntent(key: StoreFixtures.key("a"), body: StoreFixtures.body("r"), isResolution: true))
            }
            let missing = #expect(throws: StoreError.self) {
                try store.write(WriteIntent(key: StoreFixtures.key("nope"), body: nil))
            }
            #expect(missing?.code == .documentNotFound)
            #expect(try store.counter() == 1)
            #expect(try StoreFixtures.view(store) == before)
            #expect(try store.write(StoreFixtures.put("b", "y")).dot.counter == 2)
        }
    }

    @Test func anEditSupersedesAndADeleteLeavesATombstone() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            let first = try store.write(StoreFixtures.put("a", "one", partition: StoreFixtures.north))
            let second = try store.write(StoreFixtures.put("a", "two"))
            #expect(second.context == [store.replicaID: 1])
            #expect(second.partition == StoreFixtures.north, "an edit keeps the document's partition")
            let tombstone = try store.write(WriteIntent(key: first.key, body: nil))
            let document = try #require(try store.document(first.key))
            #expect(document.siblings == [tombstone])
            #expect(document.isDeleted)
            #expect(try store.history(of: first.key).map(\.version) == [first, second, tombstone])
            #expect(try store.documents(in: StoreFixtures.notes).documents.isEmpty)
            #expect(
                try store.documents(in: StoreFixtures.notes, includeDeleted: true).documents.map(\.key) == [
                    first.key
                ])
            #expect(try store.status().deletedDocuments == 1)
        }
    }

    @Test func oversizedBodiesAreRefused() async throws {
        try await TemporaryReplica.withFolder { folder in
            var options = folder.options
            options.maximumBodySize = 64
            let store = try ReplicaStore.create(at: folder.path("small"), options: options)
            let error = #expect(throws: SyncEngineError.self) {
                try store.write(StoreFixtures.put("a", String(repeating: "x", count: 100)))
            }
            #expect(error?.code == .invalidBody)
            #expect(try store.counter() == 0)
        }
    }

    @Test func raiseCounterMovesOnlyUpward() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            try store.write(StoreFixtures.put("a", "x"))
            try store.raiseCounter(toAtLeast: 10)
            #expect(try store.counter() == 10)
            try store.raiseCounter(toAtLeast: 3)
            #expect(try store.counter() == 10)
            #expect(try store.write(StoreFixtures.put("b", "y")).dot.counter == 11)
        }
    }

    @Test func receivedTimestampsPushLaterLocalOnesUnlessAbsurd() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (ahead, local) = (stores[0], stores[1])
            var nearFuture = try ahead.write(StoreFixtures.put("a", "x"))
            nearFuture.timestamp = HybridTimestamp(wallMilliseconds: nearFuture.timestamp.wallMilliseconds + 3_600_000)
            try local.apply([nearFuture], from: ahead.replicaID)
            let after = try local.write(StoreFixtures.put("b", "y"))
            #expect(after.timestamp > nearFuture.timestamp, "a clock an hour ahead is followed")

            var absurd = try ahead.write(StoreFixtures.put("c", "x"))
            absurd.timestamp = HybridTimestamp(wallMilliseconds: absurd.timestamp.wallMilliseconds + 400 * 86_400_000)
            try local.apply([absurd], from: ahead.replicaID)
            let next = try local.write(StoreFixtures.put("d", "y"))
            #expect(next.timestamp < absurd.timestamp, "a clock a year ahead is not")
            #expect(next.timestamp > after.timestamp)
        }
    }

    @Test func timestampsIncreaseEvenWhenTheClockStepsBack() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            let first = try store.write(StoreFixtures.put("a", "x"))
            folder.clock.set(1_000)
            let second = try store.write(StoreFixtures.put("b", "y"))
            #expect(second.timestamp > first.timestamp)
        }
    }

    // MARK: Writes with a base (issue 11 §1)

    /// The schedule of issue 11 §1: replicas A and B share a note; A's observer reads it (`get
    /// --json`: the base); B edits it and the edit reaches A (`syncd run` pulls it); A's observer
    /// then writes with the base read. B's edit was never seen by A's writer, so it must stay
    /// beside A's version: a conflict on A, and on B once A's version reaches it.
    @Test func aWriteWithABaseKeepsAChangeItsWriterDidNotSee() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let first = try a.write(StoreFixtures.put("shared", "first"))
            try StoreFixtures.exchange(from: a, to: b)
            let base = try #require(try a.document(first.key)).state.context
            let colleague = try b.write(StoreFixtures.put("shared", "colleague"))
            try StoreFixtures.exchange(from: b, to: a)
            let mine = try a.write(WriteIntent(key: first.key, body: StoreFixtures.body("mine"), base: base))
            #expect(mine.context == [a.replicaID: 1])
            try StoreFixtures.exchange(from: a, to: b)
            for store in [a, b] {
                let document = try #require(try store.document(first.key))
                #expect(document.state.siblings == [colleague.dot, mine.dot].sorted())
            }
        }
    }

    /// The same schedule without a base: the write takes the replica's state at write time as its
    /// context, so the colleague's edit is superseded without a conflict. This is the documented
    /// behaviour of `put` without `--base`, kept for scripts that write without reading.
    @Test func aWriteWithoutABaseSupersedesWhatTheReplicaHolds() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let first = try a.write(StoreFixtures.put("shared", "first"))
            try StoreFixtures.exchange(from: a, to: b)
            let colleague = try b.write(StoreFixtures.put("shared", "colleague"))
            try StoreFixtures.exchange(from: b, to: a)
            let mine = try a.write(StoreFixtures.put("shared", "mine"))
            #expect(mine.context.contains(colleague.dot))
            #expect(try a.document(first.key)?.state.siblings == [mine.dot])
        }
    }

    @Test func aBaseThatSawEverythingWritesAsBefore() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            try a.write(StoreFixtures.put("shared", "first"))
            try StoreFixtures.exchange(from: a, to: b)
            let colleague = try b.write(StoreFixtures.put("shared", "colleague"))
            try StoreFixtures.exchange(from: b, to: a)
            let base = try #require(try a.document(colleague.key)).state.context
            let mine = try a.write(WriteIntent(key: colleague.key, body: StoreFixtures.body("mine"), base: base))
            #expect(mine.context == [a.replicaID: 1, b.replicaID: 1])
            #expect(try a.document(colleague.key)?.state.siblings == [mine.dot])
        }
    }

    @Test func aDeleteWithABaseLeavesAnUnseenEditBesideTheTombstone() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let first = try a.write(StoreFixtures.put("shared", "first"))
            try StoreFixtures.exchange(from: a, to: b)
            let base = try #require(try a.document(first.key)).state.context
            let colleague = try b.write(StoreFixtures.put("shared", "colleague"))
            try StoreFixtures.exchange(from: b, to: a)
            let tombstone = try a.write(WriteIntent(key: first.key, body: nil, base: base))
            let document = try #require(try a.document(first.key))
            #expect(document.state.siblings == [colleague.dot, tombstone.dot].sorted())
            #expect(!document.isDeleted)
        }
    }

    @Test func aBaseThatClaimsMoreThanTheReplicaHoldsIsRefusedAndChangesNothing() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let first = try a.write(StoreFixtures.put("shared", "first"))
            try b.write(StoreFixtures.put("elsewhere", "b's"))
            let before = try StoreFixtures.view(a)
            for base: VersionVector in [[a.replicaID: 2], [a.replicaID: 1, b.replicaID: 1]] {
                let error = #expect(throws: SyncEngineError.self) {
                    try a.write(WriteIntent(key: first.key, body: StoreFixtures.body("x"), base: base))
                }
                #expect(error?.code == .baseNotHeld)
            }
            #expect(try a.counter() == 1)
            #expect(try StoreFixtures.view(a) == before)
        }
    }

    @Test func aBaseOnADocumentThatDoesNotExistIsRefused() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            for body in [StoreFixtures.body("x"), nil] {
                let error = #expect(throws: StoreError.self) {
                    try store.write(WriteIntent(key: StoreFixtures.key("nope"), body: body, base: VersionVector()))
                }
                #expect(error?.code == .documentNotFound)
            }
            #expect(try store.counter() == 0)
        }
    }

    /// A replica's own versions of one document form a chain whatever the base: A wrote twice
    /// since the base was read, and a colleague's edit arrived; the third write covers A's second.
    @Test func ownVersionsStayAChainUnderABase() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (a, b) = (stores[0], stores[1])
            let first = try a.write(StoreFixtures.put("shared", "first"))
            try StoreFixtures.exchange(from: a, to: b)
            let base = try #require(try a.document(first.key)).state.context
            let second = try a.write(StoreFixtures.put("shared", "second"))
            let colleague = try b.write(StoreFixtures.put("shared", "colleague"))
            try StoreFixtures.exchange(from: b, to: a)
            let third = try a.write(WriteIntent(key: first.key, body: StoreFixtures.body("third"), base: base))
            #expect(third.context.contains(second.dot))
            #expect(!third.context.contains(colleague.dot))
            #expect(try a.document(first.key)?.state.siblings == [colleague.dot, third.dot].sorted())
        }
    }
}
