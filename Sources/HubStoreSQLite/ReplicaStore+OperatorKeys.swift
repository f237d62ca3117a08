public import Foundation
import GRDB
public import HubStore
public import Records
public import ReplicaStore
import SyncEngine

extension ReplicaStore {
    /// What an informant private key is sealed under when granted to an operator (`info` of the box).
    public static let operatorGrantInfo = InformantKeyGrant.info

    public static func grantAAD(operator name: String, keyID: String) -> Data { InformantKeyGrant.aad(operator: name, keyID: keyID) }

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
                db, actor: AuditEntry.operatorActor, action: .informantKeyCreated, subject: key.publicKey.keyID,
                detail: ["keyFile": keyFileWritten ? "written" : "none"], at: now)
            return (statement, try Self.grantPending(db, key, by: AuditEntry.operatorActor, at: now))
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
        let sealed = try InformantKeyGrant.seal(key, to: name, publicKey)
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO operator_informant_keys (operator, key_id, sealed_private_key, granted_at)
                VALUES (?, ?, ?, ?)
                """,
            arguments: [name, keyID, sealed, Int64(clamping: now)])
        try appendAudit(db, actor: actor, action: .informantKeyGranted, subject: name, detail: ["keyId": keyID], at: now)
    }
}
