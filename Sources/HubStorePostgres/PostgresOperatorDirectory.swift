public import Foundation
public import HubStore
import Logging
import PostgresNIO
public import Records
import SyncEngine

/// The console's operators and the network's informant key on PostgreSQL (migration
/// `v10-operators`), shared by every hub process on the schema, with the SQLite hub's semantics
/// (``SQLiteOperatorDirectory``; one conformance suite runs over both).
///
/// What must happen once happens in one statement whose row lock decides: a setup link is used up
/// by an `UPDATE ... RETURNING` of its row, a TOTP step by an `UPDATE` whose condition the server
/// checks again on the locked row (of two concurrent uses of one step, exactly one changes it), a
/// session's expiry moves in the `UPDATE` that finds it. Every change and every failed login is
/// written to the hub's audit log (``PostgresAuditLog``) in the transaction of the change, last,
/// after the row locks.
public struct PostgresOperatorDirectory: OperatorDirectory {
    public let tables: PostgresDeviceTables
    private let auditLog: PostgresAuditLog

    public init(tables: PostgresDeviceTables) {
        self.tables = tables
        auditLog = PostgresAuditLog(tables: tables)
    }

    private var logger: Logger { tables.logger }
    private func table(_ name: String) -> String { tables.table(name) }

    /// How far a session's idle timeout and lifetime reach, so that no sum overflows a bigint (35,000 years).
    private static let maximumSpan: UInt64 = 1 << 60

    public func now() -> UInt64 { tables.clock() }

    /// Runs `body` in one read-committed transaction, then appends the audit events it returns,
    /// last, in the same transaction.
    private func audited<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> (Result, [AuditEvent])
    ) async throws -> Result {
        let auditLog = self.auditLog
        return try await tables.transaction { connection in
            let (result, events) = try await body(connection)
            try await auditLog.append(events, on: connection)
            return result
        }
    }

    // MARK: Accounts

    public func addOperator(name: String, role: OperatorRole, setupHash: Data, setupExpiresAt: UInt64) async throws
        -> OperatorAddition
    {
        let (operators, logger, now) = (table("operators"), logger, tables.now)
        return try await audited { connection in
            let rows = try await connection.query(
                """
                INSERT INTO \(unescaped: operators) (name, role, created_at, setup_hash, setup_expires_at)
                VALUES (\(name), \(role.rawValue), \(now), \(setupHash.bytea), \(Int64(clamping: setupExpiresAt)))
                ON CONFLICT (name) DO NOTHING RETURNING name
                """, logger: logger)
            guard try await Self.any(rows) else { return (.nameTaken, []) }
            return (
                .added,
                [
                    AuditEvent(
                        actor: AuditEntry.operatorActor, action: .operatorAdded, subject: name,
                        detail: ["role": role.rawValue, "setupExpiresAt": "\(setupExpiresAt)"])
                ]
            )
        }
    }

    public func removeOperator(name: String) async throws -> Bool {
        let (operators, logger) = (table("operators"), logger)
        return try await audited { connection in
            // Sessions, key pair and sealed copies go with the row (ON DELETE CASCADE).
            let rows = try await connection.query(
                "DELETE FROM \(unescaped: operators) WHERE name = \(name) RETURNING name", logger: logger)
            guard try await Self.any(rows) else { return (false, []) }
            return (true, [AuditEvent(actor: AuditEntry.operatorActor, action: .operatorRemoved, subject: name)])
        }
    }

    public func operators(after name: String?, limit: Int) async throws -> (operators: [OperatorRecord], more: Bool) {
        let limit = max(1, min(limit, 1_000))
        let (operators, logger) = (table("operators"), logger)
        let records = try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT name, role, created_at, password_hash IS NOT NULL, setup_expires_at, totp_secret IS NOT NULL
                FROM \(unescaped: operators) WHERE name > \(name ?? "") ORDER BY name LIMIT \(limit + 1)
                """, logger: logger)
            var records: [OperatorRecord] = []
            for try await (name, role, createdAt, hasPassword, setup, hasTOTP) in rows.decode(
                (String, String, Int64, Bool, Int64?, Bool).self)
            {
                guard let role = OperatorRole(rawValue: role) else { continue }
                records.append(
                    OperatorRecord(
                        name: name, role: role, createdAt: UInt64(max(0, createdAt)), hasPassword: hasPassword,
                        setupExpiresAt: setup.map { UInt64(max(0, $0)) }, hasSecondFactor: hasTOTP))
            }
            return records
        }
        return (Array(records.prefix(limit)), records.count > limit)
    }

    public func operatorForSetup(hash: Data) async throws -> String? {
        let (operators, logger, now) = (table("operators"), logger, tables.now)
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT name FROM \(unescaped: operators) WHERE setup_hash = \(hash.bytea) AND setup_expires_at > \(now)",
                logger: logger)
            return try await Self.first(rows, String.self)
        }
    }

    public func completeOperatorSetup(hash: Data, passwordHash: String) async throws -> String? {
        let (operators, sessions, logger, now) = (table("operators"), table("operator_sessions"), logger, tables.now)
        return try await audited { connection in
            let rows = try await connection.query(
                """
                UPDATE \(unescaped: operators) SET password_hash = \(passwordHash), setup_hash = NULL, setup_expires_at = NULL
                WHERE setup_hash = \(hash.bytea) AND setup_expires_at > \(now) RETURNING name
                """, logger: logger)
            guard let name = try await Self.first(rows, String.self) else { return (nil, []) }
            try await connection.execute("DELETE FROM \(unescaped: sessions) WHERE operator = \(name)", logger: logger)
            return (name, [AuditEvent(actor: operatorAuditActor(name), action: .operatorPasswordSet, subject: name)])
        }
    }

    public func operatorCredentials(name: String) async throws -> OperatorCredentials? {
        let (operators, logger) = (table("operators"), logger)
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT password_hash, role FROM \(unescaped: operators) WHERE name = \(name) AND password_hash IS NOT NULL",
                logger: logger)
            for try await (hash, role) in rows.decode((String, String).self) {
                guard let role = OperatorRole(rawValue: role) else { return nil }
                return OperatorCredentials(passwordHash: hash, role: role)
            }
            return nil
        }
    }

    // MARK: Sessions

    public func startOperatorSession(
        tokenHash: Data, operator name: String, csrfToken: String, expiresAt: UInt64, address: String
    ) async throws {
        let (sessions, logger, now) = (table("operator_sessions"), logger, tables.now)
        try await audited { connection in
            try await connection.execute("DELETE FROM \(unescaped: sessions) WHERE expires_at <= \(now)", logger: logger)
            try await connection.execute(
                """
                INSERT INTO \(unescaped: sessions) (token_hash, operator, csrf_token, created_at, expires_at)
                VALUES (\(tokenHash.bytea), \(name), \(csrfToken), \(now), \(Int64(clamping: expiresAt)))
                """, logger: logger)
            return (
                (),
                [
                    AuditEvent(
                        actor: operatorAuditActor(name), action: .operatorLogin, subject: name, detail: ["address": address])
                ]
            )
        }
    }

    public func auditFailedLogin(name: String, address: String, factor: String?) async throws {
        var detail = ["address": address]
        detail["factor"] = factor
        try await auditLog.append([
            AuditEvent(actor: "console", action: .operatorLoginFailed, subject: String(name.prefix(64)), detail: detail)
        ])
    }

    public func useOperatorSession(tokenHash: Data, idle: UInt64, lifetime: UInt64) async throws -> OperatorSession? {
        let (sessions, operators, logger) = (table("operator_sessions"), table("operators"), logger)
        let now = tables.now
        let idle = Int64(min(idle, Self.maximumSpan))
        let lifetime = Int64(min(lifetime, Self.maximumSpan))
        return try await tables.transaction { connection in
            let rows = try await connection.query(
                """
                UPDATE \(unescaped: sessions) s SET expires_at = LEAST(s.created_at + \(lifetime), \(now) + \(idle))
                FROM \(unescaped: operators) o
                WHERE o.name = s.operator AND s.token_hash = \(tokenHash.bytea) AND s.expires_at > \(now)
                RETURNING s.operator, o.role, s.csrf_token, s.expires_at
                """, logger: logger)
            for try await (name, role, csrf, expiresAt) in rows.decode((String, String, String, Int64).self) {
                guard let role = OperatorRole(rawValue: role) else { return nil }
                return OperatorSession(operatorName: name, role: role, csrfToken: csrf, expiresAt: UInt64(max(0, expiresAt)))
            }
            return nil
        }
    }

    public func endOperatorSession(tokenHash: Data) async throws {
        let (sessions, logger) = (table("operator_sessions"), logger)
        try await audited { connection in
            let rows = try await connection.query(
                "DELETE FROM \(unescaped: sessions) WHERE token_hash = \(tokenHash.bytea) RETURNING operator", logger: logger)
            guard let name = try await Self.first(rows, String.self) else { return ((), []) }
            return ((), [AuditEvent(actor: operatorAuditActor(name), action: .operatorLogout, subject: name)])
        }
    }

    // MARK: Second factor

    public func setOperatorTOTP(name: String, secret: Data?) async throws -> Bool {
        let (operators, sessions, logger) = (table("operators"), table("operator_sessions"), logger)
        return try await audited { connection in
            let rows = try await connection.query(
                """
                UPDATE \(unescaped: operators) SET totp_secret = \(secret.map(\.bytea)), totp_last_step = NULL
                WHERE name = \(name) RETURNING name
                """, logger: logger)
            guard try await Self.any(rows) else { return (false, []) }
            try await connection.execute("DELETE FROM \(unescaped: sessions) WHERE operator = \(name)", logger: logger)
            return (
                true,
                [
                    AuditEvent(
                        actor: AuditEntry.operatorActor, action: .operatorTOTPChanged, subject: name,
                        detail: ["totp": secret == nil ? "removed" : "set"])
                ]
            )
        }
    }

    public func operatorTOTPSecret(name: String) async throws -> Data? {
        let (operators, logger) = (table("operators"), logger)
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT totp_secret FROM \(unescaped: operators) WHERE name = \(name)", logger: logger)
            for try await secret in rows.decode(Data?.self) { return secret }
            return nil
        }
    }

    public func useOperatorTOTPStep(name: String, step: UInt64) async throws -> Bool {
        let (operators, logger) = (table("operators"), logger)
        let step = Int64(clamping: step)
        return try await tables.transaction { connection in
            // The row lock orders concurrent uses; the second finds the step taken when the
            // server checks the condition again on the row the first committed.
            let rows = try await connection.query(
                """
                UPDATE \(unescaped: operators) SET totp_last_step = \(step)
                WHERE name = \(name) AND totp_secret IS NOT NULL AND (totp_last_step IS NULL OR totp_last_step < \(step))
                RETURNING name
                """, logger: logger)
            return try await Self.any(rows)
        }
    }

    // MARK: The informant key

    public func createInformantKey(_ key: InformantPrivateKey, keyFileWritten: Bool) async throws
        -> (statement: InformantKeyStatement, granted: [String])
    {
        let now = tables.now
        let statement = try InformantKeyStatement(
            hub: tables.hubID, publicKey: key.publicKey, issuedAt: UInt64(max(0, now)), signedWith: tables.hubKey)
        let encoded = try JSONEncoder().encode(statement)
        let (keys, logger) = (table("informant_keys"), logger)
        let directory = self
        return try await audited { connection in
            let rows = try await connection.query(
                """
                INSERT INTO \(unescaped: keys) (key_id, public_key, statement, saved_at)
                VALUES (\(key.publicKey.keyID), \(key.publicKey.rawRepresentation.bytea), \(encoded.bytea), \(now))
                ON CONFLICT DO NOTHING RETURNING key_id
                """, logger: logger)
            guard try await Self.any(rows) else { throw InformantKeyError(.exists) }
            var events = [
                AuditEvent(
                    actor: AuditEntry.operatorActor, action: .informantKeyCreated, subject: key.publicKey.keyID,
                    detail: ["keyFile": keyFileWritten ? "written" : "none"])
            ]
            let granted = try await directory.grantPending(key, by: AuditEntry.operatorActor, at: now, on: connection)
            events += granted.events
            return ((statement, granted.names), events)
        }
    }

    public func informantKey() async throws -> InformantKeyStatement? {
        let (keys, logger) = (table("informant_keys"), logger)
        let data = try await tables.snapshot { connection in
            let rows = try await connection.query("SELECT statement FROM \(unescaped: keys)", logger: logger)
            return try await Self.first(rows, Data.self)
        }
        return try data.map { try JSONDecoder().decode(InformantKeyStatement.self, from: $0) }
    }

    public func operatorKey(name: String) async throws -> OperatorKeyRecord? {
        let (operators, operatorKeys, grants, keys, logger) = (
            table("operators"), table("operator_keys"), table("operator_informant_keys"), table("informant_keys"), logger
        )
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT o.name, o.role, k.public_key, k.wrapped_private_key,
                    (SELECT g.sealed_private_key FROM \(unescaped: grants) g JOIN \(unescaped: keys) i ON i.key_id = g.key_id
                     WHERE g.operator = o.name ORDER BY i.saved_at LIMIT 1)
                FROM \(unescaped: operators) o JOIN \(unescaped: operatorKeys) k ON k.operator = o.name WHERE o.name = \(name)
                """, logger: logger)
            for try await (name, role, publicKey, wrapped, sealed) in rows.decode((String, String, Data, String, Data?).self) {
                guard let role = OperatorRole(rawValue: role), let key = try? InformantPublicKey(rawRepresentation: publicKey)
                else { return nil }
                return OperatorKeyRecord(
                    name: name, role: role, publicKey: key, wrappedPrivateKey: wrapped,
                    sealedInformantKey: role >= .resolver ? sealed : nil)
            }
            return nil
        }
    }

    public func eligibleOperatorKeyCount() async throws -> Int {
        let (operators, operatorKeys, logger) = (table("operators"), table("operator_keys"), logger)
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT COUNT(*) FROM \(unescaped: operators) o JOIN \(unescaped: operatorKeys) k ON k.operator = o.name
                WHERE o.role IN ('resolver', 'admin')
                """, logger: logger)
            return Int(try await Self.first(rows, Int64.self) ?? 0)
        }
    }

    @discardableResult
    public func setOperatorKey(name: String, publicKey: InformantPublicKey, wrappedPrivateKey: String) async throws -> Bool {
        let (operators, operatorKeys, logger, now) = (table("operators"), table("operator_keys"), logger, tables.now)
        return try await tables.transaction { connection in
            let rows = try await connection.query(
                """
                INSERT INTO \(unescaped: operatorKeys) (operator, public_key, wrapped_private_key, created_at)
                SELECT name, \(publicKey.rawRepresentation.bytea), \(wrappedPrivateKey), \(now)
                FROM \(unescaped: operators) WHERE name = \(name)
                ON CONFLICT (operator) DO NOTHING RETURNING operator
                """, logger: logger)
            return try await Self.any(rows)
        }
    }

    @discardableResult
    public func grantInformantKeyToPending(_ key: InformantPrivateKey, by actor: String) async throws -> [String] {
        let now = tables.now
        let directory = self
        return try await audited { connection in
            let granted = try await directory.grantPending(key, by: actor, at: now, on: connection)
            return (granted.names, granted.events)
        }
    }

    public func grantInformantKey(_ key: InformantPrivateKey, to name: String, by actor: String) async throws {
        let (operators, operatorKeys, logger, now) = (table("operators"), table("operator_keys"), logger, tables.now)
        let directory = self
        try await audited { connection in
            try await directory.checkNetworkKey(key, on: connection)
            let rows = try await connection.query(
                """
                SELECT o.role, k.public_key FROM \(unescaped: operators) o
                LEFT JOIN \(unescaped: operatorKeys) k ON k.operator = o.name WHERE o.name = \(name) FOR UPDATE OF o
                """, logger: logger)
            var found: (role: String, publicKey: Data?)?
            for try await (role, publicKey) in rows.decode((String, Data?).self) { found = (role, publicKey) }
            guard let found else { throw InformantKeyError(.noSuchOperator) }
            guard let role = OperatorRole(rawValue: found.role), role >= .resolver else {
                throw InformantKeyError(.notEligible)
            }
            guard let raw = found.publicKey, let publicKey = try? InformantPublicKey(rawRepresentation: raw) else {
                throw InformantKeyError(.noOperatorKey)
            }
            let sealed = try await directory.seal(key, to: name, publicKey, replacing: true, at: now, on: connection)
            return ((), sealed ? [Self.granted(name, key: key, by: actor)] : [])
        }
    }

    // MARK: Sealing

    private static func granted(_ name: String, key: InformantPrivateKey, by actor: String) -> AuditEvent {
        AuditEvent(actor: actor, action: .informantKeyGranted, subject: name, detail: ["keyId": key.publicKey.keyID])
    }

    private func checkNetworkKey(_ key: InformantPrivateKey, on connection: PostgresConnection) async throws {
        let rows = try await connection.query("SELECT public_key FROM \(unescaped: table("informant_keys"))", logger: logger)
        guard let held = try await Self.first(rows, Data.self) else { throw InformantKeyError(.missing) }
        guard held == key.publicKey.rawRepresentation else { throw InformantKeyError(.wrongKey) }
    }

    /// Seals `key` to every resolver and admin with a key pair and no copy; a copy sealed by
    /// another process meanwhile is kept (and not audited twice).
    private func grantPending(_ key: InformantPrivateKey, by actor: String, at now: Int64, on connection: PostgresConnection)
        async throws -> (names: [String], events: [AuditEvent])
    {
        try await checkNetworkKey(key, on: connection)
        let rows = try await connection.query(
            """
            SELECT o.name, k.public_key FROM \(unescaped: table("operators")) o
            JOIN \(unescaped: table("operator_keys")) k ON k.operator = o.name
            WHERE o.role IN ('resolver', 'admin') AND NOT EXISTS (
                SELECT 1 FROM \(unescaped: table("operator_informant_keys")) g
                WHERE g.operator = o.name AND g.key_id = \(key.publicKey.keyID))
            ORDER BY o.name LIMIT 1000
            """, logger: logger)
        var pending: [(String, Data)] = []
        for try await (name, publicKey) in rows.decode((String, Data).self) { pending.append((name, publicKey)) }
        var names: [String] = []
        for (name, raw) in pending {
            guard let publicKey = try? InformantPublicKey(rawRepresentation: raw) else { continue }
            if try await seal(key, to: name, publicKey, replacing: false, at: now, on: connection) { names.append(name) }
        }
        return (names, names.map { Self.granted($0, key: key, by: actor) })
    }

    /// Writes `key` sealed to `name`; returns whether a row was written.
    private func seal(
        _ key: InformantPrivateKey, to name: String, _ publicKey: InformantPublicKey, replacing: Bool, at now: Int64,
        on connection: PostgresConnection
    ) async throws -> Bool {
        let sealed = try InformantKeyGrant.seal(key, to: name, publicKey)
        let conflict = replacing
            ? "DO UPDATE SET sealed_private_key = EXCLUDED.sealed_private_key, granted_at = EXCLUDED.granted_at"
            : "DO NOTHING"
        let rows = try await connection.query(
            """
            INSERT INTO \(unescaped: table("operator_informant_keys")) (operator, key_id, sealed_private_key, granted_at)
            VALUES (\(name), \(key.publicKey.keyID), \(sealed.bytea), \(now))
            ON CONFLICT (operator, key_id) \(unescaped: conflict) RETURNING operator
            """, logger: logger)
        return try await Self.any(rows)
    }

    // MARK: Rows

    /// Whether `rows` holds a row (read to the end).
    private static func any(_ rows: PostgresRowSequence) async throws -> Bool {
        var found = false
        for try await _ in rows { found = true }
        return found
    }

    /// The first row's only column (the rest read to the end); nil without a row.
    private static func first<Value: PostgresDecodable & Sendable>(_ rows: PostgresRowSequence, _ type: Value.Type)
        async throws -> Value?
    {
        var first: Value?
        for try await value in rows.decode(Value.self) where first == nil { first = value }
        return first
    }
}
