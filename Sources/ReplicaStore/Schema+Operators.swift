import GRDB

/// The operators' tables (migrations v13 and v16). They are part of the replica's migration
/// history, so they stay with it; the code that uses them is in HubStore.
extension ReplicaStore {
    /// The tables of operator accounts and their sessions (a hub's; empty elsewhere). Passwords
    /// and tokens are stored only as derived hashes.
    static func createOperatorTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE operators (
                name TEXT PRIMARY KEY,
                role TEXT NOT NULL CHECK (role IN ('viewer', 'resolver', 'admin')),
                created_at INTEGER NOT NULL,
                -- 'scrypt$logN$r$p$salt$hash' (base64), NULL until the setup link is used.
                password_hash TEXT,
                -- SHA-256 of the one-time setup token; NULL once used.
                setup_hash BLOB UNIQUE,
                setup_expires_at INTEGER
            ) WITHOUT ROWID;
            CREATE TABLE operator_sessions (
                token_hash BLOB PRIMARY KEY,
                operator TEXT NOT NULL REFERENCES operators (name) ON DELETE CASCADE,
                csrf_token TEXT NOT NULL,
                created_at INTEGER NOT NULL,
                expires_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX operator_sessions_by_operator ON operator_sessions (operator);
            """)
    }

    /// Migration `v16-operator-totp`: an operator's TOTP secret (RFC 6238; NULL: no second factor)
    /// and the last time step a code was accepted for, so that no code works twice.
    static func addOperatorTOTP(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE operators ADD COLUMN totp_secret BLOB;
            ALTER TABLE operators ADD COLUMN totp_last_step INTEGER;
            """)
    }
}
