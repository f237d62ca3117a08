import SyncEngine
import GRDB

/// Delete after receipt: which bodies a field replica keeps once the hub has acknowledged them
/// (the hub's knowledge, as the peers table holds it, covers their dot).
public enum KeepSent: String, Sendable, Hashable, CaseIterable {
    /// Every body (the default, and what a hub always does).
    case all
    /// This replica's own versions' bodies; others' are dropped once acknowledged.
    case own
    /// No acknowledged body.
    case none
}

extension ReplicaStore {
    /// Which acknowledged bodies this replica keeps.
    public func keepSent() throws -> KeepSent {
        try read { db in try Self.keepSent(db) }
    }

    /// Sets which acknowledged bodies this replica keeps and drops, in the same transaction, the
    /// bodies the new setting no longer keeps; returns how many were dropped. The WAL is then
    /// checkpointed and truncated, so the dropped text is gone from the files.
    @discardableResult
    public func setKeepSent(_ keep: KeepSent) throws -> Int {
        try write { db in
            try db.execute(sql: "UPDATE replica SET keep_sent = ?", arguments: [keep.rawValue])
            return try Self.dropAcknowledgedBodies(db)
        }
    }

    /// Drops the bodies the setting no longer keeps now, and the attachments only they named (what
    /// the end of a sync does, once the attachments moved); returns how many bodies were dropped.
    @discardableResult
    public func dropAcknowledgedBodies() throws -> Int {
        try indexAttachmentNames()
        return try write { db in try Self.dropAcknowledgedBodies(db) }
    }

    static func keepSent(_ db: Database) throws -> KeepSent {
        KeepSent(rawValue: try String.fetchOne(db, sql: "SELECT keep_sent FROM replica") ?? "") ?? .all
    }

    /// In the current transaction, drops the bodies of versions that the hub has acknowledged and
    /// the setting does not keep: the body becomes NULL and `body_dropped` 1; everything sync needs
    /// (dot, context, clock, signature, knowledge, checkpoints) stays. Never dropped: tombstones,
    /// set-aside versions (kept for their reason), and any version of a document in conflict (its
    /// siblings are what `conflicts resolve` chooses between; they drop once it is resolved and the
    /// resolution is acknowledged). A drop erases the text from the files once the transaction
    /// commits (``eraseFreedPagesAfterCommit(_:)``; with `erasing` false the caller checkpoints).
    /// The attachments that only dropped bodies name go too (``dropUnkeptAttachments(_:)``).
    static func dropAcknowledgedBodies(_ db: Database, erasing: Bool = true) throws -> Int {
        let keep = try keepSent(db)
        guard keep != .all else { return 0 }
        let own = try currentReplicaID(db)
        var acknowledged = VersionVector()
        for text in try String.fetchAll(db, sql: "SELECT knowledge FROM peers") {
            if let knowledge = VersionVector(compactText: text) { acknowledged.merge(knowledge) }
        }
        // Own versions: this replica's current id, and its writes under earlier ids.
        let ownFilter = keep == .own ? "AND origin <> ?3 AND received_from IS NOT NULL" : "AND ?3 IS NOT NULL"
        let statement = try db.cachedStatement(sql: """
            UPDATE versions SET body = NULL, body_dropped = 1
            WHERE origin = ?1 AND counter <= ?2 AND body IS NOT NULL AND body_dropped = 0
                AND set_aside_reason IS NULL \(ownFilter)
                AND NOT EXISTS (
                    SELECT 1 FROM documents AS d
                    WHERE d.collection = versions.collection AND d.document_id = versions.document_id
                        AND d.sibling_count > 1)
            """)
        var dropped = 0
        for (origin, counter) in acknowledged.entries where counter > 0 {
            try statement.execute(arguments: [origin.hex, Int64(min(counter, Dot.maxCounter)), own.hex])
            dropped += db.changesCount
        }
        let files = try dropUnkeptAttachments(db)
        if dropped > 0 || files > 0, erasing { eraseFreedPagesAfterCommit(db) }
        return dropped
    }

    /// In the current transaction, erases the attachments that only dropped bodies name (an own
    /// file the hub has not confirmed yet stays until it has): a name stays while a version of its
    /// document by its origin keeps a body. A name indexed from no body is never made again, so
    /// what is erased is not fetched again. Returns how many attachments and chunks went.
    static func dropUnkeptAttachments(_ db: Database) throws -> Int {
        try db.execute(
            sql: """
                DELETE FROM attachment_names WHERE NOT EXISTS (
                    SELECT 1 FROM versions v WHERE v.origin = attachment_names.origin
                        AND v.collection = attachment_names.collection AND v.document_id = attachment_names.document_id
                        AND v.body IS NOT NULL AND v.body_dropped = 0)
                """)
        let erased = try eraseUnnamedFiles(db)
        return erased.attachments + erased.chunks
    }

    /// Once the current transaction (a sync's answer being saved) commits, drops in a transaction
    /// of its own the bodies the hub's knowledge, as just saved, acknowledges, then checkpoints the
    /// WAL; nothing when the replica keeps every body. A failure leaves the bodies for the next sync.
    static func dropAcknowledgedBodiesAfterCommit(_ db: Database) throws {
        guard try keepSent(db) != .all else { return }
        db.afterNextTransaction(onCommit: { db in
            var erased = false
            try? db.inTransaction(.immediate) {
                let before = db.totalChangesCount
                _ = try dropAcknowledgedBodies(db, erasing: false)
                erased = db.totalChangesCount > before
                return .commit
            }
            if erased { _ = try? db.checkpoint(.truncate) }
        })
    }
}
