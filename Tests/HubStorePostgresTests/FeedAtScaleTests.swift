import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// Issue 12, "The numbers": a fresh device's initial pull from a feed of 1,000,000 versions with a
/// narrow read scope reads no more rows than its scope holds. Docs/HubPostgres.md ("At a million
/// versions") gives the figures of a run.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct FeedAtScaleTests {
    /// The feed's size.
    static let versions = 1_000_000
    /// What a fresh device asks for (`PageLimits()`, within the hub's own bounds) and the most a
    /// page looks at (`HubConfiguration.Limits.maxScannedPerPage`, SyncHub).
    static let pageLimits = PageLimits()
    static let maxScannedPerPage = 50_000
    /// The rows `PostgresFeed.page(_:)` reads per selection (its batch, one beyond 511).
    static let batch = 512
    /// The indexes a scoped page may walk (the scope indexes of `v1-feed` and `v6-feed-by-partition`)
    /// and their leading column, which the walk must be bounded by: a condition on a later column
    /// alone walks the whole index, and EXPLAIN counts only the entries that pass.
    static let scopeIndexes = [
        "versions_feed_by_partition": "collection", "versions_feed_by_collection": "collection",
        "versions_feed_by_partition_only": "partition",
    ]

    /// A narrow scope and the same rows written as a plain SQL condition (not the selection's).
    struct Case: Sendable, CustomStringConvertible {
        let scope: String
        let condition: String
        var description: String { scope }
    }

    static let cases = [
        // One partition of one collection.
        Case(scope: "observations/SD-DN", condition: "collection = 'observations' AND partition = 'SD-DN'"),
        // A prefix: the five regions of one country, a range of the index that is not in feed order.
        Case(scope: "observations/SD-*", condition: "collection = 'observations' AND partition LIKE 'SD-%'"),
        // A region plus warnings, as the realistic load's devices read.
        Case(
            scope: "observations/SD-DN,warnings",
            condition: "(collection = 'observations' AND partition = 'SD-DN') OR collection = 'warnings'"),
        // Everything of one region, whatever the collection; then of one country.
        Case(scope: "*/SD-DN", condition: "partition = 'SD-DN'"),
        Case(scope: "*/SD-*", condition: "partition LIKE 'SD-%'"),
    ]

    @Test func aFreshDevicesPullReadsOnlyItsScope() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let client = clients[0]
            let started = ContinuousClock.now
            try await fill(schema, client)
            let filled = ContinuousClock.now - started
            let feed = try PostgresFeed(client: client, schema: schema, logger: PostgresTestDatabase.quiet)
            var figures: [String] = ["fill of \(Self.versions) versions, indexes and ANALYZE: \(filled)"]
            for scopeCase in Self.cases {
                figures.append(try await pull(scopeCase, feed: feed, schema: schema, client: client))
            }
            print("feed at scale:\n  " + figures.joined(separator: "\n  "))
        }
    }

    /// The selection's shapes around the prefixes it reads as walks, on a small feed: patterns that
    /// overlap give each version once, a prefix of more than ``PostgresFeedSelection/maxPartitionsPerPrefix``
    /// partitions is read as a range, a prefix holding none reads nothing, and pages of 7 (batches
    /// of 8) hold exactly the scope, in feed order.
    @Test func prefixesOverlapsAndRangesPageExactlyTheScope() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let feed = try PostgresFeed(client: clients[0], schema: schema, logger: PostgresTestDatabase.quiet)
            let origins = (0..<3).map { _ in ReplicaID.random() }
            var all: [Version] = []
            for index in 0..<600 {
                all.append(
                    try FeedFixtures.version(
                        origins[index % 3], UInt64(index / 3 + 1),
                        collection: index % 2 == 0 ? "observations" : "situations", partition: "P-\((index / 2) % 100)")
                )
            }
            _ = try await feed.append(all, receivedFrom: nil)
            let schemaName = try PostgresSchemaName(schema)
            let cases: [(scope: String, walked: [String: Int])] = [
                // P-1 and P-10 to P-19 walked one by one; observations/P-12 in both patterns.
                ("observations/P-1*,*/P-12", ["observations/P-1*": 11]),
                // 100 partitions: a range.
                ("observations/P-*,situations/P-3", [:]),
                // A prefix holding nothing: no walk.
                ("observations/Q-*,situations/P-5", ["observations/Q-*": 0]),
                ("observations/Q-*", ["observations/Q-*": 0]),
            ]
            for (text, walked) in cases {
                let scope = try #require(Scope(text: text))
                let partitions = try await clients[0].withConnection { connection in
                    try await PostgresFeedSelection.partitions(
                        of: scope, schema: schemaName, on: connection, logger: PostgresTestDatabase.quiet)
                }
                #expect(
                    Dictionary(uniqueKeysWithValues: partitions.map { ($0.key.description, $0.value.count) }) == walked,
                    "\(text)")
                var position = FeedPosition.start
                var received: [Version] = []
                for _ in 0..<200 {
                    let page = try await feed.page(after: position, limit: 7, maxBytes: 1 << 20, scope: scope)
                    received += page.versions
                    position = page.end
                    if !page.hasMore { break }
                }
                #expect(
                    received == all.filter { scope.allows(collection: $0.collection, partition: $0.partition) },
                    "\(text): \(received.count) versions")
                #expect(position.sequence == 600, "\(text): the pull ends at the feed's end")
            }
        }
    }

    /// Fills `versions` in one statement, with the knowledge of its origins, and analyzes it: 1,000
    /// origins of 1,000 versions each (counters 1 to 1,000, contiguous), 1,000 partitions (200
    /// countries `PK` to `XB`, five regions each) drawn by a hash of the position, so each region's
    /// versions are spread over the whole feed; 1 version in 500 a warning, 1 in 7 a situation, the
    /// rest observations. The secondary indexes are dropped for the fill and made again from their
    /// own definitions (`pg_get_indexdef`), which builds them by sorting: about twice as fast as
    /// maintaining them row by row.
    private func fill(_ schema: String, _ client: PostgresClient) async throws {
        var definitions: [(name: String, definition: String)] = []
        let rows = try await client.query(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indrelid JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE n.nspname = \(schema) AND c.relname = 'versions'
                AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = i.indexrelid)
            """)
        for try await (name, definition) in rows.decode((String, String).self) {
            definitions.append((name, definition))
        }
        #expect(definitions.count >= 4, "the migration's secondary indexes of versions: \(definitions)")
        for (name, _) in definitions {
            try await client.query(PostgresQuery(unsafeSQL: "DROP INDEX \(name)"))
        }
        try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(schema).versions (
                        origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical,
                        signature, received_from, feed_tag)
                    SELECT md5('origin-' || (i % 1000)), i / 1000 + 1,
                        CASE WHEN i % 500 = 499 THEN 'warnings' WHEN i % 7 = 3 THEN 'situations' ELSE 'observations' END,
                        'doc-' || i,
                        chr(65 + (400 + p / 5) / 26) || chr(65 + (400 + p / 5) % 26) || '-'
                            || (ARRAY['DN', 'DS', 'KH', 'NR', 'WR'])[p % 5 + 1],
                        '', convert_to('{"n":' || i || '}', 'UTF8'), 1700000000000 + i, 0,
                        decode(repeat(md5(i::text), 4), 'hex'), NULL, hashint4(i)::bigint & 4294967295
                    FROM (
                        SELECT i, ((hashint4(i + 1)::bigint & 2147483647) % 1000)::int AS p
                        FROM generate_series(0, \(Self.versions - 1)) AS i
                    ) AS g
                    """))
        for (_, definition) in definitions {
            try await client.query(PostgresQuery(unsafeSQL: definition))
        }
        try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(schema).knowledge (origin, counter)
                    SELECT md5('origin-' || o), \(Self.versions / 1000) FROM generate_series(0, 999) AS o
                    """))
        try await client.query(PostgresQuery(unsafeSQL: "ANALYZE \(schema).versions"))
        try await client.query(PostgresQuery(unsafeSQL: "ANALYZE \(schema).knowledge"))
    }

    /// Pulls `scopeCase` from the start as a fresh device does, checks the pages against the
    /// scope's rows and every selection they ran against its plan; returns the figures.
    private func pull(
        _ scopeCase: Case, feed: PostgresFeed, schema: String, client: PostgresClient
    ) async throws -> String {
        let scope = try #require(Scope(text: scopeCase.scope))
        // The scope's rows, found without the selection (a plain scan), in feed order.
        var expected: [(seq: Int64, dot: Dot)] = []
        let rows = try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT seq, origin, counter FROM \(schema).versions
                    WHERE (\(scopeCase.condition)) AND set_aside_reason IS NULL ORDER BY seq
                    """))
        for try await (seq, origin, counter) in rows.decode((Int64, String, Int64).self) {
            let replica = try #require(ReplicaID(origin))
            expected.append((seq, Dot(replica: replica, counter: UInt64(counter))))
        }
        // Narrow: a few hundred to a few thousand of the million.
        #expect((300...10_000).contains(expected.count), "\(scopeCase): \(expected.count) rows")

        let reader = ReplicaID.random()
        let schemaName = try PostgresSchemaName(schema)
        // The partitions of the scope's prefixes, as each page reads them first.
        let partitions = try await client.withConnection { connection in
            try await PostgresFeedSelection.partitions(
                of: scope, schema: schemaName, on: connection, logger: PostgresTestDatabase.quiet)
        }
        var position = FeedPosition.start
        var received: [Dot] = []
        var pages = 0
        var selections = 0
        var rowsRead = 0
        var blocks = 0
        var walksAhead = 0
        var mostReadByOne = 0
        var excerpt = ""
        while pages <= expected.count / Self.pageLimits.versions + 2 {
            let page = try await feed.page(
                PageQuery(
                    after: position, limit: Self.pageLimits.versions, maxBytes: Self.pageLimits.bytes,
                    maxScanned: Self.maxScannedPerPage, knowledgeOf: [reader],
                    filter: FeedFilter(readScope: scope, reader: reader)))
            pages += 1
            #expect(!page.restarted)
            // The selections this page ran: from its start, then past each full batch.
            let offset = received.count
            var afters = [position.sequence]
            for taken in stride(from: Self.batch, through: page.versions.count, by: Self.batch) {
                afters.append(expected[offset + taken - 1].seq)
            }
            for after in afters {
                let selection = PostgresFeedSelection(
                    schema: schemaName, scope: scope, after: after, limit: Self.batch, partitions: partitions)
                let plan = try await explain(
                    selection, ordered: PostgresFeedSelection.walks(of: scope, partitions: partitions) > 1, client)
                let remaining = expected.count - (expected.firstIndex { $0.seq > after } ?? expected.count)
                // Never more rows than the scope holds past the selection's start, nor more than the
                // selection's bound and the one row each walk holds ahead: the scope's rows, once
                // over the whole pull.
                #expect(
                    plan.rowsRead <= remaining,
                    "\(scopeCase) after \(after): read \(plan.rowsRead) rows, \(remaining) in scope: \(plan.json)")
                #expect(
                    plan.rowsRead <= min(remaining, Self.batch) + plan.scanned.count,
                    "\(scopeCase) after \(after): read \(plan.rowsRead) rows for \(Self.batch): \(plan.summary)")
                #expect(!plan.scanned.isEmpty, "\(scopeCase): no scan of versions: \(plan.json)")
                for scan in plan.scanned {
                    // By the scope indexes only (no sequential scan, no walk of the whole feed by its
                    // key), each bounded by its leading column.
                    let leading = scan.index.flatMap { Self.scopeIndexes[$0] }
                    #expect(
                        leading != nil,
                        "\(scopeCase) after \(after): \(scan.node) \(scan.index ?? "without an index"): \(plan.json)")
                    if let leading {
                        #expect(
                            scan.condition.contains("(\(leading) "),
                            "\(scopeCase) after \(after): \(scan.node) walks all of \(scan.index ?? ""): \(scan.condition)"
                        )
                    }
                }
                selections += 1
                walksAhead += plan.scanned.count
                rowsRead += plan.rowsRead
                blocks += plan.blocks
                mostReadByOne = max(mostReadByOne, plan.rowsRead)
                if excerpt.isEmpty { excerpt = plan.summary }
            }
            received += page.versions.map(\.dot)
            position = page.end
            if !page.hasMore { break }
        }
        // The pages together hold exactly the scope's rows, in feed order, once each.
        #expect(received == expected.map(\.dot), "\(scopeCase): \(received.count) of \(expected.count) rows")
        // The whole pull reads the scope's rows, plus one row per walk per selection held ahead,
        // plus what a page's last batch read beyond the page (the next page starts there).
        #expect(
            rowsRead <= expected.count + walksAhead + (pages - 1) * Self.batch,
            "\(scopeCase): the pull read \(rowsRead) rows for \(expected.count)")
        return
            "\(scopeCase): \(expected.count) rows in scope, \(pages) pages, \(selections) selections, "
            + "rows read \(rowsRead) in all, at most \(mostReadByOne) by one, \(blocks) blocks; first plan: \(excerpt)"
    }

    /// One scan of `versions` in a plan: its node type, index and index condition.
    struct Scan {
        let node: String
        let index: String?
        let condition: String
    }

    /// What `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)` of a selection shows.
    struct Plan {
        /// The rows its scans of `versions` returned ("Actual Rows" times "Actual Loops"), plus
        /// those they read and dropped ("Rows Removed by Filter", "Rows Removed by Index Recheck").
        var rowsRead = 0
        var scanned: [Scan] = []
        /// The shared buffers it touched (hit or read), at its top node.
        var blocks = 0
        /// Its nodes, one line each: type, index and rows.
        var lines: [String] = []
        var json = ""

        var summary: String { lines.joined(separator: " / ") }
    }

    /// Explains `selection` in a transaction as `PostgresFeed.page(_:)` runs it (`ordered`: with
    /// ``PostgresFeedSelection/keepWalksOrdered(on:logger:)``).
    private func explain(
        _ selection: PostgresFeedSelection, ordered: Bool, _ client: PostgresClient
    ) async throws -> Plan {
        let query = try #require(selection.query)
        var plan = Plan()
        let explain = PostgresQuery(
            unsafeSQL: "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + query.sql, binds: query.binds)
        let quiet = PostgresTestDatabase.quiet
        plan.json = try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .snapshotReadOnly, logger: quiet) { connection in
                if ordered { try await PostgresFeedSelection.keepWalksOrdered(on: connection, logger: quiet) }
                var json = ""
                for try await text in try await connection.query(explain, logger: quiet).decode(String.self) {
                    json += text
                }
                return json
            }
        }
        let root = try JSONSerialization.jsonObject(with: Data(plan.json.utf8))
        let top = try #require((root as? [[String: Any]])?.first?["Plan"] as? [String: Any])
        plan.blocks =
            ((top["Shared Hit Blocks"] as? NSNumber)?.intValue ?? 0)
            + ((top["Shared Read Blocks"] as? NSNumber)?.intValue ?? 0)
        visit(top, into: &plan)
        return plan
    }

    private func visit(_ node: [String: Any], into plan: inout Plan) {
        let number = { (key: String) in (node[key] as? NSNumber)?.intValue ?? 0 }
        let type = node["Node Type"] as? String ?? "?"
        let index = node["Index Name"] as? String
        let condition = node["Index Cond"] as? String ?? ""
        let rows = number("Actual Rows") * max(1, number("Actual Loops"))
        let removed = number("Rows Removed by Filter") + number("Rows Removed by Index Recheck")
        plan.lines.append(
            "\(type)\(index.map { " using \($0)" } ?? "") rows=\(rows)\(removed > 0 ? " removed=\(removed)" : "")")
        if node["Relation Name"] as? String == "versions" {
            // The table's rows a scan returned or dropped (a bitmap index scan's rows are the heap
            // scan's above it, so they count once, there).
            plan.rowsRead += rows + removed
            // A bitmap heap scan walks the index of the bitmap index scan below it, checked there.
            if type != "Bitmap Heap Scan" { plan.scanned.append(Scan(node: type, index: index, condition: condition)) }
        } else if type == "Bitmap Index Scan" {
            plan.scanned.append(Scan(node: type, index: index, condition: condition))
        }
        for child in node["Plans"] as? [[String: Any]] ?? [] {
            visit(child, into: &plan)
        }
    }
}
