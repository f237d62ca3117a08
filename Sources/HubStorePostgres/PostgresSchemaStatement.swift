import Logging
public import PostgresNIO
import Synchronization

/// A statement of the exchange's path (what every sync reads and writes), written once with its
/// tables as `{schema}.name`, run either prepared or as text (``PostgresStatementMode``).
///
/// Sent as text, each statement is parsed and planned at every call: under `vigil-bench --only
/// hub-load-postgres` PostgreSQL spent more time parsing and planning the exchange's statements
/// than executing them (Docs/Performance.md). Prepared, a connection parses each once, under its
/// type's name (postgres-nio keeps them per connection), and its text must not change: so its
/// tables are not qualified, and the connection finds them through its `search_path`, which a
/// hub's pool sets to the hub's schema (``PostgresClient/Configuration/searchPath(_:)``).
protocol PostgresSchemaStatement: PostgresPreparedStatement {
    /// The statement's text, each table written `{schema}.name`.
    static var template: String { get }
}

extension PostgresSchemaStatement {
    /// `template` with its tables unqualified, found through the connection's `search_path`: the
    /// `sql` each statement prepares.
    static func unqualified() -> String {
        template.replacingOccurrences(of: "{schema}.", with: "")
    }

    /// `template` with its tables qualified by `schema`: the text sent when not prepared.
    static func qualified(by schema: PostgresSchemaName) -> String {
        template.replacingOccurrences(of: "{schema}.", with: "\(schema.name).")
    }

    /// The statement as text, its tables qualified by `schema`.
    func query(in schema: PostgresSchemaName) throws -> PostgresQuery {
        PostgresQuery(unsafeSQL: Self.qualified(by: schema), binds: try makeBindings())
    }
}

/// Whether a store's exchange statements (``PostgresSchemaStatement``) are prepared: when its
/// pool's connections search its schema alone (``PostgresClient/Configuration/searchPath(_:)``,
/// as ``PostgresHub/withHub(_:schema:deviceEntriesPerHour:keyFile:answerWithin:logger:_:)`` sets
/// it), read once, from the first connection that runs one. Otherwise (a client shared by several
/// schemas, or made without the parameter) they go as text, qualified by the schema, as every
/// other statement does. One is shared by the parts of one store (its device tables, feed and
/// pushes), whose connections all come from one pool, so one configuration.
final class PostgresStatementMode: Sendable {
    private let known: Mutex<Bool?>

    /// A mode found at the first statement.
    init() { known = Mutex(nil) }

    private init(prepared: Bool) { known = Mutex(prepared) }

    /// Never prepared: for statements outside a store's exchange (the console's, the fill).
    static let text = PostgresStatementMode(prepared: false)

    /// Whether `schema`'s statements are prepared on `connection`'s pool.
    func prepares(_ schema: PostgresSchemaName, on connection: PostgresConnection, logger: Logger) async throws -> Bool
    {
        if let prepared = known.withLock({ $0 }) { return prepared }
        let rows = try await connection.query("SELECT current_setting('search_path')", logger: logger)
        var path = ""
        for try await text in rows.decode(String.self) { path = text }
        let prepared = path == schema.name
        known.withLock { $0 = prepared }
        return prepared
    }
}

/// Runs ``PostgresSchemaStatement``s of one schema in one mode.
struct PostgresStatements: Sendable {
    let schema: PostgresSchemaName
    let mode: PostgresStatementMode
    let logger: Logger

    /// The rows of `statement` on `connection`, read to the end.
    ///
    /// postgres-nio keeps a failed preparation's error for the connection's life and gives it back
    /// at every later call of that statement there. A preparation fails only when a table it names
    /// is missing or a lock it waits for times out: after the migration, with the server's default
    /// `lock_timeout` and `statement_timeout` (none), neither happens.
    func rows<Statement: PostgresSchemaStatement>(
        _ statement: Statement, on connection: PostgresConnection
    ) async throws -> [Statement.Row] {
        var decoded: [Statement.Row] = []
        guard try await mode.prepares(schema, on: connection, logger: logger) else {
            let rows = try await connection.query(try statement.query(in: schema), logger: logger)
            for try await row in rows { decoded.append(try statement.decodeRow(row)) }
            return decoded
        }
        for try await row in try await connection.execute(statement, logger: logger) { decoded.append(row) }
        return decoded
    }

    /// Runs `statement` on `connection`, its rows (if any) read and dropped.
    func run<Statement: PostgresSchemaStatement>(
        _ statement: Statement, on connection: PostgresConnection
    ) async throws {
        _ = try await rows(statement, on: connection)
    }

    /// The rows of `statement` on a connection of `client`'s pool.
    func rows<Statement: PostgresSchemaStatement>(
        _ statement: Statement, client: PostgresClient
    ) async throws -> [Statement.Row] where Statement.Row: Sendable {
        try await client.withConnection { connection in try await rows(statement, on: connection) }
    }
}

extension PostgresClient.Configuration {
    /// Sets every connection's `search_path` to `schema` alone (a startup parameter, so no
    /// statement is spent on it), which lets a hub on `schema` prepare the statements of its
    /// exchange (``PostgresSchemaStatement``); throws ``PostgresStoreError/Code/invalidSchemaName``
    /// for a name the store does not take.
    public mutating func searchPath(_ schema: String) throws {
        let name = try PostgresSchemaName(schema)
        options.additionalStartupParameters.removeAll { $0.0 == "search_path" }
        options.additionalStartupParameters.append(("search_path", name.name))
    }
}

extension PostgresBindings {
    /// Bindings of `values`, in order: a statement's `$1`, `$2`, ….
    static func of<each Value: PostgresDynamicTypeEncodable>(_ values: repeat each Value) -> PostgresBindings {
        var bindings = PostgresBindings()
        repeat bindings.append(each values)
        return bindings
    }
}
