import PostgresNIO
public import SyncEngine

/// A failure of the hub's PostgreSQL store: a code for the edges and one sentence for people.
///
/// Messages name what happened and the facts (a schema name, a migration), never record contents
/// or a connection's password.
public typealias PostgresStoreError = CodedFailure<PostgresStoreErrorDomain>

/// The domain of ``PostgresStoreError``'s codes.
public enum PostgresStoreErrorDomain {}

extension ErrorCode where Domain == PostgresStoreError {
    /// A schema name that is not a plain lowercase SQL identifier.
    public static let invalidSchemaName = Self("invalidSchemaName")
    /// The database holds migrations this build does not know (written by a later build).
    public static let schemaFromLaterBuild = Self("schemaFromLaterBuild")
    /// A row that does not decode into the model (damaged, or written by something else).
    public static let malformedRow = Self("malformedRow")
    /// A connection address that is not a `postgres://` URL with a user, a host and a database.
    public static let invalidAddress = Self("invalidAddress")
    /// The server accepted no connection in time (not running, unreachable, or refusing the login).
    public static let unreachable = Self("unreachable")
    /// The server's TLS certificate was refused (another root, another host), or it offers no TLS
    /// where the address's `sslmode` asks for it.
    public static let tlsRefused = Self("tlsRefused")
    /// The hub's signing key is kept apart from the database (in a key file) and none was given.
    public static let hubKeyApart = Self("hubKeyApart")
    /// The key file given holds another key than the hub's, or is missing while the database
    /// says the hub's key was made elsewhere.
    public static let hubKeyMismatch = Self("hubKeyMismatch")
    /// The key file cannot be read or written, can be read by others, or holds no key.
    public static let hubKeyFile = Self("hubKeyFile")
}

extension PostgresStoreError {
    /// What the server said when `error` is its refusal (a failed login, a missing database, a
    /// statement it rejected), for people: its message and SQLSTATE; nil for any other error.
    public static func serverMessage(of error: any Error) -> String? {
        guard let error = error as? PSQLError else { return nil }
        guard let message = error.serverInfo?[.message] else { return "PostgreSQL failed: \(error.code)." }
        let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
        return "PostgreSQL refused: \(message)\(state)."
    }
}
