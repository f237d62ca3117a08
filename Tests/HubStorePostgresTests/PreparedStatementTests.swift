import Foundation
import HubStore
@testable import HubStorePostgres
import Logging
import PostgresNIO
import SyncEngine
import Testing

/// Issue 12, the PostgreSQL hub's CPU per exchange (Docs/Performance.md, "Prepared statements on
/// PostgreSQL"): the exchange's statements (``PostgresSchemaStatement``) are prepared when the
/// pool's connections search the hub's schema alone, and sent as text, qualified, otherwise; and
/// prepared, their generic plans read only the rows they return, as the text ones do
/// (DocumentLookupPlanTests).
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PreparedStatementTests {
    @Test func aPoolSearchingTheSchemaPreparesTheExchangesStatements() async throws {
        try await PostgresTestDatabase.withClients(1) { _, schema in
            var configuration = try PostgresTestDatabase.configuration()
            configuration.options.maximumConnections = 1
            try configuration.searchPath(schema)
            let prepared = try await Self.exchange(in: schema, configuration: configuration)
            #expect(prepared.held == 4)
            #expect(
                Set(prepared.names).isSuperset(of: [
                    String(reflecting: PushHeldStatement.self), String(reflecting: DocumentsStandingStatement.self),
                    String(reflecting: DocumentStatesWriteStatement.self), String(reflecting: NothingNewStatement.self),
                    String(reflecting: DeviceKeysStatement.self),
                ]), "prepared: \(prepared.names)")
        }
    }

    @Test func aPoolSearchingAnotherPathSendsTheStatementsAsText() async throws {
        // A client made without the parameter (its connections search "$user", public): the
        // statements go as text, qualified by the store's schema, and nothing is prepared.
        try await PostgresTestDatabase.withClients(1) { _, schema in
            var configuration = try PostgresTestDatabase.configuration()
            configuration.options.maximumConnections = 1
            let text = try await Self.exchange(in: schema, configuration: configuration)
            #expect(text.held == 4)
            #expect(text.names.isEmpty, "prepared: \(text.names)")
        }
    }

    @Test func aSearchPathTakesOnlyASchemaNameTheStoreTakes() throws {
        var configuration = try PostgresTestDatabase.configuration()
        #expect(throws: PostgresStoreError.self) { try configuration.searchPath("hub; DROP TABLE x") }
        try configuration.searchPath("hub")
        try configuration.searchPath("other")
        #expect(
            configuration.options.additionalStartupParameters.filter { $0.0 == "search_path" }.map(\.1) == ["other"])
    }

    @Test func genericPlansReadByDocumentOnlyTheDocumentsRows() async throws {
        // As DocumentLookupPlanTests, on a `versions` table never analyzed, but each statement
        // prepared and planned generically (`plan_cache_mode = force_generic_plan`): a prepared
        // statement's plan may be kept for every later call, whatever its parameters.
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            try await DocumentLookupFill.fill(schema, clients[0])
            let origin = ReplicaID.random().hex
            let documents = (0..<10).map { $0 < 5 ? "doc-\($0 * 701)" : "new-\($0)" }
            let collections = Self.array(Array(repeating: "observations", count: 10), as: "text")
            let ids = Self.array(documents, as: "text")
            let standing = try await Self.genericRowsRead(
                DocumentsStandingStatement.self, "\(collections), \(ids)", clients[0])
            #expect(standing.rows <= 5, "the states' read of 10 documents (5 held): \(standing.plan)")
            let origins = Self.array([origin], as: "text")
            let counters = "ARRAY[\((1...10).map(String.init).joined(separator: ","))]::bigint[]"
            let dots = "\(Self.array(Array(repeating: origin, count: 10), as: "text")), \(counters)"
            let held = try await Self.genericRowsRead(
                PushHeldStatement.self, "\(origins), \(origins), \(dots), \(collections), \(ids)", clients[0])
            #expect(held.rows <= 5, "what decides a push of 10 (5 documents held): \(held.plan)")
            let last = try await Self.genericRowsRead(LastPositionStatement.self, "9223372036854775807", clients[0])
            #expect(last.rows <= 1, "the feed's last position: \(last.plan)")
        }
    }

    /// Takes a push of four versions into `schema` through a store on a pool of one connection
    /// made with `configuration`, reads them back in a page and their keys, and returns how many
    /// the page held and the statements that connection prepared.
    private static func exchange(
        in schema: String, configuration: PostgresClient.Configuration
    ) async throws -> (held: Int, names: [String]) {
        let client = PostgresClient(configuration: configuration, backgroundLogger: PostgresTestDatabase.quiet)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            let tables = try PostgresDeviceTables(
                client: client, schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(),
                logger: PostgresTestDatabase.quiet)
            let storage = try PostgresHubStorage(tables: tables)
            let origin = ReplicaID.random()
            let versions = try PushFixtures.versions(origin, 1...4)
            _ = try await storage.take(PushPlan(versions: versions, pusher: origin, policy: .inOrder))
            let page = try await storage.feed.page(after: .start, limit: 10, maxBytes: 1 << 20)
            _ = try await PostgresDeviceRegistry(tables: tables).keys(of: [origin])
            let rows = try await client.query("SELECT name FROM pg_prepared_statements ORDER BY name")
            var names: [String] = []
            for try await name in rows.decode(String.self) { names.append(name) }
            return (page.versions.count, names)
        }
    }

    private static func array(_ values: [String], as type: String) -> String {
        "ARRAY[\(values.map { "'\($0)'" }.joined(separator: ","))]::\(type)[]"
    }

    /// The rows the generic plan of `Statement` (prepared on a connection searching the schema)
    /// reads of `versions` when executed with `arguments` (SQL literals), and its nodes.
    private static func genericRowsRead<Statement: PostgresSchemaStatement>(
        _ statement: Statement.Type, _ arguments: String, _ client: PostgresClient
    ) async throws -> (rows: Int, plan: String) {
        try await client.withConnection { connection in
            let logger = PostgresTestDatabase.quiet
            try await connection.execute("SET plan_cache_mode = force_generic_plan", logger: logger)
            try await connection.execute(
                PostgresQuery(unsafeSQL: "PREPARE vigil_generic AS \(Statement.sql)"), logger: logger)
            let explain = PostgresQuery(unsafeSQL: "EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE vigil_generic(\(arguments))")
            var json = ""
            for try await text in try await connection.query(explain, logger: logger).decode(String.self) {
                json += text
            }
            try await connection.execute("DEALLOCATE vigil_generic", logger: logger)
            try await connection.execute("RESET plan_cache_mode", logger: logger)
            return try DocumentLookupFill.rowsRead(json)
        }
    }
}
