import Foundation
public import SyncEngine
import GRDB

extension ReplicaStore {
    /// Who an audit entry names when an operator acted on the hub machine.
    public static let operatorActor = "operator"
    /// Who an audit entry names when the hub acted by itself (a field-by-field merge).
    public static let hubActor = "hub"

    /// How many entries ``verifyAuditChain()`` reads at a time.
    static let auditPageSize = 1_000

    /// Appends an entry to the audit log inside the caller's write transaction, chained to the
    /// last entry, so that the event and its entry commit (or roll back) together.
    @discardableResult
    static func appendAudit(
        _ db: Database, actor: String, action: AuditAction, subject: String, detail: [String: String] = [:],
        at: UInt64
    ) throws -> AuditEntry {
        let last = try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1")
        let previousHash = (last.flatMap { Data.fromDatabaseValue($0[1] as DatabaseValue) }) ?? AuditEntry.genesisHash
        let sequence = (last.flatMap { Int64.fromDatabaseValue($0[0] as DatabaseValue) } ?? 0) + 1
        let entry = AuditEntry(
            sequence: sequence, at: at, actor: actor, action: action, subject: subject, detail: detail,
            previousHash: previousHash)
        try db.execute(
            sql: """
                INSERT INTO audit_log (seq, at, actor, action, subject, detail, previous_hash, hash)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                entry.sequence, Int64(clamping: entry.at), entry.actor, entry.action.rawValue, entry.subject,
                try detailText(detail), entry.previousHash, entry.hash,
            ])
        return entry
    }

    /// Appends an entry to the audit log in a transaction of its own, at the store's clock.
    @discardableResult
    public func appendAudit(
        actor: String, action: AuditAction, subject: String, detail: [String: String] = [:]
    ) throws -> AuditEntry {
        let now = options.now()
        return try write { db in
            try Self.appendAudit(db, actor: actor, action: action, subject: subject, detail: detail, at: now)
        }
    }

    /// Up to `limit` audit entries after sequence `after`, oldest first. Throws when an entry
    /// cannot be read (``verifyAuditChain()`` names it).
    public func auditEntries(after sequence: Int64, limit: Int) throws -> [AuditEntry] {
        try read { db in
            try Self.auditRows(db, after: sequence, limit: limit).map { sequence, entry in
                guard let entry else {
                    throw StoreError(
                        .io, "Audit entry #\(sequence) cannot be read: it was changed after it was written; see `syncd audit verify`.")
                }
                return entry
            }
        }
    }

    /// How many entries the audit log holds.
    public func auditEntryCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_log") ?? 0 }
    }

    /// Checks the whole audit log's hash chain, reading it in pages; names the first entry that
    /// breaks it.
    public func verifyAuditChain() throws -> AuditChainVerdict {
        var position = AuditChain.Position.start
        while true {
            let after = position.sequence
            let rows = try read { db in try Self.auditRows(db, after: after, limit: Self.auditPageSize) }
            guard !rows.isEmpty else { return .intact(position) }
            var entries: [AuditEntry] = []
            entries.reserveCapacity(rows.count)
            var unreadable: Int64?
            for (sequence, entry) in rows {
                guard let entry else {
                    unreadable = sequence
                    break
                }
                entries.append(entry)
            }
            switch AuditChain.verify(entries, after: position) {
            case .broken(let broken):
                return .broken(broken)
            case .intact(let reached):
                if let unreadable { return .broken(AuditChainBreak(sequence: unreadable, problem: .unreadable)) }
                position = reached
            }
        }
    }

    /// The rows after `sequence`, each with its entry, or nil when a field is not in the form
    /// the log writes (the file was edited).
    private static func auditRows(_ db: Database, after sequence: Int64, limit: Int) throws -> [(Int64, AuditEntry?)] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT seq, at, actor, action, subject, detail, previous_hash, hash FROM audit_log
                WHERE seq > ? ORDER BY seq LIMIT ?
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
                let hash = Data.fromDatabaseValue(row[7] as DatabaseValue)
            else { return (sequence, nil) }
            return (
                sequence,
                AuditEntry(
                    sequence: sequence, at: UInt64(max(0, at)), actor: actor, action: AuditAction(rawValue: action),
                    subject: subject, detail: detail, previousHash: previousHash, hash: hash)
            )
        }
    }

    /// The detail as stored: a JSON object with sorted keys.
    private static func detailText(_ detail: [String: String]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(detail), as: UTF8.self)
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

extension ReplicaStore {
    /// An audit entry's detail for a quarantined version: why, and which document it was for.
    public static func quarantineDetail(_ version: Version, reason: String) -> [String: String] {
        ["reason": reason, "collection": version.collection.rawValue, "document": version.documentID.rawValue]
    }
}

extension Array where Element == UInt8 {
    /// Lowercase hexadecimal digits of the bytes.
    var hex: String { map { String(format: "%02x", $0) }.joined() }
}
