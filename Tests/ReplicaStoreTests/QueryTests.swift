import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Reading a replica")
struct QueryTests {
    @Test func documentsPageNewestFirstWithACursor() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            var written: [DocumentKey] = []
            for index in 0..<11 {
                written.append(try store.write(StoreFixtures.put(String(format: "doc-%02d", index), "x")).key)
            }
            // Three documents written in the same millisecond: ties are broken by id, newest-id first.
            for id in ["tie-b", "tie-a", "tie-c"] {
                let store = try ReplicaStore.open(
                    at: folder.path("replica"), options: Self.frozen(at: 1_800_000_000_000))
                written.append(try store.write(StoreFixtures.put(id, "x")).key)
            }
            var pages: [[DocumentKey]] = []
            var cursor: String?
            repeat {
                let page = try store.documents(in: StoreFixtures.notes, limit: 4, after: cursor)
                pages.append(page.documents.map(\.key))
                cursor = page.nextCursor
            } while cursor != nil && pages.count < 10
            let expected =
                [StoreFixtures.key("tie-c"), StoreFixtures.key("tie-b"), StoreFixtures.key("tie-a")]
                + written.prefix(11).reversed()
            #expect(pages.flatMap { $0 } == expected)
            #expect(pages.map(\.count) == [4, 4, 4, 2])
            let exact = try store.documents(in: StoreFixtures.notes, limit: 14)
            #expect(exact.documents.count == 14 && exact.nextCursor == nil, "no empty last page")
        }
    }

    static func frozen(at milliseconds: UInt64) -> ReplicaStore.Options {
        var options = TemporaryReplica.unlocking(ReplicaStore.Options())
        options.now = { milliseconds }
        return options
    }

    @Test func documentsFilterByPartitionAndCollection() async throws {
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.create()
            let reports = CollectionName("reports")!
            try store.write(StoreFixtures.put("n1", "x", partition: StoreFixtures.north))
            try store.write(StoreFixtures.put("s1", "x", partition: StoreFixtures.south))
            try store.write(StoreFixtures.put("n2", "x", partition: StoreFixtures.north))
            try store.write(
                WriteIntent(
                    key: StoreFixtures.key("r1", in: reports), partition: StoreFixtures.north,
                    body: StoreFixtures.body("x")))
            let north = try store.documents(in: StoreFixtures.notes, partition: StoreFixtures.north)
            #expect(north.documents.map(\.key.id.rawValue) == ["n2", "n1"])
            #expect(north.documents.allSatisfy { $0.partition == StoreFixtures.north })
            #expect(
                try store.documents(in: StoreFixtures.notes, partition: Partition("east")!).documents.isEmpty)
            #expect(try store.documents(in: reports).documents.map(\.key.id.rawValue) == ["r1"])
            #expect(try store.status().documentsPerCollection == [StoreFixtures.notes: 3, reports: 1])
        }
    }

    @Test func aCursorFromElsewhereIsRefused() async throws {
        try await TemporaryReplica.withReplica { store in
            #expect(throws: StoreError.self) { try store.documents(in: StoreFixtures.notes, after: "garbage") }
        }
    }

    @Test func historyIsOldestFirstAcrossOrigins() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let first = try stores[0].write(StoreFixtures.put("a", "1"))
            try stores[1].apply([first], from: stores[0].replicaID)
            let second = try stores[1].write(StoreFixtures.put("a", "2"))
            let third = try stores[1].write(StoreFixtures.put("a", "3"))
            // Arrives in reverse order; history still follows the writers' clocks.
            try stores[0].apply([third, second], from: stores[1].replicaID)
            let history = try stores[0].history(of: first.key)
            #expect(history.map(\.version.dot) == [first.dot, second.dot, third.dot])
            #expect(history.map(\.receivedFrom) == [nil, stores[1].replicaID, stores[1].replicaID])
            #expect(try stores[0].history(of: StoreFixtures.key("none")).isEmpty)
            #expect(try stores[0].document(StoreFixtures.key("none")) == nil)
        }
    }

    @Test func conflictsListEveryConflictedDocumentWithItsSiblings() async throws {
        try await TemporaryReplica.withReplicas(2) { stores in
            let (one, two) = (stores[0], stores[1])
            for id in ["c", "a", "clean"] { try one.write(StoreFixtures.put(id, "base")) }
            try StoreFixtures.exchange(from: one, to: two)
            let mine = try ["c", "a"].map { try one.write(StoreFixtures.put($0, "mine")) }
            let theirs = try ["c", "a"].map { try two.write(StoreFixtures.put($0, "theirs")) }
            try StoreFixtures.exchange(from: two, to: one)
            let conflicts = try one.conflicts()
            #expect(conflicts.map(\.key) == [StoreFixtures.key("a"), StoreFixtures.key("c")])
            let a = try #require(conflicts.first)
            #expect(Set(a.siblings) == [mine[1], theirs[1]])
            #expect(a.isConflicted)
            #expect(try one.status().conflicts == 2)
            #expect(try one.conflicts(limit: 1).count == 1)

            let plain = #expect(throws: SyncEngineError.self) { try one.write(StoreFixtures.put("a", "edit")) }
            #expect(plain?.code == .conflict)
            let resolution = try one.write(
                WriteIntent(key: a.key, body: StoreFixtures.body("merged"), isResolution: true))
            #expect(resolution.context.contains(mine[1].dot) && resolution.context.contains(theirs[1].dot))
            #expect(try one.document(a.key)?.siblings == [resolution])
            #expect(try one.conflicts().map(\.key) == [StoreFixtures.key("c")])
            #expect(try one.history(of: a.key).count == 4, "the resolved siblings stay in history")
        }
    }
}
