import Logging
import PostgresNIO

/// Transactions on one leased connection, with the isolation a caller needs (postgres-nio's own
/// `withTransaction` always begins with the server's default).
enum PostgresTransaction {
    enum Mode {
        /// Read committed, read write: every statement sees what committed before it.
        case readWrite
        /// One snapshot for the whole transaction, taken at its first statement; nothing written.
        case snapshotReadOnly

        var begin: String {
            switch self {
            case .readWrite: "BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE"
            case .snapshotReadOnly: "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
            }
        }
    }

    /// Runs `body` in one transaction on `connection`: commits when it returns, rolls back when it
    /// throws (or when the commit fails).
    static func run<Result>(
        on connection: PostgresConnection, mode: Mode, logger: Logger,
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await connection.execute(PostgresQuery(unsafeSQL: mode.begin), logger: logger)
        do {
            let result = try await body(connection)
            try await connection.execute("COMMIT", logger: logger)
            return result
        } catch {
            // The transaction failed: leave the connection usable for its next lease. A rollback
            // that fails too (the connection broke) changes nothing: the server rolls back.
            try? await connection.execute("ROLLBACK", logger: logger)
            throw error
        }
    }
}

extension PostgresConnection {
    /// Runs `query` and reads its rows to the end, so the connection is ready for the next one.
    func execute(_ query: PostgresQuery, logger: Logger) async throws {
        let rows = try await self.query(query, logger: logger)
        for try await _ in rows {}
    }
}
