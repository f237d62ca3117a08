import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

// A hub's audit of the verification failures its devices report (moved from ReplicaStore: only a
// hub's file has the audit log and the device incarnations it reads).

extension ReplicaStore {
    /// At a hub: records the failures a device reported in the audit log, one entry each, in one
    /// transaction (a report sent again after a lost answer is recorded again), within the
    /// device's hourly `limit` of audit entries (0: none). Only reports about versions the hub
    /// holds and did not receive from that device (any of its incarnations) are taken: a device
    /// cannot report versions it was never served. The others are ignored, and their number
    /// audited in one entry.
    @discardableResult
    public func auditVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID, limit: Int
    ) throws -> VerificationReportOutcome {
        guard !reports.isEmpty else { return VerificationReportOutcome(accepted: 0, ignored: 0) }
        try requireHub()
        let now = options.now()
        return try write { db in
            let servable = try Self.servedToDevice(db, reports.map(\.dot), device: device)
            var outcome = VerificationReportOutcome(accepted: 0, ignored: 0)
            for report in reports {
                guard servable.contains(report.dot) else {
                    outcome.ignored += 1
                    continue
                }
                outcome.accepted += 1
                try Self.appendDeviceAudit(
                    db, device: device.hex, action: .verificationFailed, subject: report.dot.description,
                    detail: ["reason": report.reason.rawValue], at: now, limit: limit)
            }
            if outcome.ignored > 0 {
                try Self.appendDeviceAudit(
                    db, device: device.hex, action: .reportsIgnored, subject: device.hex,
                    detail: ["count": "\(outcome.ignored)", "first": Self.firstIgnored(reports, servable)], at: now,
                    limit: limit)
            }
            return outcome
        }
    }

    /// Which of `dots` the hub could have served `device`: versions it holds that it did not
    /// receive from the device under any of its replica ids.
    static func servedToDevice(_ db: Database, _ dots: [Dot], device: ReplicaID) throws -> Set<Dot> {
        let enrolled = try String.fetchOne(
            db, sql: "SELECT device_id FROM device_incarnations WHERE replica_id = ?", arguments: [device.hex]
        ) ?? device.hex
        var own = Set(
            try String.fetchAll(
                db, sql: "SELECT replica_id FROM device_incarnations WHERE device_id = ?", arguments: [enrolled]))
        own.formUnion([enrolled, device.hex])
        let lookup = try db.cachedStatement(sql: "SELECT received_from FROM versions WHERE origin = ? AND counter = ?")
        var served = Set<Dot>()
        for dot in Set(dots) where dot.counter <= Dot.maxCounter {
            guard let row = try Row.fetchOne(lookup, arguments: [dot.replica.hex, Int64(dot.counter)]) else { continue }
            if let receivedFrom = row[0] as String?, own.contains(receivedFrom) { continue }
            served.insert(dot)
        }
        return served
    }

    /// The first ignored report's dot, for the audit entry.
    private static func firstIgnored(_ reports: [VerificationReport], _ servable: Set<Dot>) -> String {
        reports.first { !servable.contains($0.dot) }.map(\.dot.description) ?? "-"
    }
}
