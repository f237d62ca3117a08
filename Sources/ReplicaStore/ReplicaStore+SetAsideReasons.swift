public import SyncEngine
package import GRDB

extension ReplicaStore {
    /// Why each of `dots` that this replica holds set aside was set aside; dots not held or in good
    /// standing are absent.
    public func setAsideReasons(of dots: [Dot]) throws -> [Dot: SetAsideReason] {
        guard !dots.isEmpty else { return [:] }
        return try read { db in try Self.setAsideReasons(db, of: dots) }
    }

    package static func setAsideReasons(_ db: Database, of dots: [Dot]) throws -> [Dot: SetAsideReason] {
        let statement = try db.cachedStatement(
            sql: """
                SELECT set_aside_reason, set_aside_code FROM versions
                WHERE origin = ? AND counter = ? AND set_aside_reason IS NOT NULL
                """)
        var reasons: [Dot: SetAsideReason] = [:]
        for dot in dots {
            if let row = try Row.fetchOne(statement, arguments: [dot.replica.hex, Int64(dot.counter)]) {
                reasons[dot] = Rows.setAsideReason(row, at: 0)
            }
        }
        return reasons
    }
}
