import HubStore
import PostgresNIO
public import SyncEngine

extension PostgresHubStorage {
    /// Which of `origins` wrote a version the hub holds in good standing within `scope`: one
    /// statement, an `EXISTS` probe of `versions_by_author` (step `v11-versions-by-author`) per
    /// pattern for each origin, stopping at the first version found.
    public func authors(among origins: Set<ReplicaID>, within scope: Scope) async throws -> Set<ReplicaID> {
        guard !origins.isEmpty, !scope.patterns.isEmpty else { return [] }
        var builder = PostgresQueryBuilder()
        let asked = builder.bind(origins.map(\.hex))
        let table = tables.table("versions")
        let probes = scope.patterns.map { pattern in
            let sides = PostgresFeedSelection.conditions(
                [("collection", pattern.collection), ("partition", pattern.partition)], into: &builder)
            let conditions = (["origin = asked.origin"] + sides + ["set_aside_reason IS NULL"]).joined(separator: " AND ")
            return "EXISTS (SELECT 1 FROM \(table) WHERE \(conditions))"
        }
        builder.sql = """
            SELECT asked.origin FROM unnest(\(asked)::text[]) AS asked(origin)
            WHERE \(probes.joined(separator: " OR "))
            """
        var found = Set<ReplicaID>()
        let rows = try await tables.client.query(builder.query, logger: tables.logger)
        for try await text in rows.decode(String.self) {
            guard let origin = ReplicaID(text) else {
                throw PostgresStoreError(.malformedRow, "An author's id read back from \(table) is no replica id.")
            }
            found.insert(origin)
        }
        return found
    }
}
