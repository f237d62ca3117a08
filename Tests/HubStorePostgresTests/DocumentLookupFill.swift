import Foundation
import PostgresNIO
import Testing

/// The table DocumentLookupPlanTests and PreparedStatementTests read, and how it counts the rows a plan reads.
enum DocumentLookupFill {
    /// The observations held, one version each, in documents `doc-0` to `doc-3999`.
    static let versions = 4_000

    /// Fills `versions` with ``versions`` observations in one statement and keeps autovacuum off
    /// the table, so its statistics stay those of the empty table the migration made.
    static func fill(_ schema: String, _ client: PostgresClient) async throws {
        try await client.query(
            PostgresQuery(unsafeSQL: "ALTER TABLE \(schema).versions SET (autovacuum_enabled = false)"))
        try await client.query(
            PostgresQuery(
                unsafeSQL: """
                    INSERT INTO \(schema).versions (
                        origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical,
                        signature, received_from, feed_tag)
                    SELECT md5('origin-' || (i % 64)), i / 64 + 1, 'observations', 'doc-' || i, 'SD-' || (i % 8),
                        '', convert_to('{"n":' || i || '}', 'UTF8'), 1700000000000 + i, 0,
                        decode(repeat(md5(i::text), 4), 'hex'), md5('origin-' || (i % 64)), i
                    FROM generate_series(0, \(versions - 1)) AS i
                    """))
    }

    /// The rows the scans of `versions` of an `EXPLAIN (ANALYZE, FORMAT JSON)` returned or read
    /// and dropped, and its nodes, one line each.
    static func rowsRead(_ json: String) throws -> (rows: Int, plan: String) {
        let root = try JSONSerialization.jsonObject(with: Data(json.utf8))
        let top = try #require((root as? [[String: Any]])?.first?["Plan"] as? [String: Any])
        var rows = 0
        var lines: [String] = []
        visit(top, rows: &rows, lines: &lines)
        return (rows, lines.joined(separator: " / "))
    }

    private static func visit(_ node: [String: Any], rows: inout Int, lines: inout [String]) {
        let number = { (key: String) in (node[key] as? NSNumber)?.intValue ?? 0 }
        let returned = number("Actual Rows") * max(1, number("Actual Loops"))
        let removed = number("Rows Removed by Filter") + number("Rows Removed by Index Recheck")
        let index = (node["Index Name"] as? String).map { " using \($0)" } ?? ""
        lines.append("\(node["Node Type"] as? String ?? "?")\(index) rows=\(returned) removed=\(removed)")
        if node["Relation Name"] as? String == "versions" { rows += returned + removed }
        for child in node["Plans"] as? [[String: Any]] ?? [] {
            visit(child, rows: &rows, lines: &lines)
        }
    }
}
