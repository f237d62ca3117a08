import Foundation
import Logging
import PostgresNIO
import SyncEngine

/// The SQL that reads one page of the hub's feed within a read scope, in feed order: one select
/// per pattern of the scope, each an ordered walk of one scope index (`versions_feed_by_partition`,
/// `versions_feed_by_collection`, `versions_feed_by_partition_only`) that stops after `limit` rows,
/// merged by sequence with `UNION ALL` under `DISTINCT ON (seq)` (which drops a version two
/// patterns both cover). PostgreSQL merges such walks lazily (`Merge Append`), so a selection reads
/// `limit` rows and one more per walk, all of them in scope. A scope of everything reads the feed
/// by its sequence.
///
/// A prefix of partitions (`observations/SD-*`) is a range of the index ordered by partition first,
/// not by sequence: read as a range, each selection would read and sort every row of the range past
/// its start. So the partitions a prefix holds (``partitions(of:schema:on:logger:)``, at most
/// ``maxPartitionsPerPrefix``) are read first and each becomes a walk of its own; a prefix holding
/// more is read as a range.
struct PostgresFeedSelection {
    /// Nil for a scope of nothing: there is nothing to read.
    let query: PostgresQuery?

    /// The columns ``PostgresVersionRow`` decodes, in its order.
    static let columns = """
        origin, counter, collection, document_id, partition, context, body, clock_wall, clock_logical, signature,
        seq, feed_tag
        """

    /// The columns a selection reads: ``columns`` and who delivered each version, which a reader's
    /// filter asks (``PostgresVersionRow/decodeDelivered(_:)``).
    static let pageColumns = columns + ", received_from"

    /// The most partitions a prefix pattern is read as, one walk each; beyond it, a range.
    static let maxPartitionsPerPrefix = 64

    /// `partitions` gives, for patterns whose partition side is a prefix, the partitions it holds
    /// (``partitions(of:schema:on:logger:)``); a prefix pattern without them is read as a range.
    init(
        schema: PostgresSchemaName, scope: Scope, after: Int64, through: Int64 = .max, limit: Int,
        partitions: [ScopePattern: [String]] = [:]
    ) {
        let table = "\(schema.name).versions"
        var builder = PostgresQueryBuilder()
        let bounds =
            through == .max
            ? "seq > \(builder.bind(after)) AND set_aside_reason IS NULL"
            : "seq > \(builder.bind(after)) AND seq <= \(builder.bind(through)) AND set_aside_reason IS NULL"
        let rowLimit = builder.bind(Int64(max(1, limit)))
        guard !scope.patterns.contains(.everything) else {
            builder.sql = "SELECT \(Self.pageColumns) FROM \(table) WHERE \(bounds) ORDER BY seq LIMIT \(rowLimit)"
            query = builder.query
            return
        }
        guard !scope.patterns.isEmpty else {
            query = nil
            return
        }
        var selects: [String] = []
        for pattern in scope.patterns {
            // A prefix of partitions whose partitions were read: one walk per partition.
            let sides: [[(String, String)]] =
                partitions[pattern].map { names in
                    names.map { [("collection", pattern.collection), ("partition", $0)] }
                } ?? [[("collection", pattern.collection), ("partition", pattern.partition)]]
            for sides in sides {
                var conditions = Self.conditions(sides, into: &builder)
                conditions.append(bounds)
                selects.append(
                    "SELECT \(Self.pageColumns) FROM \(table) WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq LIMIT \(rowLimit)"
                )
            }
        }
        guard !selects.isEmpty else {
            // Only prefixes that hold no partition: nothing to read.
            query = nil
            return
        }
        builder.sql =
            selects.count == 1
            ? selects[0]
            : "SELECT DISTINCT ON (seq) * FROM ((\(selects.joined(separator: ") UNION ALL (")))) AS scoped ORDER BY seq LIMIT \(rowLimit)"
        query = builder.query
    }

    /// The conditions of a pattern's sides (column, side as written), their values bound in
    /// `builder`: `*` none, a name an equality, a prefix the range of names that start with it,
    /// byte by byte (the columns compare in the "C" collation), so that an index walks that range
    /// only.
    static func conditions(_ sides: [(column: String, side: String)], into builder: inout PostgresQueryBuilder) -> [String] {
        var conditions: [String] = []
        for (column, side) in sides where side != "*" {
            if side.hasSuffix("*") {
                let prefix = String(side.dropLast())
                conditions.append("\(column) >= \(builder.bind(prefix)) COLLATE \"C\"")
                conditions.append("\(column) < \(builder.bind(Self.upperBound(ofPrefix: prefix))) COLLATE \"C\"")
            } else {
                conditions.append("\(column) = \(builder.bind(side)) COLLATE \"C\"")
            }
        }
        return conditions
    }

    /// How many index walks the selection of `scope` merges, with `partitions` read.
    static func walks(of scope: Scope, partitions: [ScopePattern: [String]]) -> Int {
        scope.patterns.reduce(0) { $0 + (partitions[$1]?.count ?? 1) }
    }

    /// Keeps the walks of a selection that merges several ordered index walks, for the rest of the
    /// transaction on `connection`. PostgreSQL plans each walk for its own limit, not for the share
    /// of it the merge above takes: where a walk holds fewer rows past the start than the limit
    /// (near the end of a scope), it would fetch them all by a bitmap scan and sort them, so every
    /// batch there read the rest of the scope again (at a million versions, `*/SD-*` read 9,426 rows
    /// for its 4,886). Without bitmap scans each walk stays an ordered index scan the merge reads
    /// lazily. `SET LOCAL`: the transaction's other statements are lookups by key.
    static func keepWalksOrdered(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.execute("SET LOCAL enable_bitmapscan = off", logger: logger)
    }

    /// The partitions each pattern of `scope` whose partition side is a prefix holds, in good
    /// standing, for patterns of one collection or of every collection (a prefix of collections is
    /// read as a range): one probe of the scope index per partition (a loose index scan), at most
    /// ``maxPartitionsPerPrefix`` per pattern; a pattern holding more is left out (read as a range).
    static func partitions(
        of scope: Scope, schema: PostgresSchemaName, on connection: PostgresConnection, logger: Logger
    ) async throws -> [ScopePattern: [String]] {
        var found: [ScopePattern: [String]] = [:]
        for pattern in scope.patterns
        where pattern.partition != "*" && pattern.partition.hasSuffix("*")
            && (pattern.collection == "*" || !pattern.collection.hasSuffix("*"))
        {
            let prefix = String(pattern.partition.dropLast())
            var builder = PostgresQueryBuilder()
            let low = builder.bind(prefix)
            let high = builder.bind(upperBound(ofPrefix: prefix))
            let most = builder.bind(Int64(maxPartitionsPerPrefix))
            let collection =
                pattern.collection == "*" ? "" : "collection = \(builder.bind(pattern.collection)) COLLATE \"C\" AND "
            let table = "\(schema.name).versions"
            builder.sql = """
                WITH RECURSIVE held (partition, n) AS (
                    (SELECT partition, 1 FROM \(table)
                     WHERE \(collection)partition >= \(low) COLLATE "C" AND partition < \(high) COLLATE "C"
                        AND set_aside_reason IS NULL
                     ORDER BY partition LIMIT 1)
                    UNION ALL
                    SELECT (SELECT partition FROM \(table)
                            WHERE \(collection)partition > held.partition AND partition < \(high) COLLATE "C"
                                AND set_aside_reason IS NULL
                            ORDER BY partition LIMIT 1), held.n + 1
                    FROM held WHERE held.partition IS NOT NULL AND held.n <= \(most))
                SELECT partition FROM held WHERE partition IS NOT NULL
                """
            var names: [String] = []
            for try await name in try await connection.query(builder.query, logger: logger).decode(String.self) {
                names.append(name)
            }
            if names.count <= maxPartitionsPerPrefix { found[pattern] = names }
        }
        return found
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
