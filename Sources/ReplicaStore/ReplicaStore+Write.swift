import Foundation
public import SyncEngine
import Records
package import GRDB

extension ReplicaStore {
    /// Records a local write: takes the next counter, signs the version and merges it, all in one
    /// transaction, so a counter is never reused, not even after a crash.
    ///
    /// Bodies of the network's record collections (observations, situations, warnings,
    /// participants) are validated with ``RecordCatalog`` and filed under the partition they imply.
    ///
    /// The new version's context is planned by ``WriteIntent/plan(_:)``: without a base, everything
    /// the replica holds of the document; with one, what the writer saw (closed under the contexts
    /// of the versions it covers) and the replica's own versions of the document, so a sibling the
    /// writer did not see stays beside the new version.
    ///
    /// Throws ``SyncEngineError`` when the body is not a JSON object or not a valid record, the document is in conflict
    /// and the write does not say it resolves it, the partition would change, or the base claims
    /// versions of the document the replica does not hold (``SyncEngineError/Code/baseNotHeld``); and
    /// ``StoreError`` with ``StoreError/Code/documentNotFound`` when deleting, resolving or writing
    /// with a base to a document that does not exist.
    ///
    /// A resolution written on a hub's file goes through the hub's
    /// ``HubWriteHooks/resolutionWritten(_:_:at:)`` in the same transaction (HubStoreSQLite records
    /// it in the hub's audit log); a device's replica has no audit log.
    @discardableResult
    public func write(_ intent: WriteIntent) throws -> Version {
        guard intent.isResolution, let hooks = hubHooks else { return try write(intent, inSameTransaction: nil) }
        return try write(intent) { db, version, now in try hooks.resolutionWritten(db, version, at: now) }
    }

    /// The join of the histories of `origin`'s versions of `key` this replica holds, set aside or
    /// not (its own versions of a forgotten document stay, set aside).
    static func ownHistory(_ db: Database, of key: DocumentKey, origin: ReplicaID) throws -> VersionVector {
        var history = VersionVector()
        let rows = try Row.fetchAll(
            db, sql: "SELECT counter, context FROM versions WHERE collection = ? AND document_id = ? AND origin = ?",
            arguments: [key.collection.rawValue, key.id.rawValue, origin.hex])
        for row in rows {
            history.merge(VersionVector(compactText: row[1]) ?? VersionVector())
            history.add(Dot(replica: origin, counter: UInt64(max(0, row[0] as Int64))))
        }
        return history
    }

    /// The context of every version of `key` in good standing this replica holds, by dot: what
    /// closes a write's base under what the versions it covers had seen.
    static func contexts(_ db: Database, of key: DocumentKey) throws -> [Dot: VersionVector] {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT origin, counter, context FROM versions
                WHERE collection = ? AND document_id = ? AND set_aside_reason IS NULL
                """,
            arguments: [key.collection.rawValue, key.id.rawValue])
        var contexts: [Dot: VersionVector] = [:]
        for row in rows {
            guard let origin = ReplicaID(row[0] as String), let context = VersionVector(compactText: row[2]) else {
                throw StoreError(.notAReplica, "A version row of \(key) is malformed; the replica may be damaged.")
            }
            contexts[Dot(replica: origin, counter: UInt64(max(0, row[1] as Int64)))] = context
        }
        return contexts
    }

    /// ``write(_:)``, running `inSameTransaction` with the version written before the commit.
    ///
    /// With a `writer`, the version takes that id's next dot instead of the replica's own (the
    /// highest this replica holds of it, plus one): a hub writes its merges under a writer id of
    /// each process start, signed with its own key, so that a hub restored from a backup never
    /// takes a dot it gave out before; the hub records the id as its own in the same transaction
    /// (HubStoreSQLite's `ReplicaStore+HubWriters.swift`).
    package func write(
        _ intent: WriteIntent, as writer: ReplicaID? = nil,
        inSameTransaction: (@Sendable (Database, Version, UInt64) throws -> Void)?
    ) throws -> Version {
        let intent = try validated(intent)
        let now = options.now()
        let key = self.key
        return try write { db in
            let version = try Self.write(db, intent, as: writer, signedWith: key, now: now)
            try inSameTransaction?(db, version, now)
            return version
        }
    }

    /// Writes the validated `intent` in `db`'s transaction (see ``write(_:as:inSameTransaction:)``).
    package static func write(
        _ db: Database, _ intent: WriteIntent, as writer: ReplicaID?, signedWith key: DeviceKey, now: UInt64
    ) throws -> Version {
        let existing = try DocumentRecord.load(db, intent.key)
        if existing == nil, intent.body == nil || intent.isResolution || intent.base != nil {
            throw StoreError(.documentNotFound, "There is no document \(intent.key) in this replica.", facts: intent.key.facts)
        }
        // The id is read from the row: the replica may have taken a new incarnation since it was opened.
        guard let row = try Row.fetchOne(db, sql: "SELECT counter, clock_wall, clock_logical, replica_id FROM replica"),
            let ownID = ReplicaID(row[3] as String)
        else {
            throw StoreError(.notAReplica, "The replica's identity row is missing; the file is damaged.")
        }
        let replicaID = writer ?? ownID
        // This replica's earlier versions of the document, with what they had seen, are in the
        // context even when they are not in its state (set aside, or forgotten outside a read
        // scope): a replica's versions of one document form a chain, and contexts are closed
        // under what they cover, which version vectors rely on. A base is closed the same way.
        let plan = try intent.plan(DocumentHolding(
            state: existing?.state ?? DocumentState(), partition: existing?.partition,
            ownHistory: try Self.ownHistory(db, of: intent.key, origin: replicaID),
            contexts: intent.base == nil ? [:] : try Self.contexts(db, of: intent.key)))
        let counter = try writer.map { try Self.nextCounter(db, of: $0) } ?? UInt64(row[0] as Int64) + 1
        guard counter <= Dot.maxCounter else {
            throw StoreError(.io, "This replica has used every counter; create a new replica.")
        }
        var clock = HybridLogicalClock(
            last: HybridTimestamp(wallMilliseconds: UInt64(row[1] as Int64), logical: UInt32(row[2] as Int64)))
        let version = try key.sign(Version(
            dot: Dot(replica: replicaID, counter: counter), collection: intent.key.collection,
            documentID: intent.key.id, partition: plan.partition, context: plan.context, body: intent.body,
            timestamp: clock.tick(now: now)))
        try db.execute(sql: Rows.insertVersion, arguments: Rows.versionArguments(version, receivedFrom: nil))
        var record = existing ?? DocumentRecord(key: intent.key, partition: plan.partition)
        record.state.merge(version)
        try record.save(db, known: [version.dot: (version.isTombstone, version.timestamp.wallMilliseconds)])
        try db.execute(
            sql: "UPDATE replica SET counter = ?, clock_wall = ?, clock_logical = ?",
            arguments: [
                writer == nil ? Int64(counter) : row[0] as Int64, Int64(clock.last.wallMilliseconds),
                Int64(clock.last.logical),
            ])
        try db.execute(
            sql: "INSERT OR REPLACE INTO knowledge (origin, counter) VALUES (?, ?)",
            arguments: [replicaID.hex, Int64(counter)])
        return version
    }

    /// The next counter of `writer`, an id other than the replica's own: above every version of it held.
    static func nextCounter(_ db: Database, of writer: ReplicaID) throws -> UInt64 {
        let held = try Int64.fetchOne(db, sql: "SELECT max(counter) FROM versions WHERE origin = ?", arguments: [writer.hex])
        return UInt64(max(0, held ?? 0)) + 1
    }

    /// `intent` with its body checked against the record rules of its collection and, for the
    /// network's records, the partition their content implies.
    package func validated(_ intent: WriteIntent) throws -> WriteIntent {
        guard let body = intent.body else { return intent }
        let check = try RecordCatalog.validate(
            collection: intent.key.collection, body: body, maximumSize: options.maximumBodySize)
        guard let implied = check.partition else { return intent }
        if let given = intent.partition, given != implied {
            throw SyncEngineError(
                .partitionMismatch, "The record's region is '\(implied)' but the write names partition '\(given)'.",
                facts: intent.key.facts)
        }
        var filed = intent
        filed.partition = implied
        return filed
    }
}
