import Foundation
@testable import HubStorePostgres
import Logging
import PostgresNIO
import SyncEngine
import Testing

/// The proof that the PostgreSQL feed follows commit order: writers with connection pools of their
/// own (as separate hub processes) append concurrently, each transaction pausing a random moment
/// after its positions are drawn and before it commits, while readers page from the start all the
/// while with small pages. At the end every reader, having paged to the end once more, holds every
/// version in its scope exactly once, and nothing else. The negative control draws positions from the sequence alone: the same
/// proof then catches readers that skipped versions, so the proof can fail.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct FeedCommitOrderTests {
    struct Figures: CustomStringConvertible {
        var writers = 0
        var readers = 0
        var versions = 0
        var pages = 0
        /// Per reader: versions it never received.
        var skipped: [Int] = []
        /// Per reader: versions it received more than once.
        var duplicated: [Int] = []
        var restarts = 0
        var seconds = 0.0

        var description: String {
            "\(writers) writers, \(readers) readers, \(versions) versions, \(pages) pages read, skipped per reader \(skipped), "
                + "duplicated \(duplicated), restarts \(restarts), \(String(format: "%.2f", seconds)) s"
        }
    }

    /// Three readers of everything and one of two writers' regions (its pages skip ahead past the
    /// versions out of its scope, to the feed's last position in its snapshot).
    static let readerScopes = [
        Scope.everything, .everything, .everything, Scope(text: "observations/R-0,observations/R-2") ?? .nothing,
    ]

    @Test func everyReaderEndsWithEveryVersionOnce() async throws {
        let figures = try await prove(
            commitOrder: .serialized, writers: 4, readers: Self.readerScopes, batches: 40, batchSize: 5,
            pause: CommitPauses.random(upTo: 3))
        print("commit-order proof (serialized): \(figures)")
        #expect(figures.versions == 800)
        #expect(figures.skipped == [0, 0, 0, 0])
        #expect(figures.duplicated == [0, 0, 0, 0])
        #expect(figures.restarts == 0)
    }

    @Test func withoutTheLockTheProofCatchesSkippedVersions() async throws {
        // The negative control: positions from the sequence alone, with a pause between drawing
        // them and committing, the first append's held for 400 ms while the others commit.
        // Readers then pass positions whose versions commit later.
        var attempts: [Figures] = []
        for _ in 0..<3 {
            let figures = try await prove(
                commitOrder: .plainSequence, writers: 4, readers: Self.readerScopes, batches: 40, batchSize: 5,
                pause: CommitPauses.firstHeld(for: .milliseconds(400), thenUpTo: 8))
            print("commit-order proof (plain sequence, negative control): \(figures)")
            attempts.append(figures)
            if figures.skipped.contains(where: { $0 > 0 }) { break }
        }
        #expect(attempts.contains { $0.skipped.contains { $0 > 0 } }, "no skip detected in \(attempts)")
        #expect(attempts.allSatisfy { $0.duplicated.allSatisfy { $0 == 0 } })
    }

    /// Set once every writer is done; readers then page to the end once more and stop.
    private actor Finish {
        private(set) var writersDone = false
        func markWritersDone() { writersDone = true }
    }

    private func prove(
        commitOrder: PostgresFeed.CommitOrder, writers: Int, readers scopes: [Scope], batches: Int, batchSize: Int,
        pause: @escaping @Sendable () async throws -> Void
    ) async throws -> Figures {
        let readers = scopes.count
        return try await PostgresTestDatabase.withClients(writers + readers) { clients, schema in
            let started = ContinuousClock.now
            let writerFeeds = try (0..<writers).map { index in
                try PostgresFeed(
                    client: clients[index], schema: schema, logger: PostgresTestDatabase.quiet,
                    commitOrder: commitOrder,
                    beforeCommit: pause)
            }
            let readerFeeds = try (0..<readers).map { index in
                try PostgresFeed(client: clients[writers + index], schema: schema, logger: PostgresTestDatabase.quiet)
            }
            let origins = (0..<writers).map { _ in ReplicaID.random() }
            let finish = Finish()
            // Writer i writes observations in partition R-i; a reader expects those its scope allows.
            let partitions = try (0..<writers).map { try #require(Partition("R-\($0)")) }
            let observations = try #require(CollectionName("observations"))
            let expected: [Set<Dot>] = scopes.map { scope in
                var dots: Set<Dot> = []
                for (index, origin) in origins.enumerated()
                where scope.allows(collection: observations, partition: partitions[index]) {
                    for counter in 1...(batches * batchSize) {
                        dots.insert(Dot(replica: origin, counter: UInt64(counter)))
                    }
                }
                return dots
            }
            return try await withThrowingTaskGroup(of: (Int, ReaderResult).self) { group in
                for (index, feed) in readerFeeds.enumerated() {
                    let scope = scopes[index]
                    group.addTask { (index, try await read(feed, scope: scope, finish: finish)) }
                }
                try await withThrowingTaskGroup(of: Void.self) { writing in
                    for (index, feed) in writerFeeds.enumerated() {
                        let origin = origins[index]
                        writing.addTask {
                            for batch in 0..<batches {
                                let versions = try (1...batchSize).map {
                                    try FeedFixtures.version(
                                        origin, UInt64(batch * batchSize + $0), partition: "R-\(index)")
                                }
                                let report = try await feed.append(versions, receivedFrom: origin)
                                #expect(report.stored == batchSize)
                            }
                        }
                    }
                    try await writing.waitForAll()
                }
                await finish.markWritersDone()
                var figures = Figures(writers: writers, readers: readers, versions: writers * batches * batchSize)
                figures.skipped = Array(repeating: 0, count: readers)
                figures.duplicated = Array(repeating: 0, count: readers)
                for try await (index, result) in group {
                    figures.pages += result.pages
                    figures.restarts += result.restarts
                    figures.skipped[index] = expected[index].subtracting(result.received.keys).count
                    figures.duplicated[index] = result.received.values.filter { $0 > 1 }.count
                    // Nothing outside the reader's scope.
                    #expect(Set(result.received.keys).isSubset(of: expected[index]))
                }
                // The knowledge a page claims covers every version written.
                let last = try await readerFeeds[0].page(
                    after: .start, limit: 1, maxBytes: 1 << 20, knowledgeOf: Set(origins))
                for origin in origins {
                    #expect(last.knowledge[origin] == UInt64(batches * batchSize))
                }
                let elapsed = (ContinuousClock.now - started).components
                figures.seconds = Double(elapsed.seconds) + Double(elapsed.attoseconds) / 1e18
                return figures
            }
        }
    }

    private struct ReaderResult: Sendable {
        var received: [Dot: Int] = [:]
        var pages = 0
        var restarts = 0
    }

    /// Pages from the start with small pages until the writers are done and a page that began
    /// after that found nothing more; at most 50,000 pages.
    @Sendable private func read(_ feed: PostgresFeed, scope: Scope, finish: Finish) async throws -> ReaderResult {
        var result = ReaderResult()
        var position = FeedPosition.start
        for _ in 0..<50_000 {
            let done = await finish.writersDone
            let page = try await feed.page(after: position, limit: 7, maxBytes: 1 << 20, scope: scope)
            result.pages += 1
            if page.restarted { result.restarts += 1 }
            for version in page.versions { result.received[version.dot, default: 0] += 1 }
            position = page.end
            if page.versions.isEmpty, !page.hasMore {
                if done { return result }
                try await Task.sleep(for: .milliseconds(1))
            }
        }
        Issue.record("a reader did not reach the feed's end within 50,000 pages")
        return result
    }
}
