import Logging
public import PostgresNIO

/// The hub's PostgreSQL schema: an ordered list of named SQL steps, recorded in
/// `vigil_schema_migrations` as they are applied. Steps are never edited once shipped; a change is
/// a new step at the end.
///
/// ``migrate(_:schema:logger:)`` applies the missing steps in one transaction under a
/// transaction-scoped advisory lock of the schema, so several hub processes starting at once
/// migrate once: the others wait for the lock, then find every step recorded.
public enum PostgresMigrations {
    /// One named step: SQL statements run in order, `{schema}` standing for the schema's name.
    struct Step {
        let name: String
        let statements: [String]
    }

    /// The steps, in order.
    static let steps: [Step] = [
        Step(
            name: "v1-feed",
            statements: [
                // Every version the hub holds, in arrival order (`seq`, the feed's position). Text
                // columns hold the model's own encodings (hex replica ids, a context's compact
                // text), as the SQLite hub's rows do; names compare byte by byte (`COLLATE "C"`) so
                // that a scope's prefix is an index range.
                """
                CREATE TABLE {schema}.versions (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    origin text NOT NULL,
                    counter bigint NOT NULL CHECK (counter > 0),
                    collection text COLLATE "C" NOT NULL,
                    document_id text COLLATE "C" NOT NULL,
                    partition text COLLATE "C" NOT NULL,
                    context text NOT NULL,
                    body bytea,
                    clock_wall bigint NOT NULL,
                    clock_logical bigint NOT NULL,
                    signature bytea NOT NULL,
                    received_from text,
                    set_aside_reason text,
                    set_aside_code text,
                    feed_tag bigint NOT NULL,
                    UNIQUE (origin, counter)
                )
                """,
                "CREATE INDEX versions_by_document ON {schema}.versions (collection, document_id)",
                """
                CREATE INDEX versions_feed_by_partition ON {schema}.versions (collection, partition, seq)
                    WHERE set_aside_reason IS NULL
                """,
                """
                CREATE INDEX versions_feed_by_collection ON {schema}.versions (collection, seq)
                    WHERE set_aside_reason IS NULL
                """,
                // For every origin, every counter up to `counter` is held here.
                "CREATE TABLE {schema}.knowledge (origin text PRIMARY KEY, counter bigint NOT NULL)",
            ])
    ]

    /// Creates `schema` when missing and applies the steps it lacks, in one transaction under the
    /// schema's migration lock. Returns the names of the steps this call applied.
    @discardableResult
    public static func migrate(_ client: PostgresClient, schema: String, logger: Logger) async throws -> [String] {
        let schema = try PostgresSchemaName(schema)
        return try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .readWrite, logger: logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\("vigil.migrate:" + schema.name), 0))",
                    logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema.name)"), logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(schema.name).vigil_schema_migrations (
                                name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                            """), logger: logger)
                var applied: Set<String> = []
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT name FROM \(schema.name).vigil_schema_migrations"), logger: logger)
                for try await name in rows.decode(String.self) {
                    applied.insert(name)
                }
                let known = Set(steps.map(\.name))
                if let unknown = applied.subtracting(known).sorted().first {
                    throw PostgresStoreError(
                        .schemaFromLaterBuild,
                        "The schema \(schema.name) holds the migration \(unknown), which this build does not know: it was written by a later build."
                    )
                }
                var done: [String] = []
                for step in steps where !applied.contains(step.name) {
                    for statement in step.statements {
                        let sql = statement.replacingOccurrences(of: "{schema}", with: schema.name)
                        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
                    }
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: "INSERT INTO \(schema.name).vigil_schema_migrations (name) VALUES ($1)",
                            binds: binds(step.name)), logger: logger)
                    done.append(step.name)
                }
                if !done.isEmpty {
                    logger.info(
                        "hub schema migrated",
                        metadata: ["postgres.schema": "\(schema.name)", "postgres.migrations": "\(done)"])
                }
                return done
            }
        }
    }

    private static func binds(_ text: String) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(text)
        return bindings
    }
}

/// A schema's name, checked to be a plain lowercase SQL identifier so it can be spelled in SQL.
struct PostgresSchemaName: Sendable, Hashable {
    let name: String

    init(_ text: String) throws {
        let bytes = Array(text.utf8)
        let isLower = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "_")
        }
        guard (1...63).contains(bytes.count), isLower(bytes[0]),
            bytes.allSatisfy({ isLower($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else {
            throw PostgresStoreError(
                .invalidSchemaName,
                "A schema name is 1 to 63 lowercase letters, digits or '_', starting with a letter or '_'.")
        }
        name = text
    }
}
