import Foundation
import GRDB
public import HubStore
public import ReplicaStore
import SyncEngine

extension ReplicaStore {
    /// The enrollment codes that can still enroll a device (not used, not expired), oldest first.
    public func unusedEnrollmentCodes() throws -> [EnrollmentCodeRecord] {
        let now = Int64(clamping: options.now())
        return try read { db in try Self.unusedCodes(db, now: now).map(\.record) }
    }

    /// Cancels the unused codes of the device name `nameOrPrefix`, or the one code whose hash
    /// starts with those hexadecimal digits (at least 6), in one transaction, one audit entry each:
    /// a cancelled code expires at once.
    public func cancelEnrollmentCodes(_ nameOrPrefix: String) throws -> CodeCancellation {
        let now = Int64(clamping: options.now())
        return try write { db in
            let codes = try Self.unusedCodes(db, now: now)
            let prefix = nameOrPrefix.lowercased()
            let byHash = Self.isHashPrefix(prefix) ? codes.filter { $0.hash.hex.hasPrefix(prefix) } : []
            if byHash.count > 1 { return .ambiguous(byHash.map(\.record)) }
            let chosen = byHash.isEmpty ? codes.filter { $0.record.deviceName == nameOrPrefix } : byHash
            guard !chosen.isEmpty else { return .notFound }
            for code in chosen {
                try db.execute(
                    sql: "UPDATE enrollment_codes SET expires_at = min(expires_at, ?) WHERE code_hash = ?",
                    arguments: [now - 1, code.hash])
                try Self.appendAudit(
                    db, actor: AuditEntry.operatorActor, action: .codeCancelled, subject: code.record.deviceName,
                    detail: ["code": code.record.hashPrefix], at: UInt64(now))
            }
            return .cancelled(chosen.map(\.record))
        }
    }

    private static func isHashPrefix(_ text: String) -> Bool {
        (6...64).contains(text.count) && text.allSatisfy { $0.isHexDigit }
    }

    private static func unusedCodes(_ db: Database, now: Int64) throws -> [(hash: Data, record: EnrollmentCodeRecord)] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT code_hash, device_name, created_at, expires_at, read_scope, write_scope FROM enrollment_codes
                WHERE used_at IS NULL AND expires_at >= ? ORDER BY created_at, device_name
                """,
            arguments: [now]
        ).map { row in
            let hash: Data = row[0]
            let record = EnrollmentCodeRecord(
                hashPrefix: String(Array(hash).hexString.prefix(EnrollmentCodeRecord.hashPrefixLength)),
                deviceName: row[1],
                createdAt: UInt64(max(0, row[2] as Int64)), expiresAt: UInt64(max(0, row[3] as Int64)),
                grants: AccessGrants(read: Scope(text: row[4]) ?? .nothing, write: Scope(text: row[5]) ?? .nothing))
            return (hash, record)
        }
    }
}

extension Data {
    /// Lowercase hexadecimal digits of the bytes.
    fileprivate var hex: String { Array(self).hexString }
}
