import Foundation
import GRDB
public import ReplicaStore
public import SyncEngine

/// A hub's writer ids: the hub writes its own versions (field-by-field merges) under an id it
/// draws at each process start, signed with the hub's key and certified by it like a device's id.
/// A hub restored from a backup forgets how far it had counted, but never the ids it drew, so it
/// never takes a dot it gave out before: a new process writes under a new id. Whatever writes a
/// version under a writer id (`ReplicaStore.write(_:_:as:signedWith:now:)` takes its next counter)
/// records the id here in the same transaction.
extension ReplicaStore {
    /// Records `writers` as ids this replica writes under with its own key (the certificate's time
    /// is `now` for an id not recorded yet). A hub restored from a backup learns this way of the
    /// writers whose versions devices relay back, verified against its key.
    public func recordWriters(_ writers: Set<ReplicaID>) throws {
        guard !writers.isEmpty else { return }
        try requireHub()
        let now = options.now()
        try write { db in try Self.recordWriters(db, writers, at: now) }
    }

    /// Records `writers` in the caller's transaction (see ``recordWriters(_:)``).
    static func recordWriters(_ db: Database, _ writers: Set<ReplicaID>, at now: UInt64) throws {
        for writer in writers.sorted() {
            try db.execute(
                sql: "INSERT INTO hub_writers (replica_id, started_at) VALUES (?, ?) ON CONFLICT (replica_id) DO NOTHING",
                arguments: [writer.hex, Int64(min(now, Dot.maxCounter))])
        }
    }

    /// When each of `origins` that is one of this replica's writer ids was first written under.
    static func writers(_ db: Database, among origins: Set<ReplicaID>) throws -> [ReplicaID: UInt64] {
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
