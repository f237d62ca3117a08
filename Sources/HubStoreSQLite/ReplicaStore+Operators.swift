public import Foundation
import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// The audit actor of an operator of the console.
    public static func operatorActor(_ name: String) -> String { operatorAuditActor(name) }

    /// Adds an operator with a one-time setup token (by its hash) valid until `setupExpiresAt`; audited.
    public func addOperator(
        name: String, role: OperatorRole, setupHash: Data, setupExpiresAt: UInt64
    ) throws -> OperatorAddition {
        let now = options.now()
        return try write { db in
            if try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM operators WHERE name = ?)", arguments: [name]) == true {
                return .nameTaken
            }
            try db.execute(
                sql: "INSERT INTO operators (name, role, created_at, setup_hash, setup_expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [name, role.rawValue, Int64(clamping: now), setupHash, Int64(clamping: setupExpiresAt)])
            try Self.appendAudit(
                db, actor: AuditEntry.operatorActor, action: .operatorAdded, subject: name,
                detail: ["role": role.rawValue, "setupExpiresAt": "\(setupExpiresAt)"], at: now)
            return .added
        }
    }

    /// Removes an operator and ends every session of theirs; false when there is none of that name.
    public func removeOperator(name: String) throws -> Bool {
        let now = options.now()
        return try write { db in
            try db.execute(sql: "DELETE FROM operator_sessions WHERE operator = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM operators WHERE name = ?", arguments: [name])
            guard db.changesCount > 0 else { return false }
            try Self.appendAudit(db, actor: AuditEntry.operatorActor, action: .operatorRemoved, subject: name, at: now)
            return true
        }
    }

    /// Up to `limit` operators by name, after `name` when given, and whether more follow.
    public func operators(after name: String? = nil, limit: Int) throws -> (operators: [OperatorRecord], more: Bool) {
        let limit = max(1, min(limit, 1_000))
        return try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT name, role, created_at, password_hash IS NOT NULL, setup_expires_at, totp_secret IS NOT NULL FROM operators
                    WHERE name > ? ORDER BY name LIMIT ?
                    """,
                arguments: [name ?? "", limit + 1])
            let records = rows.prefix(limit).compactMap { row -> OperatorRecord? in
                guard let role = OperatorRole(rawValue: row[1]) else { return nil }
                let setup: Int64? = row[4]
                return OperatorRecord(
                    name: row[0], role: role, createdAt: UInt64(max(0, row[2] as Int64)), hasPassword: row[3],
                    setupExpiresAt: setup.map { UInt64(max(0, $0)) }, hasSecondFactor: row[5])
            }
            return (records, rows.count > limit)
        }
    }

    /// The operator whose unexpired setup token has this hash; nil otherwise.
    public func operatorForSetup(hash: Data) throws -> String? {
        let now = Int64(clamping: options.now())
        return try read { db in
            try String.fetchOne(
                db, sql: "SELECT name FROM operators WHERE setup_hash = ? AND setup_expires_at > ?", arguments: [hash, now])
        }
    }

    /// Sets the password (its stored hash) of the operator whose unexpired setup token has this
    /// hash, using the token up; audited. Returns the operator's name, nil when the token does not work.
    public func completeOperatorSetup(hash: Data, passwordHash: String) throws -> String? {
        let now = options.now()
        return try write { db in
            guard let name = try String.fetchOne(
                db, sql: "SELECT name FROM operators WHERE setup_hash = ? AND setup_expires_at > ?",
                arguments: [hash, Int64(clamping: now)])
            else { return nil }
            try db.execute(
                sql: "UPDATE operators SET password_hash = ?, setup_hash = NULL, setup_expires_at = NULL WHERE name = ?",
                arguments: [passwordHash, name])
            try db.execute(sql: "DELETE FROM operator_sessions WHERE operator = ?", arguments: [name])
            try Self.appendAudit(db, actor: Self.operatorActor(name), action: .operatorPasswordSet, subject: name, at: now)
            return name
        }
    }

    /// The stored password hash and role of an operator who set a password; nil otherwise.
    public func operatorCredentials(name: String) throws -> (passwordHash: String, role: OperatorRole)? {
        try read { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT password_hash, role FROM operators WHERE name = ? AND password_hash IS NOT NULL",
                arguments: [name]),
                let role = OperatorRole(rawValue: row[1])
            else { return nil }
            return (row[0], role)
        }
    }

    /// Starts a session (by the hash of its token) for an operator; the login is audited with the
    /// client's address. Sessions past their expiry are removed on the way.
    public func startOperatorSession(
        tokenHash: Data, operator name: String, csrfToken: String, expiresAt: UInt64, address: String
    ) throws {
        let now = options.now()
        try write { db in
            try db.execute(sql: "DELETE FROM operator_sessions WHERE expires_at <= ?", arguments: [Int64(clamping: now)])
            try db.execute(
                sql: "INSERT INTO operator_sessions (token_hash, operator, csrf_token, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [tokenHash, name, csrfToken, Int64(clamping: now), Int64(clamping: expiresAt)])
            try Self.appendAudit(
                db, actor: Self.operatorActor(name), action: .operatorLogin, subject: name, detail: ["address": address], at: now)
        }
    }

    /// Audits a failed login (the name tried, shortened, and the client's address); `factor`
    /// names what was wrong when it was not the name or password (`code`: the second factor).
    public func auditFailedLogin(name: String, address: String, factor: String? = nil) throws {
        var detail = ["address": address]
        detail["factor"] = factor
        try appendAudit(actor: "console", action: .operatorLoginFailed, subject: String(name.prefix(64)), detail: detail)
    }

    /// The unexpired session whose token has this hash, used now, with its operator's current
    /// role: its expiry moves to `idle` milliseconds from now, never past `lifetime` milliseconds
    /// after its start. A session unused for longer than `idle` has expired, and so has one older
    /// than `lifetime`.
    public func useOperatorSession(tokenHash: Data, idle: UInt64, lifetime: UInt64) throws -> OperatorSession? {
        let now = options.now()
        return try write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT s.operator, o.role, s.csrf_token, s.expires_at, s.created_at FROM operator_sessions s
                    JOIN operators o ON o.name = s.operator WHERE s.token_hash = ? AND s.expires_at > ?
                    """,
                arguments: [tokenHash, Int64(clamping: now)]),
                let role = OperatorRole(rawValue: row[1])
            else { return nil }
            let createdAt = UInt64(max(0, row[4] as Int64))
            let expiresAt = min(createdAt + min(lifetime, .max - createdAt), now + min(idle, .max - now))
            try db.execute(
                sql: "UPDATE operator_sessions SET expires_at = ? WHERE token_hash = ?", arguments: [Int64(clamping: expiresAt), tokenHash])
            return OperatorSession(operatorName: row[0], role: role, csrfToken: row[2], expiresAt: expiresAt)
        }
    }

    /// Ends the session whose token has this hash; audited when there was one.
    public func endOperatorSession(tokenHash: Data) throws {
        let now = options.now()
        try write { db in
            guard let name = try String.fetchOne(
                db, sql: "SELECT operator FROM operator_sessions WHERE token_hash = ?", arguments: [tokenHash])
            else { return }
            try db.execute(sql: "DELETE FROM operator_sessions WHERE token_hash = ?", arguments: [tokenHash])
            try Self.appendAudit(db, actor: Self.operatorActor(name), action: .operatorLogout, subject: name, at: now)
        }
    }
}

extension ReplicaStore {
    /// Up to `limit` documents in conflict, newest change first, of one collection and one
    /// partition (region) when given; `cursor` continues after a previous page.
    public func conflicts(
        in collection: CollectionName?, partition: Partition? = nil, limit: Int, after cursor: String?
    ) throws -> ConflictPage {
        let limit = max(1, min(limit, 200))
        var conditions = ["sibling_count > 1"]
        var arguments: StatementArguments = []
        if let collection {
            conditions.append("collection = ?")
            arguments += [collection.rawValue]
        }
        if let partition {
            conditions.append("partition = ?")
            arguments += [partition.rawValue]
        }
        if let cursor {
            let parts = cursor.split(separator: "/", maxSplits: 2)
            guard parts.count == 3, let wall = Int64(parts[0]) else {
                throw StoreError(.io, "The page cursor '\(cursor.prefix(60))' is not one this program gave out.")
            }
            conditions.append("(updated_wall, collection, document_id) < (?, ?, ?)")
            arguments += [wall, String(parts[1]), String(parts[2])]
        }
        let sql = """
            SELECT collection, document_id, updated_wall FROM documents WHERE \(conditions.joined(separator: " AND "))
            ORDER BY updated_wall DESC, collection DESC, document_id DESC LIMIT ?
            """
        arguments += [limit + 1]
        let finalArguments = arguments
        return try read { db in
            let rows = try Row.fetchAll(db, sql: sql, arguments: finalArguments)
            var documents: [StoredDocument] = []
            for row in rows.prefix(limit) {
                guard let collection = CollectionName(row[0] as String), let id = DocumentID(row[1] as String),
                    let record = try DocumentRecord.load(db, DocumentKey(collection: collection, id: id))
                else { continue }
                documents.append(try Self.stored(db, record))
            }
            let next = rows.count > limit ? rows[limit - 1] : nil
            return ConflictPage(
                documents,
                nextCursor: next.map { "\($0[2] as Int64)/\($0[0] as String)/\($0[1] as String)" })
        }
    }

    /// Up to `limit` audit entries before sequence `before` (nil: from the newest), newest first,
    /// of one actor and one action when given, and the sequence the next page starts before (nil
    /// on the last page).
    public func auditEntries(
        before: Int64?, actor: String?, action: String?, limit: Int
    ) throws -> (entries: [AuditEntry], nextBefore: Int64?) {
        let limit = max(1, min(limit, 500))
        var conditions = ["seq < ?"]
        var arguments: StatementArguments = [before ?? Int64.max]
        if let actor {
            conditions.append("actor = ?")
            arguments += [actor]
        }
        if let action {
            conditions.append("action = ?")
            arguments += [action]
        }
        arguments += [limit + 1]
        let sql = "SELECT seq FROM audit_log WHERE \(conditions.joined(separator: " AND ")) ORDER BY seq DESC LIMIT ?"
        let finalArguments = arguments
        let sequences = try read { db in try Int64.fetchAll(db, sql: sql, arguments: finalArguments) }
        var entries: [AuditEntry] = []
        for sequence in sequences.prefix(limit) {
            entries += try auditEntries(after: sequence - 1, limit: 1)
        }
        return (entries, sequences.count > limit ? sequences[limit - 1] : nil)
    }

    /// The collections that hold a document in conflict (at most 100), by name.
    public func conflictedCollections() throws -> [CollectionName] {
        try read { db in
            try String.fetchAll(
                db, sql: "SELECT DISTINCT collection FROM documents WHERE sibling_count > 1 ORDER BY collection LIMIT 100"
            ).compactMap(CollectionName.init)
        }
    }

    /// Up to `limit` devices by name (then enrollment), after the device `name`/`enrolledAt`
    /// when given, and whether more follow.
    public func devices(after position: (name: String, enrolledAt: UInt64)?, limit: Int) throws -> (devices: [DeviceRecord], more: Bool) {
        let limit = max(1, min(limit, 500))
        let name = position?.name ?? ""
        let enrolled = position.map { Int64(clamping: $0.enrolledAt) } ?? -1
        return try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Self.deviceColumns) FROM devices WHERE (name, enrolled_at) > (?, ?)
                    ORDER BY name, enrolled_at LIMIT ?
                    """,
                arguments: [name, enrolled, limit + 1])
            let devices = try rows.prefix(limit).compactMap(Self.deviceRecord).map { try Self.withIncarnations(db, $0) }
            return (devices, rows.count > limit)
        }
    }

    /// The names of the devices whose enrolled id or incarnation is one of `origins`; the hub's
    /// writer ids are named `hub`.
    public func authorNames(of origins: Set<ReplicaID>) throws -> [ReplicaID: String] {
        try read { db in
            var names: [ReplicaID: String] = [:]
            let device = try db.cachedStatement(sql: "SELECT name FROM devices WHERE replica_id = ?")
            let incarnation = try db.cachedStatement(
                sql: "SELECT d.name FROM device_incarnations i JOIN devices d ON d.replica_id = i.device_id WHERE i.replica_id = ?")
            let writers = try Self.writers(db, among: origins)
            for origin in origins {
                if let name = try String.fetchOne(device, arguments: [origin.hex])
                    ?? String.fetchOne(incarnation, arguments: [origin.hex])
                {
                    names[origin] = name
                } else if writers[origin] != nil || origin == replicaID {
                    names[origin] = AuditEntry.hubActor
                }
            }
            return names
        }
    }

    /// Writes an operator's resolution of a conflicting document on the hub: a version under the
    /// hub's `writer` id, signed with the hub's key, whose context covers `expectedSiblings` (the
    /// siblings the operator saw; another state is refused with a `conflict`), audited with the
    /// operator's name, the reason and how, in the same transaction. `body` nil deletes.
    public func resolveAsOperator(
        _ key: DocumentKey, body: Data?, expectedSiblings: [Dot], operator name: String, reason: String, how: String,
        as writer: ReplicaID
    ) throws -> Version {
        let intent = WriteIntent(key: key, body: body, isResolution: true, expectedSiblings: expectedSiblings)
        let actor = Self.operatorActor(name)
        return try write(intent, as: writer) { db, version, now in
            try Self.recordWriters(db, [writer], at: now)
            try Self.appendAudit(
                db, actor: actor, action: .resolved, subject: version.key.description,
                detail: [
                    "dot": version.dot.description, "siblings": expectedSiblings.map(\.description).joined(separator: " "),
                    "how": how, "reason": reason,
                ],
                at: now)
        }
    }
}
