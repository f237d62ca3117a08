public import ReplicaStore
import Foundation
public import SyncEngine
import GRDB

/// A one-time enrollment code not used yet, as an operator lists it: never the code itself
/// (the hub keeps only its SHA-256), but the first digits of that hash, which name it.
public struct EnrollmentCodeRecord: Sendable, Hashable {
    /// The first 12 hexadecimal digits of the code's SHA-256, as `device.code-cancelled` and
    /// `device.enrolled` audit entries name it.
    public var hashPrefix: String
    /// The name the device will have.
    public var deviceName: String
    /// Milliseconds since 1970.
    public var createdAt: UInt64
    public var expiresAt: UInt64
    /// What the device may read and write once enrolled.
    public var grants: AccessGrants

    /// How many hexadecimal digits of a code's hash name it.
    public static let hashPrefixLength = 12

    public init(hashPrefix: String, deviceName: String, createdAt: UInt64, expiresAt: UInt64, grants: AccessGrants) {
        self.hashPrefix = hashPrefix
        self.deviceName = deviceName
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.grants = grants
    }
}

/// What cancelling codes by a device name or a hash prefix did.
public enum CodeCancellation: Sendable, Hashable {
    /// These codes no longer enroll anything.
    case cancelled([EnrollmentCodeRecord])
    /// No unused, unexpired code has that device name or hash prefix.
    case notFound
    /// The hash prefix names several codes; nothing was cancelled.
    case ambiguous([EnrollmentCodeRecord])
}

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
