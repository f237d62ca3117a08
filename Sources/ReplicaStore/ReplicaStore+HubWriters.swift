import Foundation
public import SyncEngine
package import GRDB

/// A hub's writer ids: the hub writes its own versions (field-by-field merges) under an id it
/// draws at each process start, signed with the hub's key and certified by it like a device's id.
/// A hub restored from a backup forgets how far it had counted, but never the ids it drew, so it
/// never takes a dot it gave out before: a new process writes under a new id.
extension ReplicaStore {
    /// The next counter of `writer`, recording the id as this replica's writer (at `now`) when it is new.
    static func nextWriterCounter(_ db: Database, _ writer: ReplicaID, at now: UInt64) throws -> UInt64 {
        try recordWriters(db, [writer], at: now)
        let held = try Int64.fetchOne(db, sql: "SELECT max(counter) FROM versions WHERE origin = ?", arguments: [writer.hex])
        return UInt64(max(0, held ?? 0)) + 1
    }

    /// Records `writers` as ids this replica writes under with its own key (the certificate's time
    /// is `now` for an id not recorded yet). A hub restored from a backup learns this way of the
    /// writers whose versions devices relay back, verified against its key.
    public func recordWriters(_ writers: Set<ReplicaID>) throws {
        guard !writers.isEmpty else { return }
        try requireHub()
        let now = options.now()
        try write { db in try Self.recordWriters(db, writers, at: now) }
    }

    static func recordWriters(_ db: Database, _ writers: Set<ReplicaID>, at now: UInt64) throws {
        for writer in writers.sorted() {
            try db.execute(
                sql: "INSERT INTO hub_writers (replica_id, started_at) VALUES (?, ?) ON CONFLICT (replica_id) DO NOTHING",
                arguments: [writer.hex, Int64(min(now, Dot.maxCounter))])
        }
    }

    /// When each of `origins` that is one of this replica's writer ids was first written under.
    package static func writers(_ db: Database, among origins: Set<ReplicaID>) throws -> [ReplicaID: UInt64] {
        guard !origins.isEmpty else { return [:] }
        let statement = try db.cachedStatement(sql: "SELECT started_at FROM hub_writers WHERE replica_id = ?")
        var found: [ReplicaID: UInt64] = [:]
        for origin in origins {
            if let started = try Int64.fetchOne(statement, arguments: [origin.hex]) {
                found[origin] = UInt64(max(0, started))
            }
        }
        return found
    }
}
