import GRDB
import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// Which of `origins` wrote a version this hub holds in good standing within `scope`: one
    /// probe of `versions_by_author` (``HubSchema``) per origin and pattern, stopping at the first
    /// version found.
    public func authors(among origins: Set<ReplicaID>, within scope: Scope) throws -> Set<ReplicaID> {
        guard !origins.isEmpty, !scope.patterns.isEmpty else { return [] }
        let probes = scope.patterns.map { pattern in
            let (condition, values) = FeedSelection.condition(pattern)
            return (
                sql: "SELECT 1 FROM versions WHERE origin = ? AND \(condition)set_aside_reason IS NULL LIMIT 1",
                values: values)
        }
        return try read { db in
            var found = Set<ReplicaID>()
            for origin in origins {
                for probe in probes {
                    let statement = try db.cachedStatement(sql: probe.sql)
                    let arguments = StatementArguments([origin.hex] + probe.values)
                    if try Int.fetchOne(statement, arguments: arguments) != nil {
                        found.insert(origin)
                        break
                    }
                }
            }
            return found
        }
    }
}
