import GRDB

extension Schema {
    /// `v19-device-pending`: at a hub, how many versions each device said wait to be pushed at its
    /// last exchange (``SyncRequest/pending``), for operators.
    static func migrateDevicePending(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE devices ADD COLUMN last_pending INTEGER")
    }
}
