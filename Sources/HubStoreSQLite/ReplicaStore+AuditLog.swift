public import Foundation
import GRDB
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// How many entries ``verifyAuditChain()`` reads at a time.
    static let auditPageSize = 1_000

    /// Appends an entry to the audit log inside the caller's write transaction, chained to the
    /// last entry, so that the event and its entry commit (or roll back) together. The
    /// transaction signs it before it commits (``signNewAuditEntries(_:key:)``, run by the hub's
    /// ``SQLiteHubWriteHooks``). First writes the counts of entries suppressed in hours that have ended.
    @discardableResult
    static func appendAudit(
        _ db: Database, actor: String, action: AuditAction, subject: String, detail: [String: String] = [:],
        at: UInt64
    ) throws -> AuditEntry {
        try writeEndedSuppressions(db, at: at)
        return try insertAudit(db, actor: actor, action: action, subject: subject, detail: detail, at: at)
    }

    /// Inserts the next entry, in the signed format, unsigned until the transaction ends.
    @discardableResult
    static func insertAudit(
        _ db: Database, actor: String, action: AuditAction, subject: String, detail: [String: String], at: UInt64
    ) throws -> AuditEntry {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        let previousHash = (last.flatMap { Data.fromDatabaseValue($0[1] as DatabaseValue) }) ?? AuditEntry.genesisHash
        let sequence = (last.flatMap { Int64.fromDatabaseValue($0[0] as DatabaseValue) } ?? 0) + 1
        let entry = AuditEntry(
            sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail,
            previousHash: previousHash, format: .signed)
        try db.execute(
            sql: """
                INSERT INTO audit_log (seq, at, actor, action, subject, detail, previous_hash, hash, format)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.sequence, Int64(clamping: entry.at), entry.actor, entry.action.rawValue, entry.subject,
                try AuditEntry.detailText(detail), entry.previousHash, entry.hash, entry.format.rawValue,
            ])
        return entry
    }

    /// Signs, with the hub's `key`, the entries of the signed format that the transaction
    /// appended; the hub's ``SQLiteHubWriteHooks`` call it before every commit of a hub's file, so
    /// no entry commits unsigned. Two index lookups when there is nothing to sign, with cached
    /// statements (every write runs them).
    static func signNewAuditEntries(_ db: Database, key: DeviceKey) throws {
        let signedThrough = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM audit_signatures")) ?? 0
        let unsignedThrough =
            try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM audit_log WHERE format = 1")) ?? 0
        let rows = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT seq, hash FROM audit_log WHERE seq > ? AND format = 2 ORDER BY seq"),
            arguments: [max(signedThrough, unsignedThrough)])
        guard !rows.isEmpty else { return }
        let insert = try db.cachedStatement(sql: "INSERT INTO audit_signatures (seq, signature) VALUES (?, ?)")
        for row in rows {
            let hash: Data = row[1]
            try insert.execute(arguments: [row[0] as Int64, try key.signature(for: AuditEntry.signedBytes(hash: hash))])
        }
    }

    /// Appends an entry to the audit log in a transaction of its own, at the store's clock.
    @discardableResult
    public func appendAudit(
        actor: String, action: AuditAction, subject: String, detail: [String: String] = [:]
    ) throws -> AuditEntry {
        try requireHub()
        let now = options.now()
        let key = self.key
        return try write { db in
            // Signed here as the transaction will sign it (Ed25519 signatures are deterministic).
            try Self.appendAudit(db, actor: actor, action: action, subject: subject, detail: detail, at: now)
                .signed(with: key)
        }
    }

    /// Up to `limit` audit entries after sequence `after`, oldest first. Throws when an entry
    /// cannot be read (``verifyAuditChain()`` names it).
    public func auditEntries(after sequence: Int64, limit: Int) throws -> [AuditEntry] {
        try requireHub()
        return try read { db in
            try Self.auditRows(db, after: sequence, limit: limit).map { sequence, entry in
                guard let entry else {
                    throw StoreError(
                        .io, "Audit entry #\(sequence) cannot be read: it was changed after it was written.")
                }
                return entry
            }
        }
    }

    /// How many entries the audit log holds.
    public func auditEntryCount() throws -> Int {
        try requireHub()
        return try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_log") ?? 0 }
    }

    /// Checks the whole audit log, reading it in pages: its hash chain, and the signatures of its
    /// signed entries against this replica's key (from its key file, not from the database);
    /// names the first entry that breaks it. With `head` (a hash kept elsewhere), also says
    /// whether an entry with that hash is still in the log.
    public func verifyAuditChain(head: Data? = nil) throws -> AuditVerification {
        try requireHub()
        var verifier = AuditLogVerifier(key: publicKey, head: head)
        while true {
            let after = verifier.nextSequence
            let rows = try read { db in try Self.auditRows(db, after: after, limit: Self.auditPageSize) }
            if case .finished(let verification) = verifier.take(rows.map { (sequence: $0.0, entry: $0.1) }) {
                return verification
            }
        }
    }

    /// The newest entry, nil when the log is empty; its signature is not checked here.
    public func newestAuditEntry() throws -> AuditEntry? {
        try requireHub()
        return try read { db in
            guard let newest = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM audit_log") else { return nil }
            guard let row = try Self.auditRows(db, after: newest - 1, limit: 1).first else { return nil }
            guard let entry = row.1 else {
                throw StoreError(.io, "Audit entry #\(row.0) cannot be read: it was changed after it was written.")
            }
            return entry
        }
    }

    /// Whether `entry` is signed by this replica's key (the hub's, from its key file).
    public func isSignedByThisReplica(_ entry: AuditEntry) -> Bool { entry.hasValidSignature(by: publicKey) }

    /// The rows after `sequence`, each with its entry, or nil when a field is not in the form
    /// the log writes (the file was edited).
    private static func auditRows(_ db: Database, after sequence: Int64, limit: Int) throws -> [(Int64, AuditEntry?)] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT a.seq, a.at, a.actor, a.action, a.subject, a.detail, a.previous_hash, a.hash, a.format, s.signature
                FROM audit_log a LEFT JOIN audit_signatures s ON s.seq = a.seq
                WHERE a.seq > ? ORDER BY a.seq LIMIT ?
                """,
            arguments: [sequence, max(1, limit)]
        ).map { row in
            let sequence = Int64.fromDatabaseValue(row[0] as DatabaseValue) ?? 0
            guard let at = Int64.fromDatabaseValue(row[1] as DatabaseValue),
                let actor = String.fromDatabaseValue(row[2] as DatabaseValue),
                let action = String.fromDatabaseValue(row[3] as DatabaseValue),
                let subject = String.fromDatabaseValue(row[4] as DatabaseValue),
                let detailText = String.fromDatabaseValue(row[5] as DatabaseValue),
                let detail = try? JSONDecoder().decode([String: String].self, from: Data(detailText.utf8)),
                let previousHash = Data.fromDatabaseValue(row[6] as DatabaseValue),
                let hash = Data.fromDatabaseValue(row[7] as DatabaseValue),
                let format = Int.fromDatabaseValue(row[8] as DatabaseValue).flatMap(AuditEntry.Format.init(rawValue:))
            else { return (sequence, nil) }
            let signature = row[9] as DatabaseValue
            if !signature.isNull && Data.fromDatabaseValue(signature) == nil { return (sequence, nil) }
            return (
                sequence,
                AuditEntry(
                    sequence: sequence, at: UInt64(max(0, at)), actor: actor, action: AuditAction(rawValue: action),
                    subject: subject, detail: detail, previousHash: previousHash, hash: hash, format: format,
                    signature: Data.fromDatabaseValue(signature))
            )
        }
    }
}

extension ApplyContext {
    /// Appends an audit entry in the transaction of the batch being applied (a hub recording the
    /// versions it set aside).
    @discardableResult
    public func appendAudit(
        actor: String, action: AuditAction, subject: String, detail: [String: String] = [:], at: UInt64
    ) throws -> AuditEntry {
        try ReplicaStore.appendAudit(db, actor: actor, action: action, subject: subject, detail: detail, at: at)
    }
}
