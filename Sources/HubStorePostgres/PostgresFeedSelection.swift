import Foundation
import PostgresNIO
import SyncEngine

/// The SQL that reads one page of the hub's feed within a read scope, in feed order: one select
/// per pattern of the scope, each an ordered walk of one scope index (`versions_feed_by_partition`,
/// `versions_feed_by_collection`) that stops after `limit` rows, merged by sequence with `UNION`
/// (which also drops a version two patterns both cover). A scope of everything reads the feed by
/// its sequence. So a page reads at most `limit` rows per pattern, all of them in scope.
struct PostgresFeedSelection {
    /// Nil for a scope of nothing: there is nothing to read.
    let query: PostgresQuery?

    /// The columns ``PostgresVersionRow`` decodes, in its order.
    static let columns = """
        origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical, signature,
        seq, feed_tag
        """

    init(schema: PostgresSchemaName, scope: Scope, after: Int64, through: Int64 = .max, limit: Int) {
        let table = "\(schema.name).versions"
        var builder = PostgresQueryBuilder()
        let bounds =
            through == .max
            ? "seq > \(builder.bind(after)) AND set_aside_reason IS NULL"
            : "seq > \(builder.bind(after)) AND seq <= \(builder.bind(through)) AND set_aside_reason IS NULL"
        let rowLimit = builder.bind(Int64(max(1, limit)))
        guard !scope.patterns.contains(.everything) else {
            builder.sql = "SELECT \(Self.columns) FROM \(table) WHERE \(bounds) ORDER BY seq LIMIT \(rowLimit)"
            query = builder.query
            return
        }
        guard !scope.patterns.isEmpty else {
            query = nil
            return
        }
        var selects: [String] = []
        for pattern in scope.patterns {
            var conditions: [String] = []
            for (column, side) in [("collection", pattern.collection), ("partition", pattern.partition)]
            where side != "*" {
                if side.hasSuffix("*") {
                    // A prefix: the range of names that start with it, byte by byte (the columns
                    // compare in the "C" collation), so the index walks that range only.
                    let prefix = String(side.dropLast())
                    conditions.append("\(column) >= \(builder.bind(prefix)) COLLATE \"C\"")
                    conditions.append("\(column) < \(builder.bind(Self.upperBound(ofPrefix: prefix))) COLLATE \"C\"")
                } else {
                    conditions.append("\(column) = \(builder.bind(side)) COLLATE \"C\"")
                }
            }
            conditions.append(bounds)
            selects.append(
                "SELECT \(Self.columns) FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT \(rowLimit)"
            )
        }
        builder.sql =
            selects.count == 1
            ? selects[0]
            : "SELECT * FROM ((\(selects.joined(separator: ") UNION (")))) AS scoped ORDER BY seq LIMIT \(rowLimit)"
        query = builder.query
    }

    /// The least string above every string that starts with `prefix`: its last byte raised by one
    /// (names are ASCII letters, digits and punctuation below `~`, so the raise stays ASCII).
    static func upperBound(ofPrefix prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        guard let last = bytes.popLast() else { return "" }
        bytes.append(last &+ 1)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Dynamic SQL with numbered parameters.
struct PostgresQueryBuilder {
    var sql = ""
    private(set) var bindings = PostgresBindings()
    private var count = 0

    /// Adds `value` as the next parameter and returns its placeholder (`$3`).
    mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
        bindings.append(value)
        count += 1
        return "$\(count)"
    }

    /// Adds `bytes` as the next parameter (`bytea`) and returns its placeholder.
    mutating func bind(bytes: Data) -> String {
        bind(ByteBuffer(bytes: bytes))
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: bindings) }
}
