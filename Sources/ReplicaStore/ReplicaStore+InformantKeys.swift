import Foundation
import SyncEngine
public import Records
import GRDB

/// What a write does with an informant reference given in clear (an import's records).
public enum InformantSealing: Sendable, Hashable {
    /// Keep it as given (a replica enrolled with no hub: there is no network key to seal to).
    case keep
    /// Seal it to the network's informant key before the record is signed.
    case seal(InformantPublicKey)
    /// Refuse the record: the replica is enrolled and holds no informant key yet.
    case refuse
}



extension Schema {
    /// `v17-informant-keys`: the network's informant public key (with the hub's signed statement,
    /// on the hub and on every device that fetched it), operators' key pairs (private key wrapped
    /// under their password) and the informant private key sealed to each eligible operator. A
    /// change of role to viewer drops that operator's sealed copy.
    static func migrateInformantKeys(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE informant_keys (
                key_id TEXT PRIMARY KEY,
                public_key BLOB NOT NULL,
                -- The hub-signed statement as JSON (InformantKeyStatement).
                statement BLOB NOT NULL,
                saved_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE operator_keys (
                operator TEXT PRIMARY KEY REFERENCES operators (name) ON DELETE CASCADE,
                public_key BLOB NOT NULL,
                wrapped_private_key TEXT NOT NULL,
                created_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE operator_informant_keys (
                operator TEXT NOT NULL REFERENCES operators (name) ON DELETE CASCADE,
                key_id TEXT NOT NULL REFERENCES informant_keys (key_id),
                sealed_private_key BLOB NOT NULL,
                granted_at INTEGER NOT NULL,
                PRIMARY KEY (operator, key_id)
            ) WITHOUT ROWID;
            CREATE TRIGGER operator_informant_keys_viewer AFTER UPDATE OF role ON operators
            WHEN NEW.role = 'viewer' BEGIN
                DELETE FROM operator_informant_keys WHERE operator = NEW.name;
            END;
            """)
    }
}

extension Schema {
    /// `v20-informant-key-checks`: when a device last asked its hub for the informant key, so that
    /// a hub without one costs a no-op sync no second request each time.
    static func migrateInformantKeyChecks(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE informant_key_checks (
                peer TEXT PRIMARY KEY,
                checked_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            """)
    }
}

extension ReplicaStore {
    /// Whether this replica should ask the hub `peer` for the informant key now: it holds none,
    /// and it has not asked in the last `interval` milliseconds.
    public func informantKeyCheckIsDue(peer: String, interval: UInt64) throws -> Bool {
        let now = options.now()
        return try read { db in
            guard try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM informant_keys)") == false else { return false }
            guard let checked = try Int64.fetchOne(db, sql: "SELECT checked_at FROM informant_key_checks WHERE peer = ?", arguments: [peer])
            else { return true }
            return UInt64(max(0, checked)) + interval <= now
        }
    }

    /// Notes that this replica asked the hub `peer` for the informant key now.
    public func noteInformantKeyCheck(peer: String) throws {
        let now = Int64(clamping: options.now())
        try write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO informant_key_checks (peer, checked_at) VALUES (?, ?)", arguments: [peer, now])
        }
    }

    /// Makes the next sync ask for the informant key whenever it last asked (a write was refused for
    /// the want of it).
    public func clearInformantKeyChecks() throws {
        try write { db in try db.execute(sql: "DELETE FROM informant_key_checks") }
    }
}

extension ReplicaStore {
    /// The network's informant key statement this replica holds (the hub's own, or the one a
    /// device fetched), nil when none.
    public func informantKey() throws -> InformantKeyStatement? {
        try read { db in
            guard let data = try Data.fetchOne(db, sql: "SELECT statement FROM informant_keys ORDER BY saved_at LIMIT 1") else {
                return nil
            }
            return try JSONDecoder().decode(InformantKeyStatement.self, from: data)
        }
    }

    /// Saves a statement a device fetched from its hub: taken only when signed by a hub key this
    /// replica pinned (``InformantKeyError`` `notSigned` otherwise); the same key again changes
    /// nothing. Returns whether it was new.
    @discardableResult
    public func saveInformantKey(_ statement: InformantKeyStatement) throws -> Bool {
        guard let pinned = try trustedHubs()[statement.hub], statement.isSigned(by: pinned) else {
            throw InformantKeyError(.notSigned)
        }
        let encoded = try JSONEncoder().encode(statement)
        let now = Int64(clamping: options.now())
        return try write { db in
            try db.execute(
                sql: "INSERT OR IGNORE INTO informant_keys (key_id, public_key, statement, saved_at) VALUES (?, ?, ?, ?)",
                arguments: [statement.publicKey.keyID, statement.publicKey.rawRepresentation, encoded, now])
            return db.changesCount > 0
        }
    }
}
