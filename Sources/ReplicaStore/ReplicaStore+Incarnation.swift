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
    /// a new incarnation (``takeIncarnation(forkAt:newID:)``), possibly in another process.
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
    /// Versions of the old id it pulled (the other copy's, sent back before the fork was known)
    /// are the network's real versions: they stay as they are and are never re-issued. Own
    /// versions set aside only because their document left the read scope (``outsideReadScope``)
    /// were never taken by the hub: they are re-issued in good standing like the others, and the
    /// peers are told to forget their documents again once the hub holds them.
    ///
    /// Returns the re-issued versions; none when `fork` is not of the current id (the replica
    /// already took its new incarnation, perhaps in another process).
    @discardableResult
    public func takeIncarnation(forkAt fork: Dot, newID: ReplicaID) throws -> [Version] {
        let key = self.key
        let now = options.now()
        let publicKey = self.publicKey
        return try write { db in
            let old = try Self.currentReplicaID(db)
            guard old == fork.replica, newID != old else { return [] }
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM knowledge WHERE origin = ?", arguments: [newID.hex]) ?? 0 > 0 {
                throw StoreError(.io, "The new replica id \(newID.short) is already known here; take another.")
            }
            let forked = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Rows.storedVersionColumns) FROM versions
                    WHERE origin = ? AND counter >= ? AND received_from IS NULL ORDER BY counter
                    """,
                arguments: [old.hex, Int64(fork.counter)]
            ).map(Rows.storedVersion)
            let reissuing = forked.filter { Self.isReissued($0) }.map(\.version)
            let forgetAgain = forked.contains { $0.setAsideReason == Self.outsideReadScope }
            var renumbered: [UInt64: UInt64] = [:]
            for (index, version) in reissuing.enumerated() { renumbered[version.dot.counter] = UInt64(index + 1) }
            let translate = { (context: VersionVector) -> VersionVector in
                let entry = context[old]
                guard entry >= fork.counter else { return context }
                var translated = context
                translated[old] = fork.counter - 1
                translated[newID] = renumbered.filter { $0.key <= entry }.values.max() ?? 0
                return translated
            }

            var reissued: [Version] = []
            var keys = Set<DocumentKey>()
            let moveOut = try db.cachedStatement(
                sql: "INSERT OR REPLACE INTO forked_versions (origin, counter, version, reason) VALUES (?1, ?2, vigil_seal(?3, 'forked_versions', ?1, ?2), ?4)")
            for stored in forked {
                let version = stored.version
                let reason: String
                if let counter = renumbered[version.dot.counter] {
                    let next = try key.sign(Version(
                        dot: Dot(replica: newID, counter: counter), collection: version.collection,
                        documentID: version.documentID, partition: version.partition,
                        context: translate(version.context), body: version.body, timestamp: version.timestamp))
                    reissued.append(next)
                    reason = "forked: re-issued as \(next.dot)"
                } else {
                    reason = "forked: not re-issued (\(stored.setAsideReason ?? "set aside"))"
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
            if forgetAgain { try db.execute(sql: "UPDATE peers SET forget_pending = 1 WHERE grants IS NOT NULL") }
            return reissued
        }
    }

    /// Whether an own version from the fork point on is re-issued: those in good standing, and
    /// those set aside only because their document left the read scope (never taken by the hub).
    /// Rejected ones stay rejected.
    static func isReissued(_ stored: StoredVersion) -> Bool {
        stored.setAsideReason == nil || stored.setAsideReason == outsideReadScope
    }
}

extension ApplyContext {
    /// This replica's id as its identity row holds it in the apply transaction: a round planned
    /// for another id (another process took a new incarnation meanwhile) must not commit.
    public func currentReplicaID() throws -> ReplicaID {
        try ReplicaStore.currentReplicaID(db)
    }
}
