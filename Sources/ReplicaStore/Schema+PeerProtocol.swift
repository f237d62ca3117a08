import GRDB

extension Schema {
    /// `v22-peer-protocol`: the sync protocol each hub answered in at this replica's last exchange
    /// with it (``PeerState/protocolVersion``), so that the next sync's first request speaks it.
    static func migratePeerProtocol(_ db: Database) throws {
        try db.execute(sql: "ALTER TABLE peers ADD COLUMN protocol INTEGER")
    }
}
