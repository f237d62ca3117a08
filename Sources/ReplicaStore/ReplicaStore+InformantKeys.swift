public import Foundation
public import SyncEngine
public import Records
import GRDB

/// Why an informant-key step of the store did not happen; the code says why, never a key.
public struct InformantKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The network already has an informant key (rotation is not built).
        case exists
        /// This replica holds no informant key.
        case missing
        /// The statement is not signed by the key this replica pinned for its hub.
        case notSigned
        /// No operator has this name.
        case noSuchOperator
        /// The operator's role may not see informant references (viewer).
        case notEligible
        /// The operator has no key pair yet (it is made at their next login).
        case noOperatorKey
        /// The key given is not the network's informant key.
        case wrongKey
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .exists: "This hub already has an informant key."
        case .missing: "This replica holds no informant key."
        case .notSigned: "The informant key statement is not signed by the pinned hub key."
        case .noSuchOperator: "No operator has this name."
        case .notEligible: "This operator's role may not see informant references."
        case .noOperatorKey: "This operator has no key pair yet."
        case .wrongKey: "The key given is not the network's informant key."
        }
    }
}

/// What a write does with an informant reference given in clear (an import's records).
public enum InformantSealing: Sendable, Hashable {
    /// Keep it as given (a replica enrolled with no hub: there is no network key to seal to).
    case keep
    /// Seal it to the network's informant key before the record is signed.
    case seal(InformantPublicKey)
    /// Refuse the record: the replica is enrolled and holds no informant key yet.
    case refuse
}

/// An operator's own X25519 key pair at the hub: the private key wrapped under a key derived
/// from their password (never stored in clear), and the informant key sealed to them when granted.
public struct OperatorKeyRecord: Sendable, Hashable {
    public var name: String
    public var role: OperatorRole
    public var publicKey: InformantPublicKey
    /// `scrypt$logN$r$p$salt$box` (base64): the private key in a ChaChaPoly box.
    public var wrappedPrivateKey: String
    /// The informant private key sealed to ``publicKey`` (an ``X25519Box``), when granted.
    public var sealedInformantKey: Data?
}

extension AuditAction {
    /// The hub made the network's informant key (detail: its id, and whether a key file was written).
    public static let informantKeyCreated = AuditAction(rawValue: "informant-key.created")
    /// The informant key was sealed to an operator (detail: key id and by whom).
    public static let informantKeyGranted = AuditAction(rawValue: "informant-key.granted")
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
    /// What an informant private key is sealed under when granted to an operator (`info` of the box).
    public static let operatorGrantInfo = "vigil.informant-key.grant.1"

    public static func grantAAD(operator name: String, keyID: String) -> Data { Data("\(name)\u{0}\(keyID)".utf8) }

    /// Makes `key` the network's informant key (the hub): saves its statement signed with the
    /// hub's key and seals the private key to every eligible operator that has a key pair, in one
    /// transaction; audited. Throws ``InformantKeyError`` `exists` when there is one already.
    /// Returns the statement and the names granted.
    public func createInformantKey(_ key: InformantPrivateKey, keyFileWritten: Bool) throws -> (InformantKeyStatement, [String]) {
        let now = options.now()
        let statement = try InformantKeyStatement(hub: replicaID, publicKey: key.publicKey, issuedAt: now, signedWith: self.key)
        let encoded = try JSONEncoder().encode(statement)
        return try write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM informant_keys)") == true {
                throw InformantKeyError(.exists)
            }
            try db.execute(
                sql: "INSERT INTO informant_keys (key_id, public_key, statement, saved_at) VALUES (?, ?, ?, ?)",
                arguments: [key.publicKey.keyID, key.publicKey.rawRepresentation, encoded, Int64(clamping: now)])
            try Self.appendAudit(
                db, actor: Self.operatorActor, action: .informantKeyCreated, subject: key.publicKey.keyID,
                detail: ["keyFile": keyFileWritten ? "written" : "none"], at: now)
            return (statement, try Self.grantPending(db, key, by: Self.operatorActor, at: now))
        }
    }

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

    /// The key pair record of the operator `name`, with their role; nil when they have none.
    public func operatorKey(name: String) throws -> OperatorKeyRecord? {
        try read { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT o.name, o.role, k.public_key, k.wrapped_private_key,
                        (SELECT g.sealed_private_key FROM operator_informant_keys g JOIN informant_keys i ON i.key_id = g.key_id
                         WHERE g.operator = o.name ORDER BY i.saved_at LIMIT 1)
                    FROM operators o JOIN operator_keys k ON k.operator = o.name WHERE o.name = ?
                    """,
                arguments: [name]),
                let role = OperatorRole(rawValue: row[1]),
                let key = try? InformantPublicKey(rawRepresentation: row[2])
            else { return nil }
            return OperatorKeyRecord(
                name: row[0], role: role, publicKey: key, wrappedPrivateKey: row[3],
                sealedInformantKey: role >= .resolver ? row[4] : nil)
        }
    }

    /// How many resolvers and admins have a key pair (those a new informant key is sealed to).
    public func eligibleOperatorKeyCount() throws -> Int {
        try read { db in
            try Int.fetchOne(
                db,
                sql: """
                    SELECT COUNT(*) FROM operators o JOIN operator_keys k ON k.operator = o.name
                    WHERE o.role IN ('resolver', 'admin')
                    """) ?? 0
        }
    }

    /// Saves the operator `name`'s key pair (made when their password is known: at setup or
    /// login); one they have already is kept. Returns whether it was saved.
    @discardableResult
    public func setOperatorKey(name: String, publicKey: InformantPublicKey, wrappedPrivateKey: String) throws -> Bool {
        let now = Int64(clamping: options.now())
        return try write { db in
            try db.execute(
                sql: """
                    INSERT OR IGNORE INTO operator_keys (operator, public_key, wrapped_private_key, created_at)
                    SELECT name, ?, ?, ? FROM operators WHERE name = ?
                    """,
                arguments: [publicKey.rawRepresentation, wrappedPrivateKey, now, name])
            return db.changesCount > 0
        }
    }

    /// Seals the informant key `key` (which must be the network's) to every resolver and admin
    /// that has a key pair and no copy yet; audited per operator with `actor`. Returns their names.
    @discardableResult
    public func grantInformantKeyToPending(_ key: InformantPrivateKey, by actor: String) throws -> [String] {
        let now = options.now()
        return try write { db in try Self.grantPending(db, key, by: actor, at: now) }
    }

    /// Seals the informant key `key` to the operator `name` (`syncd informant-key grant`); audited.
    /// Throws ``InformantKeyError``: `missing`, `wrongKey`, `noSuchOperator`, `notEligible`, `noOperatorKey`.
    public func grantInformantKey(_ key: InformantPrivateKey, to name: String, by actor: String) throws {
        let now = options.now()
        try write { db in
            try Self.checkNetworkKey(db, key)
            guard let row = try Row.fetchOne(
                db, sql: "SELECT o.role, k.public_key FROM operators o LEFT JOIN operator_keys k ON k.operator = o.name WHERE o.name = ?",
                arguments: [name])
            else { throw InformantKeyError(.noSuchOperator) }
            guard let role = OperatorRole(rawValue: row[0]), role >= .resolver else { throw InformantKeyError(.notEligible) }
            guard let raw = row[1] as Data?, let publicKey = try? InformantPublicKey(rawRepresentation: raw) else {
                throw InformantKeyError(.noOperatorKey)
            }
            try Self.seal(db, key, to: name, publicKey, by: actor, at: now)
        }
    }

    private static func checkNetworkKey(_ db: Database, _ key: InformantPrivateKey) throws {
        guard let held = try Data.fetchOne(db, sql: "SELECT public_key FROM informant_keys ORDER BY saved_at LIMIT 1") else {
            throw InformantKeyError(.missing)
        }
        guard held == key.publicKey.rawRepresentation else { throw InformantKeyError(.wrongKey) }
    }

    private static func grantPending(_ db: Database, _ key: InformantPrivateKey, by actor: String, at now: UInt64) throws -> [String] {
        try checkNetworkKey(db, key)
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT o.name, k.public_key FROM operators o JOIN operator_keys k ON k.operator = o.name
                WHERE o.role IN ('resolver', 'admin') AND NOT EXISTS (
                    SELECT 1 FROM operator_informant_keys g WHERE g.operator = o.name AND g.key_id = ?)
                ORDER BY o.name LIMIT 1000
                """,
            arguments: [key.publicKey.keyID])
        var granted: [String] = []
        for row in rows {
            guard let publicKey = try? InformantPublicKey(rawRepresentation: row[1]) else { continue }
            let name: String = row[0]
            try seal(db, key, to: name, publicKey, by: actor, at: now)
            granted.append(name)
        }
        return granted
    }

    private static func seal(
        _ db: Database, _ key: InformantPrivateKey, to name: String, _ publicKey: InformantPublicKey, by actor: String, at now: UInt64
    ) throws {
        let keyID = key.publicKey.keyID
        let sealed = try X25519Box.seal(
            key.rawRepresentation, to: publicKey, info: operatorGrantInfo, aad: grantAAD(operator: name, keyID: keyID))
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO operator_informant_keys (operator, key_id, sealed_private_key, granted_at)
                VALUES (?, ?, ?, ?)
                """,
            arguments: [name, keyID, sealed, Int64(clamping: now)])
        try appendAudit(db, actor: actor, action: .informantKeyGranted, subject: name, detail: ["keyId": keyID], at: now)
    }
}
