import Foundation
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// Issue 12, the scoped load on PostgreSQL (Docs/Performance.md, "Reads by document on
/// PostgreSQL"): a push's two reads by document (what decides it, `PostgresPushStatements.held`,
/// and the states it writes, `PostgresDocumentStates.standing`) and a scoped page's last position
/// read only the rows they return, on a `versions` table never analyzed since its indexes were
/// made on it empty, as a new hub's is until autovacuum comes round.
///
/// Replays `vigil-bench --only hub-load-postgres`'s scoped load: 64 devices pushing new
/// observations into a schema migrated moments before. There PostgreSQL walked
/// `versions_feed_by_collection` for each document of a push, twice, filtering the whole
/// collection by document id (6,600 rows read per document at 12,000 versions).
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct DocumentLookupPlanTests {
    @Test func readsByDocumentReadOnlyTheDocumentsRows() async throws {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let client = clients[0]
            try await DocumentLookupFill.fill(schema, client)
            let name = try PostgresSchemaName(schema)
            // A push of ten: five documents held (one version each), five new ones.
            let origin = ReplicaID.random()
            let push = try (0..<10).map { index in
                try Self.version(origin, UInt64(index + 1), document: index < 5 ? "doc-\(index * 701)" : "new-\(index)")
            }
            let keys = Set(push.map(\.key))

            let standing = try await Self.rowsRead(PostgresDocumentStates.standingStatement(keys).query(in: name), client)
            #expect(standing.rows <= 5, "the states' read of 10 documents (5 held): \(standing.plan)")

            let statements = PostgresPushStatements(schema: name, logger: PostgresTestDatabase.quiet)
            let held = try await Self.rowsRead(statements.heldStatement(for: push).query(in: name), client)
            #expect(held.rows <= 5, "what decides a push of 10 (5 documents held): \(held.plan)")

            let last = try await Self.rowsRead(LastPositionStatement(upper: .max).query(in: name), client)
            #expect(last.rows <= 1, "the feed's last position: \(last.plan)")
        }
    }

    private static func version(_ origin: ReplicaID, _ counter: UInt64, document: String) throws -> Version {
        let collection = try #require(CollectionName("observations"))
        let id = try #require(DocumentID(document))
        let partition = try #require(Partition("SD-1"))
        return Version(
            dot: Dot(replica: origin, counter: counter), collection: collection, documentID: id, partition: partition,
            context: VersionVector(), body: Data(#"{"n":1}"#.utf8),
            timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000 + counter),
            signature: Data(repeating: 7, count: 64))
    }

    /// The rows `query`'s scans of `versions` returned or read and dropped, from
    /// `EXPLAIN (ANALYZE, FORMAT JSON)`, and its nodes, one line each.
    private static func rowsRead(_ query: PostgresQuery, _ client: PostgresClient) async throws -> (rows: Int, plan: String) {
        let explain = PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, FORMAT JSON) " + query.sql, binds: query.binds)
        var json = ""
        for try await text in try await client.query(explain, logger: PostgresTestDatabase.quiet).decode(String.self) {
            json += text
        }
        return try DocumentLookupFill.rowsRead(json)
    }
}
