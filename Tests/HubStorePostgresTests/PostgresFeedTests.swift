import Foundation
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// The hub's feed on PostgreSQL, one client: storing, forks, positions, scopes, migrations.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PostgresFeedTests {
    private func feed(_ client: PostgresClient, _ schema: String) throws -> PostgresFeed {
        try PostgresFeed(client: client, schema: schema, logger: PostgresTestDatabase.quiet)
    }

    @Test func serverIsReachable() async throws {
        // With VIGIL_REQUIRE_POSTGRES=1 (CI), an unset address or a server that does not answer fails here.
        try await PostgresTestDatabase.withClients(1) { clients, _ in
            let rows = try await clients[0].query("SELECT current_setting('server_version_num')::int")
            for try await version in rows.decode(Int.self) {
                #expect(version >= 150_000)
            }
        }
    }

    @Test func migratingTwiceAppliesNothingTheSecondTime() async throws {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            // withClients migrated already: both processes starting now find every step recorded.
            async let first = PostgresMigrations.migrate(clients[0], schema: schema, logger: PostgresTestDatabase.quiet)
            async let second = PostgresMigrations.migrate(
                clients[1], schema: schema, logger: PostgresTestDatabase.quiet)
            #expect(try await first == [])
            #expect(try await second == [])
            let rows = try await clients[0].query(
                PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(schema).vigil_schema_migrations"))
            for try await count in rows.decode(Int64.self) {
                #expect(count == Int64(PostgresMigrations.steps.count))
            }
        }
    }

    @Test func concurrentFirstMigrationsMigrateOnce() async throws {
        try await PostgresTestDatabase.withClients(3) { clients, schema in
            let fresh = schema + "_fresh"
            let applied = try await withThrowingTaskGroup(of: [String].self) { group in
                for client in clients {
                    group.addTask {
                        try await PostgresMigrations.migrate(client, schema: fresh, logger: PostgresTestDatabase.quiet)
                    }
                }
                var all: [[String]] = []
                for try await names in group { all.append(names) }
                return all
            }
            try await clients[0].query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(fresh) CASCADE"))
            // One process applied every step; the others found them recorded.
            #expect(applied.filter { !$0.isEmpty } == [PostgresMigrations.steps.map(\.name)])
        }
    }

    @Test func aSchemaFromALaterBuildIsRefused() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            try await clients[0].query(
                PostgresQuery(
                    unsafeSQL: "INSERT INTO \(schema).vigil_schema_migrations (name) VALUES ('v99-from-the-future')"))
            let error = await #expect(throws: PostgresStoreError.self) {
                try await PostgresMigrations.migrate(clients[0], schema: schema, logger: PostgresTestDatabase.quiet)
            }
            #expect(error?.code == .schemaFromLaterBuild)
        }
    }

    @Test func appendIsIdempotentAndRaisesKnowledgeContiguously() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            let origin = ReplicaID.random()
            let versions = try [1, 2, 4].map { try FeedFixtures.version(origin, $0) }
            let first = try await feed.append(versions, receivedFrom: origin)
            #expect(first.stored == 3)
            let again = try await feed.append(versions, receivedFrom: origin)
            #expect(again.stored == 0)
            #expect(again.alreadyHeld == 3)
            var page = try await feed.page(after: .start, limit: 100, maxBytes: 1 << 20, knowledgeOf: [origin])
            #expect(page.versions == versions)
            #expect(page.knowledge[origin] == 2)  // 4 waits for 3
            #expect(try await feed.append([FeedFixtures.version(origin, 3)], receivedFrom: origin).stored == 1)
            page = try await feed.page(after: page.end, limit: 100, maxBytes: 1 << 20, knowledgeOf: [origin])
            #expect(page.versions.map(\.dot.counter) == [3])
            #expect(page.knowledge[origin] == 4)
        }
    }

    @Test func aDotHeldWithAnotherSignatureIsAForkAndNotStored() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            let origin = ReplicaID.random()
            let held = try [1, 2].map { try FeedFixtures.version(origin, $0) }
            _ = try await feed.append(held, receivedFrom: origin)
            let forkedTwo = try FeedFixtures.version(origin, 2)
            let three = try FeedFixtures.version(origin, 3)
            let other = try FeedFixtures.version(ReplicaID.random(), 1)
            let report = try await feed.append([held[0], forkedTwo, three, other], receivedFrom: origin)
            #expect(report.alreadyHeld == 1)
            #expect(report.forks == [forkedTwo.dot])
            #expect(report.refused == [three.dot])
            #expect(report.stored == 1)  // another origin's version is not held back
            let page = try await feed.page(after: .start, limit: 100, maxBytes: 1 << 20, knowledgeOf: [origin])
            #expect(page.versions == held + [other])
            #expect(page.versions[1].signature == held[1].signature)
            #expect(page.knowledge[origin] == 2)
        }
    }

    @Test func aForeignPositionRestartsAtTheBeginning() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            let origin = ReplicaID.random()
            let versions = try (1...5).map { try FeedFixtures.version(origin, UInt64($0)) }
            _ = try await feed.append(versions, receivedFrom: nil)
            let first = try await feed.page(after: .start, limit: 2, maxBytes: 1 << 20)
            #expect(first.versions == Array(versions[0..<2]))
            #expect(first.hasMore)
            #expect(!first.restarted)
            let next = try await feed.page(after: first.end, limit: 2, maxBytes: 1 << 20)
            #expect(next.versions == Array(versions[2..<4]))
            #expect(!next.restarted)
            let end = first.end
            let foreign: [FeedPosition] = [
                FeedPosition(sequence: end.sequence, dot: Dot(replica: ReplicaID.random(), counter: 2), tag: end.tag),  // another dot
                FeedPosition(sequence: end.sequence, dot: end.dot, tag: end.tag.map { $0 &+ 1 }),  // another tag: a restored feed
                FeedPosition(sequence: end.sequence + 1_000, dot: end.dot, tag: end.tag),  // no such sequence
                FeedPosition(sequence: -3, dot: end.dot, tag: nil),
            ]
            for position in foreign {
                let page = try await feed.page(after: position, limit: 10, maxBytes: 1 << 20)
                #expect(page.restarted)
                #expect(page.versions == versions)
            }
            // A position without a tag (from before tags) is still this feed's.
            let untagged = try await feed.page(
                after: FeedPosition(sequence: end.sequence, dot: end.dot), limit: 10, maxBytes: 1 << 20)
            #expect(!untagged.restarted)
            #expect(untagged.versions == Array(versions[2...]))
        }
    }

    @Test func atTheEndAPageKeepsItsStartAndAForeignEndRestarts() async throws {
        // The page of a reader with nothing new is read in one statement (PostgresFeed's
        // pageWithNothingNew): it must tell the knowledge and keep the start, and still restart a
        // position this feed did not give out at its end (a feed restored from a backup that
        // handed the same sequence to another version, or the same dot under another tag).
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            let origin = ReplicaID.random()
            let versions = try (1...3).map { try FeedFixtures.version(origin, UInt64($0)) }
            let empty = try await feed.page(after: .start, limit: 10, maxBytes: 1 << 20, knowledgeOf: [origin])
            #expect(empty.versions.isEmpty && empty.end == .start && !empty.restarted)
            _ = try await feed.append(versions, receivedFrom: nil)
            let all = try await feed.page(after: .start, limit: 10, maxBytes: 1 << 20)
            let nothingNew = try await feed.page(after: all.end, limit: 10, maxBytes: 1 << 20, knowledgeOf: [origin])
            #expect(nothingNew.versions.isEmpty && !nothingNew.hasMore && !nothingNew.restarted)
            #expect(nothingNew.end == all.end)
            #expect(nothingNew.knowledge[origin] == 3)
            let end = all.end
            let foreign: [FeedPosition] = [
                FeedPosition(sequence: end.sequence, dot: Dot(replica: ReplicaID.random(), counter: 3), tag: end.tag),
                FeedPosition(sequence: end.sequence, dot: end.dot, tag: end.tag.map { $0 &+ 1 }),
                FeedPosition(sequence: end.sequence + 1, dot: end.dot, tag: end.tag),
            ]
            for position in foreign {
                let page = try await feed.page(after: position, limit: 10, maxBytes: 1 << 20)
                #expect(page.restarted)
                #expect(page.versions == versions)
            }
        }
    }

    @Test func pagesAreBoundedInBytesButCarryAtLeastOneVersion() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            let origin = ReplicaID.random()
            let versions = try (1...3).map { try FeedFixtures.version(origin, UInt64($0)) }
            _ = try await feed.append(versions, receivedFrom: nil)
            let tiny = try await feed.page(after: .start, limit: 10, maxBytes: 1)
            #expect(tiny.versions == [versions[0]])
            #expect(tiny.hasMore)
            let two = try await feed.page(after: .start, limit: 10, maxBytes: 2 * 211)
            #expect(two.versions == Array(versions[0..<2]))
            let rest = try await feed.page(after: two.end, limit: 10, maxBytes: 1 << 20)
            #expect(rest.versions == [versions[2]])
            #expect(!rest.hasMore)
            let empty = try await feed.page(after: rest.end, limit: 10, maxBytes: 1 << 20)
            #expect(empty.versions.isEmpty)
            #expect(empty.end == rest.end)
        }
    }

    @Test func aScopedPageReadsOnlyTheRowsInItsScope() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try feed(clients[0], schema)
            // 2,000 versions: two collections, 200 partitions (10 versions each), interleaved in the feed.
            var all: [Version] = []
            let origins = (0..<4).map { _ in ReplicaID.random() }
            for index in 0..<2_000 {
                let origin = origins[index % 4]
                let collection = index % 2 == 0 ? "observations" : "situations"
                all.append(
                    try FeedFixtures.version(
                        origin, UInt64(index / 4 + 1), collection: collection, partition: "P-\(index % 200)"))
            }
            for batch in stride(from: 0, to: all.count, by: 500) {
                _ = try await feed.append(Array(all[batch..<batch + 500]), receivedFrom: nil)
            }
            try await clients[0].query(PostgresQuery(unsafeSQL: "ANALYZE \(schema).versions"))
            let selection = { (scope: Scope, limit: Int) throws in
                PostgresFeedSelection(schema: try PostgresSchemaName(schema), scope: scope, after: 0, limit: limit)
            }
            // Narrow scopes (a region, a prefix of regions, two patterns): the whole scope in one
            // page, and the rows read from the table are the rows in scope, not the feed's.
            let narrow: [(String, Int)] = [
                ("observations/P-4", 10), ("observations/P-4*", 60), ("situations/P-3,observations/P-4", 20),
            ]
            for (text, expected) in narrow {
                let scope = try #require(Scope(text: text))
                let inScope = all.filter { scope.allows(collection: $0.collection, partition: $0.partition) }
                #expect(inScope.count == expected)
                let page = try await feed.page(after: .start, limit: 5_000, maxBytes: 1 << 30, scope: scope)
                #expect(page.versions == inScope, "\(text)")
                #expect(!page.hasMore)
                // It ends at the feed's end, so the next page starts past the versions out of scope.
                #expect(page.end.sequence >= 2_000)
                let read = try await rowsRead(selection(scope, 5_001), clients[0])
                #expect(read.rows == expected, "\(text): \(read.plan)")
                #expect(!read.plan.contains("Seq Scan"), "\(text): \(read.plan)")
            }
            // A wide scope (half the feed) in small pages: each page reads at most its limit and
            // one more per pattern, and the pages together hold the scope in feed order.
            let wide = try #require(Scope(text: "situations"))
            let read = try await rowsRead(selection(wide, 11), clients[0])
            #expect(read.rows == 11, "\(read.plan)")
            var position = FeedPosition.start
            var received: [Version] = []
            for _ in 0..<200 {
                let page = try await feed.page(after: position, limit: 10, maxBytes: 1 << 30, scope: wide)
                received += page.versions
                position = page.end
                if !page.hasMore { break }
            }
            #expect(received == all.filter { $0.collection.rawValue == "situations" })
            // A scope of nothing reads nothing and still answers with the feed's end.
            #expect(try selection(.nothing, 10).query == nil)
            let nothing = try await feed.page(after: .start, limit: 10, maxBytes: 1 << 20, scope: .nothing)
            #expect(nothing.versions.isEmpty)
            #expect(nothing.end.sequence >= 2_000)
        }
    }

    /// The rows the selection's scans of `versions` return, from `EXPLAIN (ANALYZE)`, and the plan.
    private func rowsRead(_ selection: PostgresFeedSelection, _ client: PostgresClient) async throws -> (
        rows: Int, plan: String
    ) {
        guard let query = selection.query else { return (0, "nothing to read") }
        let explain = PostgresQuery(
            unsafeSQL: "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + query.sql, binds: query.binds)
        var lines: [String] = []
        for try await line in try await client.query(explain).decode(String.self) {
            lines.append(line)
        }
        // Scan nodes on the table: "Index Scan using versions_feed_by_partition on versions (actual rows=100 loops=1)".
        var rows = 0
        // Scan nodes on the table (not "Bitmap Index Scan", whose rows the heap scan above it reads again).
        for line in lines
        where line.contains("Scan") && !line.contains("Bitmap Index Scan") && line.contains(" on versions ") {
            guard let range = line.range(of: "actual rows="),
                let count = Int(line[range.upperBound...].prefix(while: \.isNumber))
            else { continue }
            rows += count
        }
        return (rows, lines.joined(separator: "\n"))
    }
}
