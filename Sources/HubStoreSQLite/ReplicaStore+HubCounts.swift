import GRDB
public import HubStore
public import ReplicaStore

extension ReplicaStore {
    /// The hub's counts, read in one snapshot with indexed queries only (a scrape every few
    /// seconds must not scan the feed).
    public func hubCounts() throws -> HubCounts {
        try read { db in
            var counts = HubCounts()
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) FROM devices GROUP BY status") {
                let status: String = row[0]
                if status == "active" { counts.activeDevices = row[1] } else { counts.revokedDevices += row[1] as Int }
            }
            counts.feedPosition = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM versions") ?? 0
            counts.quarantined = try Int.fetchOne(db, sql: """
                SELECT (SELECT count(*) FROM versions WHERE set_aside_reason IS NOT NULL)
                     + (SELECT count(*) FROM foreign_quarantine)
                """) ?? 0
            return counts
        }
    }
}
