public import SyncEngine
import GRDB

extension ReplicaStore {
    /// Keeps pulled versions that failed their signature check here, to report them to the hub;
    /// a failure already kept is left as it is.
    public func recordVerificationFailures(_ reports: [VerificationReport]) throws {
        guard !reports.isEmpty else { return }
        let now = Int64(clamping: options.now())
        try write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT OR IGNORE INTO verification_failures (origin, counter, reason, found_at) VALUES (?, ?, ?, ?)
                """)
            for report in reports {
                try statement.execute(arguments: [
                    report.origin.hex, Int64(min(report.counter, Dot.maxCounter)), report.reason.rawValue, now,
                ])
            }
        }
    }

    /// Up to `limit` failures not yet reported to the hub, oldest first.
    public func unreportedVerificationFailures(limit: Int) throws -> [VerificationReport] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT origin, counter, reason FROM verification_failures WHERE reported_at IS NULL
                    ORDER BY found_at, origin, counter LIMIT ?
                    """,
                arguments: [max(1, limit)]
            ).compactMap { row in
                guard let origin = ReplicaID(row[0] as String) else { return nil }
                let counter: Int64 = row[1]
                return VerificationReport(
                    dot: Dot(replica: origin, counter: UInt64(max(0, counter))),
                    reason: VerificationReport.Reason(rawValue: row[2]))
            }
        }
    }
}

extension ApplyContext {
    /// Marks failures as reported, in the transaction that saves the hub's answer to the report.
    public func markReported(_ reports: [VerificationReport], at milliseconds: UInt64) throws {
        guard !reports.isEmpty else { return }
        let statement = try db.cachedStatement(
            sql: "UPDATE verification_failures SET reported_at = ? WHERE origin = ? AND counter = ?")
        for report in reports {
            try statement.execute(arguments: [
                Int64(clamping: milliseconds), report.origin.hex, Int64(min(report.counter, Dot.maxCounter)),
            ])
        }
    }
}
