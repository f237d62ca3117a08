import Foundation
import GRDB
public import ReplicaStore
public import SyncEngine

/// Per-device hourly limits at a hub, so that one device cannot fill the disk or the audit log:
/// the audit entries its syncs cause (quarantined versions, verification reports) and the
/// foreign-quarantine rows it pushes. Beyond a limit, what the device causes until the hour ends
/// is counted (table `audit_suppressed`): one `audit.limit-reached` entry says so at once, and
/// one `audit.suppressed` entry with the counts is written with the first entry after the hour.
extension ReplicaStore {
    /// Appends an entry a device's sync caused, unless the device has used up its hourly limit
    /// of audit entries; then counts it instead. Returns whether it was written.
    @discardableResult
    static func appendDeviceAudit(
        _ db: Database, device: String, action: AuditAction, subject: String, detail: [String: String], at: UInt64,
        limit: Int
    ) throws -> Bool {
        try writeEndedSuppressions(db, at: at)
        let admitted = try isWithinHourlyLimit(
            db, device: device, budget: .auditEntries, kind: action.rawValue, at: at, limit: limit
        ) { since in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM audit_log WHERE actor = ? AND at >= ?", arguments: [device, since]) ?? 0
        }
        guard admitted else { return false }
        try insertAudit(db, actor: device, action: action, subject: subject, detail: detail, at: at)
        return true
    }

    /// Whether one more event of `kind` fits `device`'s hourly `limit` of `budget`, `used(hourStart)`
    /// telling how much of it the device used this hour; when it does not, counts it as
    /// suppressed, and the first time in the hour audits that the limit was reached.
    static func isWithinHourlyLimit(
        _ db: Database, device: String, budget: HourlyBudget, kind: String, at: UInt64, limit: Int,
        used: (Int64) throws -> Int
    ) throws -> Bool {
        guard limit > 0 else { return true }
        let hour = Int64(clamping: HourlyBudget.hourStart(at))
        let exhausted = try Bool.fetchOne(
            db,
            sql: "SELECT EXISTS (SELECT 1 FROM audit_suppressed WHERE device = ? AND hour = ? AND \(budget.suppressedKinds))",
            arguments: [device, hour]) ?? false
        if !exhausted {
            if try used(hour) < limit { return true }
            try insertAudit(
                db, actor: AuditEntry.hubActor, action: .limitReached, subject: device,
                detail: [
                    "limit": "\(limit)", "counts": budget == .auditEntries ? "audit entries" : "foreign-quarantine rows",
                    "until": "\(hour + 3_600_000)",
                ],
                at: at)
        }
        try db.execute(
            sql: """
                INSERT INTO audit_suppressed (device, hour, kind, count) VALUES (?, ?, ?, 1)
                ON CONFLICT (device, hour, kind) DO UPDATE SET count = count + 1
                """,
            arguments: [device, hour, kind])
        return false
    }

    /// Writes one `audit.suppressed` entry for each device and ended hour with suppressed counts,
    /// and forgets those counts.
    static func writeEndedSuppressions(_ db: Database, at: UInt64) throws {
        let current = Int64(clamping: HourlyBudget.hourStart(at))
        let rows = try Row.fetchAll(
            db, sql: "SELECT device, hour, kind, count FROM audit_suppressed WHERE hour < ? ORDER BY hour, device, kind",
            arguments: [current])
        guard !rows.isEmpty else { return }
        var counts: [(device: String, hour: Int64, detail: [String: String])] = []
        for row in rows {
            let device: String = row[0]
            let hour: Int64 = row[1]
            if counts.last?.device != device || counts.last?.hour != hour {
                counts.append((device, hour, ["from": "\(hour)", "until": "\(hour + 3_600_000)"]))
            }
            counts[counts.count - 1].detail[row[2] as String] = "\(row[3] as Int64)"
        }
        for count in counts {
            try insertAudit(
                db, actor: AuditEntry.hubActor, action: .suppressed, subject: count.device, detail: count.detail, at: at)
        }
        try db.execute(sql: "DELETE FROM audit_suppressed WHERE hour < ?", arguments: [current])
    }

    /// The counts suppressed so far in hours whose `audit.suppressed` entry is not written yet,
    /// by device and kind (for operators: `syncd audit head` shows them).
    public func pendingSuppressedCounts() throws -> [String: [String: Int]] {
        try requireHub()
        return try read { db in
            var counts: [String: [String: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT device, kind, sum(count) FROM audit_suppressed GROUP BY device, kind") {
                counts[row[0] as String, default: [:]][row[1] as String] = row[2] as Int
            }
            return counts
        }
    }
}

extension ApplyContext {
    /// Appends an audit entry a device's push caused, in the transaction of the batch being
    /// applied, within the device's hourly `limit` (beyond it the entry is counted, not written).
    @discardableResult
    public func appendDeviceAudit(
        device: ReplicaID, action: AuditAction, subject: String, detail: [String: String] = [:], at: UInt64, limit: Int
    ) throws -> Bool {
        try ReplicaStore.appendDeviceAudit(
            db, device: device.hex, action: action, subject: subject, detail: detail, at: at, limit: limit)
    }
}

extension ReplicaStore {
    /// Whether the foreign quarantine already holds this version (same dot and signature).
    static func isForeignQuarantined(_ db: Database, _ version: Version) throws -> Bool {
        try Bool.fetchOne(
            db,
            sql: "SELECT EXISTS (SELECT 1 FROM foreign_quarantine WHERE origin = ? AND counter = ? AND signature = ?)",
            arguments: [version.dot.replica.hex, Int64(version.dot.counter), version.signature]) ?? false
    }

    /// Whether `pushedBy` may add one more row to the foreign quarantine this hour; when not,
    /// the row is counted as suppressed.
    static func isWithinForeignQuarantineLimit(_ db: Database, pushedBy: ReplicaID, at: UInt64, limit: Int) throws -> Bool {
        try isWithinHourlyLimit(
            db, device: pushedBy.hex, budget: .foreignQuarantine, kind: HourlyBudget.foreignQuarantineKind, at: at,
            limit: limit
        ) { since in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM foreign_quarantine WHERE pushed_by = ? AND received_at >= ?",
                arguments: [pushedBy.hex, since]) ?? 0
        }
    }
}
