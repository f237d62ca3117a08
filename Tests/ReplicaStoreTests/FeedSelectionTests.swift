import Foundation
import GRDB
@testable import HubStore
@testable import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The hub's feed read within a read scope (issue 12: "a fresh device's initial pull from a feed
/// of 1,000,000 versions with a narrow read scope reads no more rows than its scope holds").
@Suite("The feed read within a scope")
struct FeedSelectionTests {
    static func scope(_ text: String) throws -> Scope { try #require(Scope(text: text)) }

    /// SQLite's plan for a narrow reader: each pattern through a scope index, no scan of the feed.
    @Test(arguments: ["notes/SD-DN", "notes/SD-DN,warnings", "notes/SD-*", "notes/SD-DN,notes/ML-1"])
    func aNarrowScopeReadsThroughTheIndexes(scope text: String) async throws {
        try await TemporaryReplica.withReplicas(1) { stores in
            let hub = stores[0]
            try hub.ensureFeedIndexes()
            let selection = FeedSelection(scope: try Self.scope(text), after: 0, through: .max)
            let plan = try Self.plan(hub, selection)
            #expect(plan.contains { $0.contains("versions_feed_by") }, "\(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN versions") }, "\(plan)")
        }
    }

    /// The rows a narrow page reads are its scope's: SQLite's own count of rows stepped through
    /// (`sqlite3_stmt_status` would say the same) is the rows in scope after the position.
    @Test func aNarrowPageSeesOnlyItsScopesRows() async throws {
        try await TemporaryReplica.withReplicas(1) { stores in
            let hub = stores[0]
            try hub.ensureFeedIndexes()
            let partitions = ["SD-DN", "ML-1", "CD-NK", "BF-01"]
            var wanted: [Version] = []
            for index in 0..<400 {
                let partition = partitions[index % partitions.count]
                let version = try hub.write(StoreFixtures.put("d\(index)", "report \(index)", partition: Partition(partition)))
                if partition == "SD-DN" { wanted.append(version) }
            }
            let selection = FeedSelection(scope: try Self.scope("notes/SD-DN"), after: 0, through: .max)
            let rows = try hub.read { db in
                var rows = 0
                let cursor = try Row.fetchCursor(db, sql: selection.sql, arguments: selection.arguments)
                while try cursor.next() != nil { rows += 1 }
                return rows
            }
            #expect(rows == wanted.count)
            let page = try hub.feedPage(after: .start, limit: 1_000, maxBytes: .max, scope: try Self.scope("notes/SD-DN"))
            #expect(page.versions == wanted)
            #expect(!page.hasMore)
            // Everything in scope was read, so the page's end passes the versions out of scope after it.
            #expect(page.end.sequence == 400)
        }
    }

    @Test func aScopeOfNothingReadsNothingAndOverlappingPatternsSendAVersionOnce() async throws {
        try await TemporaryReplica.withReplicas(1) { stores in
            let hub = stores[0]
            try hub.ensureFeedIndexes()
            let version = try hub.write(StoreFixtures.put("d", "report", partition: Partition("SD-DN")))
            #expect(try hub.feedPage(after: .start, limit: 10, maxBytes: .max, scope: .nothing).versions.isEmpty)
            let both = try Self.scope("notes/SD-*,*/SD-DN")
            #expect(try hub.feedPage(after: .start, limit: 10, maxBytes: .max, scope: both).versions == [version])
        }
    }

    static func plan(_ hub: ReplicaStore, _ selection: FeedSelection) throws -> [String] {
        try hub.read { db in
            try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + selection.sql, arguments: selection.arguments).map { $0["detail"] }
        }
    }
}
