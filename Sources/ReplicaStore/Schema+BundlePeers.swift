import GRDB

extension Schema {
    /// `v18-bundle-peers`: what each replica that sent this one a bundle held when it wrote it, so
    /// that a bundle back to it carries only what it lacks. Never edited once shipped.
    static func migrateBundlePeers(_ db: Database) throws {
        try db.execute(sql: """
            -- One row per exporter: its knowledge (compact text, the join of every bundle of it
            -- imported here) and when the last one was imported (ms since 1970). Never read as
            -- an acknowledgement: nothing is dropped or skipped in a sync because of it.
            CREATE TABLE bundle_peers (
                replica_id TEXT PRIMARY KEY,
                knowledge TEXT NOT NULL,
                imported_at INTEGER NOT NULL
            );
            """)
    }
}
