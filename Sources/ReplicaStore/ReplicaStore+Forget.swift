public import SyncEngine
import GRDB

/// What forgetting the documents outside a read scope did.
public struct ForgetOutcome: Sendable, Hashable {
    /// Documents forgotten.
    public var forgotten = 0
    /// Documents outside the scope kept because they hold versions not yet sent.
    public var kept = 0

    public init(forgotten: Int = 0, kept: Int = 0) {
        self.forgotten = forgotten
        self.kept = kept
    }
}

extension ApplyContext {
    /// Applies, in the apply transaction, what a peer said this replica (`replica`) may read:
    /// new `grants` are saved, bring back the own versions they cover again and make it forget
    /// the documents outside them; without new grants, documents kept earlier for their unsent
    /// versions are forgotten once the peer holds them (`acknowledged`: its knowledge of
    /// `replica`). Returns how many documents were forgotten. Once the transaction commits, the
    /// bodies the peer's knowledge acknowledges are dropped as ``KeepSent`` says.
    public func applyGrants(
        _ grants: AccessGrants?, from peer: String, to replica: ReplicaID, acknowledged: UInt64
    ) throws -> Int {
        // Delete after receipt: the knowledge this transaction saves for the peer acknowledges
        // versions whose bodies the replica may no longer keep.
        try ReplicaStore.dropAcknowledgedBodiesAfterCommit(db)
        let held = try peerState(peer)
        guard let scope = (grants ?? held.grants)?.read, grants != nil || held.forgetPending else { return 0 }
        if grants != nil { try restoreOwnVersions(within: scope, of: replica) }
        var outcome = ForgetOutcome()
        if scope != .everything {
            outcome = try forget(outside: scope, keepingVersionsOf: replica, above: acknowledged)
        }
        try updatePeer(peer) { state in
            if let grants { state.grants = grants }
            state.forgetPending = outcome.kept > 0
        }
        return outcome.forgotten
    }

    /// Forgets, in the apply transaction, every document outside `readScope` (the hub no longer
    /// lets this replica hold it): others' versions and the document's state go; this replica's own
    /// versions (its writes under any of its ids, and those of `origin` it recovered from the hub)
    /// stay in its history, set aside with ``SetAsideReason/outsideReadScope``, and come
    /// back into the document when a later scope covers it (``restoreOwnVersions(within:of:)``).
    /// A document holding a version of `origin` above `acknowledged` (written here and not yet
    /// taken by the hub) stays whole until it is: forget again once it is.
    ///
    /// The knowledge table keeps its counters: they bound what this replica has seen, and a later
    /// wider scope delivers the forgotten versions again (a version not held is stored again).
    public func forget(
        outside readScope: Scope, keepingVersionsOf origin: ReplicaID, above acknowledged: UInt64
    ) throws -> ForgetOutcome {
        let groups = try Row.fetchAll(
            db, sql: "SELECT DISTINCT collection, partition FROM versions WHERE set_aside_reason IS NULL")
        var outcome = ForgetOutcome()
        for group in groups {
            guard let collection = CollectionName(group[0] as String), let partition = Partition(group[1] as String),
                !readScope.allows(collection: collection, partition: partition)
            else { continue }
            let arguments: StatementArguments = [
                collection.rawValue, partition.rawValue, origin.hex, Int64(min(acknowledged, Dot.maxCounter)),
            ]
            // The documents of this group that hold versions the hub has not taken yet.
            let keep = """
                SELECT document_id FROM versions
                WHERE collection = ?1 AND partition = ?2 AND origin = ?3 AND counter > ?4 AND set_aside_reason IS NULL
                """
            let forgotten = "collection = ?1 AND partition = ?2 AND document_id NOT IN (\(keep))"
            outcome.kept += try Int.fetchOne(
                db, sql: "SELECT count(DISTINCT document_id) FROM (\(keep))", arguments: arguments) ?? 0
            outcome.forgotten += try Int.fetchOne(
                db, sql: "SELECT count(DISTINCT document_id) FROM versions WHERE \(forgotten) AND set_aside_reason IS NULL",
                arguments: arguments) ?? 0
            try db.execute(sql: "DELETE FROM documents WHERE \(forgotten)", arguments: arguments)
            try db.execute(
                sql: "DELETE FROM versions WHERE \(forgotten) AND origin <> ?3 AND received_from IS NOT NULL",
                arguments: arguments)
            try db.execute(
                sql: "UPDATE versions SET set_aside_reason = ?5, set_aside_code = ?6 WHERE \(forgotten) AND set_aside_reason IS NULL",
                arguments: arguments + [SetAsideReason.outsideReadScope.detail, SetAsideReason.outsideReadScope.code.rawValue])
        }
        if outcome.forgotten > 0 { ReplicaStore.eraseFreedPagesAfterCommit(db) }
        return outcome
    }

    /// Brings back into their documents this replica's own versions that forgetting set aside (of
    /// `origin`, and its writes under earlier ids), where `readScope` covers them again; returns how
    /// many documents got some back.
    @discardableResult
    public func restoreOwnVersions(within readScope: Scope, of origin: ReplicaID) throws -> Int {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT DISTINCT collection, partition, document_id FROM versions
                WHERE (origin = ? OR received_from IS NULL) AND set_aside_code = ?
                """,
            arguments: [origin.hex, SetAsideReason.Code.outsideReadScope.rawValue])
        var restored = 0
        for row in rows {
            guard let collection = CollectionName(row[0] as String), let partition = Partition(row[1] as String),
                let id = DocumentID(row[2] as String), readScope.allows(collection: collection, partition: partition)
            else { continue }
            try db.execute(
                sql: """
                    UPDATE versions SET set_aside_reason = NULL, set_aside_code = NULL
                    WHERE collection = ? AND document_id = ? AND (origin = ? OR received_from IS NULL)
                        AND set_aside_code = ?
                    """,
                arguments: [collection.rawValue, id.rawValue, origin.hex, SetAsideReason.Code.outsideReadScope.rawValue])
            try ReplicaStore.rebuildState(db, DocumentKey(collection: collection, id: id))
            restored += 1
        }
        return restored
    }
}

extension ReplicaStore {
    /// Once the current transaction commits, moves the WAL into the file and truncates it
    /// (`wal_checkpoint(TRUNCATE)`): the frames that still held what the transaction deleted go,
    /// and the pages ``configuration(_:cipher:)``'s `secure_delete` zeroed replace the old ones in the
    /// file. Best effort: a reader holding an old snapshot past the busy timeout leaves the WAL for
    /// the next checkpoint (SQLite's automatic one, or the next forget or drop).
    static func eraseFreedPagesAfterCommit(_ db: Database) {
        db.afterNextTransaction(onCommit: { db in
            _ = try? db.checkpoint(.truncate)
        })
    }
}
