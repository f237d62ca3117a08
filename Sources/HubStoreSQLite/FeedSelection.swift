import GRDB
import HubStore
import ReplicaStore
import SyncEngine

/// The SQL that reads a hub's feed within a read scope, in feed order: one select per pattern of
/// the scope, each within the scope indexes (``ReplicaStore/ensureFeedIndexes()``), merged by
/// sequence (a compound `UNION`, which also drops a version two patterns both cover). A scope of
/// everything reads the feed itself.
struct FeedSelection {
    let sql: String
    let arguments: StatementArguments

    init(scope: Scope, after: Int64, through upper: Int64) {
        let columns = "\(Rows.storedVersionColumns), feed_tag"
        let bounds = "seq > ? AND seq <= ? AND set_aside_reason IS NULL"
        guard !scope.patterns.contains(.everything) else {
            sql = "SELECT \(columns) FROM versions WHERE \(bounds) ORDER BY seq"
            arguments = [after, upper]
            return
        }
        guard !scope.patterns.isEmpty else {
            // Nothing in scope: an empty read that still answers in the page's shape.
            sql = "SELECT \(columns) FROM versions WHERE 0 AND \(bounds)"
            arguments = [after, upper]
            return
        }
        var selects: [String] = []
        var arguments: StatementArguments = []
        for pattern in scope.patterns {
            let (condition, values) = Self.condition(pattern)
            selects.append("SELECT \(columns) FROM versions WHERE \(condition)\(bounds)")
            arguments += StatementArguments(values)
            arguments += [after, upper]
        }
        sql = selects.joined(separator: " UNION ") + " ORDER BY seq"
        self.arguments = arguments
    }

    /// The pattern as conditions ending in `AND`: a name is an equality, a prefix a `GLOB` (names
    /// hold no `GLOB` character), `*` nothing.
    static func condition(_ pattern: ScopePattern) -> (String, [String]) {
        var text = ""
        var values: [String] = []
        for (column, side) in [("collection", pattern.collection), ("partition", pattern.partition)] where side != "*" {
            text += side.hasSuffix("*") ? "\(column) GLOB ? AND " : "\(column) = ? AND "
            values.append(side)
        }
        return (text, values)
    }
}
