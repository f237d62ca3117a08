import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Two processes on one replica")
struct ConcurrencyTests {
    @Test func twoConnectionsWritingAtOnceLoseNothing() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create()
            // Two stores on one file: two connection pools, as the CLI and the daemon would have.
            let stores = [try folder.open(), try folder.open()]
            let tasks = 8
            let writesPerTask = 25
            let incoming = try folder.create("incoming")
            let received = try (0..<40).map { try incoming.write(StoreFixtures.put("in-\($0)", "x")) }

            let versions = try await withThrowingTaskGroup(of: [Version].self) { group in
                for task in 0..<tasks {
                    let store = stores[task % 2]
                    group.addTask {
                        var written: [Version] = []
                        for index in 0..<writesPerTask {
                            written.append(try store.write(StoreFixtures.put("t\(task)-\(index)", "x")))
                            if index.isMultiple(of: 5) {
                                // The daemon's side: applying received pages meanwhile.
                                let slice = Array(received[(index / 5 * 8)..<(index / 5 * 8 + 8)])
                                try store.apply(slice, from: incoming.replicaID)
                            }
                        }
                        return written
                    }
                }
                var all: [Version] = []
                for try await written in group { all += written }
                return all
            }
            let total = tasks * writesPerTask
            #expect(versions.count == total)
            #expect(Set(versions.map(\.dot.counter)) == Set(1...UInt64(total)), "counters are unique and contiguous")
            let check = try folder.open()
            let status = try check.status()
            #expect(status.counter == UInt64(total))
            #expect(status.versions == total + received.count)
            #expect(status.documentsPerCollection[StoreFixtures.notes] == total + received.count)
            #expect(try check.knowledge() == [check.replicaID: UInt64(total), incoming.replicaID: 40])
            for version in versions.prefix(20) {
                #expect(try check.document(version.key)?.siblings == [version])
            }
            #expect(try check.integrityProblems().isEmpty)
        }
    }

    @Test func concurrentEditsOfOneDocumentAllLandInHistory() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create()
            let stores = [try folder.open(), try folder.open()]
            let first = try stores[0].write(StoreFixtures.put("shared", "0"))
            let edits = 40
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<edits {
                    let store = stores[index % 2]
                    group.addTask { try store.write(StoreFixtures.put("shared", "\(index)")) }
                }
                try await group.waitForAll()
            }
            let history = try stores[1].history(of: first.key)
            #expect(history.count == edits + 1)
            let document = try #require(try stores[1].document(first.key))
            #expect(document.siblings.count == 1, "each write saw the one before: no false conflict")
            #expect(document.siblings.first?.dot.counter == UInt64(edits + 1))
            #expect(document.state == DocumentState(merging: history.map(\.version)))
        }
    }
}
