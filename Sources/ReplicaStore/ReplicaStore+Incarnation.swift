import Foundation
public import SyncEngine
import GRDB

/// An earlier id of this replica: it forked at `forkedAt` (its file was copied to another machine,
/// or restored from a backup and written since) and went on as `succeededBy`.
public struct Incarnation: Sendable, Hashable {
    /// The earlier id.
    public var replicaID: ReplicaID
    /// The first dot of the earlier id the network holds with other content.
    public var forkedAt: Dot
    /// The id this replica took.
    public var succeededBy: ReplicaID
    /// How many versions were re-issued under the new id.
    public var reissued: Int
    /// Milliseconds since 1970.
    public var createdAt: UInt64

    public init(replicaID: ReplicaID, forkedAt: Dot, succeededBy: ReplicaID, reissued: Int, createdAt: UInt64) {
        self.replicaID = replicaID
        self.forkedAt = forkedAt
        self.succeededBy = succeededBy
        self.reissued = reissued
        self.createdAt = createdAt
    }
}

extension ReplicaStore {
    /// This replica's id as its identity row holds it now: ``replicaID`` until the replica takes
    /// a new incarnation (``takeIncarnation(forkAt:newID:reissuedEarlier:from:)``), possibly in another process.
    public func currentReplicaID() throws -> ReplicaID {
        try read { db in try Self.currentReplicaID(db) }
    }

    static func currentReplicaID(_ db: Database) throws -> ReplicaID {
        guard let text = try String.fetchOne(db, sql: "SELECT replica_id FROM replica"), let id = ReplicaID(text) else {
            throw StoreError(.notAReplica, "The replica's identity row is missing; the file is damaged.")
        }
        return id
    }

    /// This replica's earlier ids, oldest first.
    public func earlierIncarnations() throws -> [Incarnation] {
        try read { db in try Self.earlierIncarnations(db) }
    }

    static func earlierIncarnations(_ db: Database) throws -> [Incarnation] {
        try Row.fetchAll(
            db, sql: "SELECT replica_id, forked_at, succeeded_by, reissued, created_at FROM incarnations ORDER BY created_at, replica_id"
        ).compactMap { row in
            guard let id = ReplicaID(row[0] as String), let next = ReplicaID(row[2] as String) else { return nil }
            return Incarnation(
                replicaID: id, forkedAt: Dot(replica: id, counter: UInt64(max(0, row[1] as Int64))), succeededBy: next,
                reissued: row[3], createdAt: UInt64(max(0, row[4] as Int64)))
        }
    }

    /// Takes a new incarnation after the network refused this replica's versions from `fork` on
    /// (it holds that dot with another signature), in one transaction: the replica goes on as
    /// `newID`; the versions of the old id from `fork` on that it wrote itself (`received_from`
    /// NULL) leave the versions table (kept in `forked_versions` with the reason "forked:
    /// re-issued as …", so that the network's real versions of those dots can be pulled) and are
    /// re-issued in counter order as `newID`:1, 2, … with the same document, partition, body and
    /// timestamp, signed with the same device key. In their contexts, entries of the old id at or
    /// beyond the fork point become the matching entries of the new id. The counter becomes the
    /// number re-issued, knowledge follows, and every peer's pull checkpoint is reset so that the
    /// old id's real versions are pulled.
    ///
    /// A version that another incarnation of this device already re-issued (`reissuedEarlier`,
    /// from the hub: this replica was restored from a backup older than that incarnation) is not
    /// re-issued again: the earlier re-issue, signed by this replica's key and equal in document,
    /// partition, body and timestamp, takes its place, received from `hub`, and contexts name it
    /// instead. Others the hub names are ignored.
    ///
    /// Versions of the old id it pulled (the other copy's, sent back before the fork was known)
    /// are the network's real versions: they stay as they are and are never re-issued. Own
    /// versions set aside only because their document left the read scope (``SetAsideReason/outsideReadScope``)
    /// were never taken by the hub: they are re-issued in good standing like the others, and the
    /// peers are told to forget their documents again once the hub holds them.
    ///
    /// Returns the re-issued versions; none when `fork` is not of the current id (the replica
    /// already took its new incarnation, perhaps in another process).
    @discardableResult
    public func takeIncarnation(
        forkAt fork: Dot, newID: ReplicaID, reissuedEarlier: [Version] = [], from hub: ReplicaID? = nil
    ) throws -> [Version] {
        let key = self.key
        let now = options.now()
        let publicKey = self.publicKey
        return try write { db in
            let old = try Self.currentReplicaID(db)
            guard old == fork.replica, newID != old else { return [] }
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM knowledge WHERE origin = ?", arguments: [newID.hex]) ?? 0 > 0 {
                throw StoreError(.io, "The new replica id \(newID.short) is already known here; take another.")
            }
            let forked = try Self.ownVersions(db, of: old, from: fork.counter)
            // Only versions of this device's other ids, signed by its key, can stand for its own.
            let earlier = reissuedEarlier.filter {
                $0.dot.replica != old && $0.dot.replica != newID && publicKey.isValidSignature(of: $0)
            }
            let plan = ReissuePlan(
                reissuing: forked.filter { Self.isReissued($0) }.map(\.version), fork: fork, newID: newID, earlier: earlier)

            var reissued: [Version] = []
            var keys = Set<DocumentKey>()
            let moveOut = try db.cachedStatement(sql: ForkedCopies.keep)
            for stored in forked {
                let version = stored.version
                let reason: String
                switch plan.mapping[version.dot.counter] {
                case .some(let dot) where dot.replica == newID:
                    let next = try key.sign(Version(
                        dot: dot, collection: version.collection, documentID: version.documentID,
                        partition: version.partition, context: plan.translate(version.context), body: version.body,
                        timestamp: version.timestamp))
                    reissued.append(next)
                    reason = "forked: re-issued as \(next.dot)"
                case .some(let dot):
                    reason = "forked: re-issued earlier as \(dot)"
                case .none:
                    reason = "forked: not re-issued (\(stored.setAsideReason?.detail ?? "set aside"))"
                }
                let json = String(decoding: try JSONEncoder().encode(version), as: UTF8.self)
                try moveOut.execute(arguments: [old.hex, Int64(version.dot.counter), json, reason])
                keys.insert(version.key)
            }
            try db.execute(
                sql: "DELETE FROM versions WHERE origin = ? AND counter >= ? AND received_from IS NULL",
                arguments: [old.hex, Int64(fork.counter)])
            for version in reissued {
                try db.execute(sql: Rows.insertVersion, arguments: Rows.versionArguments(version, receivedFrom: nil))
            }
            try Self.takeEarlierReissues(db, plan.taken, from: hub ?? old, publicKey: publicKey)
            for documentKey in keys { try Self.rebuildState(db, documentKey) }

            try db.execute(
                sql: "UPDATE replica SET replica_id = ?, counter = ?",
                arguments: [newID.hex, Int64(reissued.count)])
            // The new id signs with the same key: its versions verify here like the old id's.
            try db.execute(
                sql: "INSERT OR IGNORE INTO device_keys (replica_id, public_key) VALUES (?, ?)",
                arguments: [newID.hex, publicKey.rawRepresentation])
            let heldOld = try Int64.fetchOne(db, sql: "SELECT max(counter) FROM versions WHERE origin = ?", arguments: [old.hex])
            try db.execute(sql: "DELETE FROM knowledge WHERE origin = ?", arguments: [old.hex])
            if let heldOld, heldOld > 0 {
                try db.execute(sql: "INSERT INTO knowledge (origin, counter) VALUES (?, ?)", arguments: [old.hex, heldOld])
            }
            if !reissued.isEmpty {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO knowledge (origin, counter) VALUES (?, ?)",
                    arguments: [newID.hex, Int64(reissued.count)])
            }
            try db.execute(
                sql: "INSERT OR REPLACE INTO device_keys (replica_id, public_key) VALUES (?, ?)",
                arguments: [newID.hex, publicKey.rawRepresentation])
            try db.execute(
                sql: """
                    INSERT OR REPLACE INTO incarnations (replica_id, forked_at, succeeded_by, reissued, created_at)
                    VALUES (?, ?, ?, ?, ?)
                    """,
                arguments: [old.hex, Int64(fork.counter), newID.hex, reissued.count, Int64(clamping: now)])
            try db.execute(sql: "UPDATE peers SET checkpoint = NULL")
            if forked.contains(where: { $0.setAsideReason?.code == .outsideReadScope }) {
                try db.execute(sql: "UPDATE peers SET forget_pending = 1 WHERE grants IS NOT NULL")
            }
            return reissued
        }
    }

    /// What this replica would re-issue if it took a new incarnation at `fork` now, as the hub
    /// looks it up (at most `limit`, oldest first); none when `fork` is not of the current id.
    public func reissueProbes(forkAt fork: Dot, limit: Int) throws -> [ReissueProbe] {
        try read { db in
            guard try Self.currentReplicaID(db) == fork.replica else { return [] }
            return try Self.ownVersions(db, of: fork.replica, from: fork.counter)
                .filter { Self.isReissued($0) }.prefix(limit).map { ReissueProbe($0.version) }
        }
    }

    /// The versions of `origin` from `counter` on that this replica wrote itself, in counter order.
    static func ownVersions(_ db: Database, of origin: ReplicaID, from counter: UInt64) throws -> [StoredVersion] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT \(Rows.storedVersionColumns) FROM versions
                WHERE origin = ? AND counter >= ? AND received_from IS NULL ORDER BY counter
                """,
            arguments: [origin.hex, Int64(counter)]
        ).map(Rows.storedVersion)
    }

    /// Stores the earlier re-issues that take the place of own versions, as received from `hub`
    /// (those already held stay as they are); their ids sign with this replica's key. Knowledge
    /// of their ids rises only as far as it stays contiguous, so a pull still brings the others.
    static func takeEarlierReissues(_ db: Database, _ versions: [Version], from hub: ReplicaID, publicKey: PublicDeviceKey) throws {
        let held = try db.cachedStatement(sql: "SELECT 1 FROM versions WHERE origin = ? AND counter = ?")
        var taken: [ReplicaID: Set<UInt64>] = [:]
        for version in versions {
            if try Int.fetchOne(held, arguments: [version.dot.replica.hex, Int64(version.dot.counter)]) == nil {
                try db.execute(sql: Rows.insertVersion, arguments: Rows.versionArguments(version, receivedFrom: hub))
            }
            taken[version.dot.replica, default: []].insert(version.dot.counter)
            try db.execute(
                sql: "INSERT OR IGNORE INTO device_keys (replica_id, public_key) VALUES (?, ?)",
                arguments: [version.dot.replica.hex, publicKey.rawRepresentation])
        }
        let known = try Knowledge.load(db, origins: Set(taken.keys))
        var raised: [ReplicaID: UInt64] = [:]
        for (origin, counters) in taken {
            var counter = known[origin]
            while counters.contains(counter + 1) { counter += 1 }
            if counter > known[origin] { raised[origin] = counter }
        }
        try Knowledge.raise(db, to: raised)
    }

    /// Whether an own version from the fork point on is re-issued: those in good standing, and
    /// those set aside only because their document left the read scope (never taken by the hub).
    /// Rejected ones stay rejected.
    static func isReissued(_ stored: StoredVersion) -> Bool {
        stored.setAsideReason == nil || stored.setAsideReason?.code == .outsideReadScope
    }
}

extension ApplyContext {
    /// This replica's id as its identity row holds it in the apply transaction: a round planned
    /// for another id (another process took a new incarnation meanwhile) must not commit.
    public func currentReplicaID() throws -> ReplicaID {
        try ReplicaStore.currentReplicaID(db)
    }
}
