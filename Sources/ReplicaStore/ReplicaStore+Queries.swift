public import SyncEngine
import Foundation
package import GRDB

extension ReplicaStore {
    /// The document with all its siblings; nil when this replica holds nothing of it.
    public func document(_ key: DocumentKey) throws -> StoredDocument? {
        try read { db in
            guard let record = try DocumentRecord.load(db, key) else { return nil }
            return try Self.stored(db, record)
        }
    }

    /// Documents of `collection`, newest first, optionally of one partition, deleted ones left out
    /// unless `includeDeleted`; `cursor` continues after a previous page.
    public func documents(
        in collection: CollectionName, partition: Partition? = nil, includeDeleted: Bool = false,
        limit: Int = 50, after cursor: String? = nil
    ) throws -> DocumentPage {
        var conditions = ["collection = ?"]
        var arguments: StatementArguments = [collection.rawValue]
        if let partition {
            conditions.append("partition = ?")
            arguments += [partition.rawValue]
        }
        if !includeDeleted { conditions.append("deleted = 0") }
        if let cursor {
            let parts = cursor.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let wall = Int64(parts[0]) else {
                throw StoreError(.io, "The page cursor '\(cursor.prefix(60))' is not one this program gave out.")
            }
            conditions.append("(updated_wall < ? OR (updated_wall = ? AND document_id < ?))")
            arguments += [wall, wall, String(parts[1])]
        }
        let sql = """
            SELECT document_id, partition, siblings, context, updated_wall FROM documents
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY updated_wall DESC, document_id DESC LIMIT ?
            """
        arguments += [limit + 1]
        let finalArguments = arguments
        return try read { db in
            let rows = try Row.fetchAll(db, sql: sql, arguments: finalArguments)
            var documents: [StoredDocument] = []
            for row in rows.prefix(limit) {
                guard let id = DocumentID(row[0] as String), let partition = Partition(row[1] as String),
                    let context = VersionVector(compactText: row[3])
                else { throw StoreError(.notAReplica, "A document row in the replica is malformed; the file may be damaged.") }
                let record = DocumentRecord(
                    key: DocumentKey(collection: collection, id: id), partition: partition,
                    state: DocumentState(siblings: try Rows.siblings(row[2]), context: context), isStored: true)
                documents.append(try Self.stored(db, record))
            }
            let next = rows.count > limit ? rows[limit - 1] : nil
            return DocumentPage(
                documents: documents,
                nextCursor: next.map { "\($0[4] as Int64)/\($0[0] as String)" })
        }
    }

    /// Every version of the document this replica holds, set-aside ones included, oldest first.
    public func history(of key: DocumentKey) throws -> [StoredVersion] {
        try read { db in try Self.history(db, of: key) }
    }

    /// The newest `limit` versions of the document, set-aside ones included, oldest first: picked
    /// by their clocks before any body is opened, so a document a device gave a million versions
    /// costs a page of its history what a short one does, not a million bodies in memory.
    public func history(of key: DocumentKey, newest limit: Int) throws -> [StoredVersion] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Rows.storedVersionColumns), body_dropped FROM versions
                    WHERE seq IN (
                        SELECT seq FROM versions WHERE collection = ? AND document_id = ?
                        ORDER BY clock_wall DESC, clock_logical DESC, seq DESC LIMIT ?)
                    ORDER BY clock_wall, clock_logical, seq
                    """,
                arguments: [key.collection.rawValue, key.id.rawValue, max(0, limit)]
            ).map(Rows.storedVersion)
        }
    }

    package static func history(_ db: Database, of key: DocumentKey) throws -> [StoredVersion] {
        try Row.fetchAll(
            db,
            sql: """
                SELECT \(Rows.storedVersionColumns), body_dropped FROM versions
                WHERE collection = ? AND document_id = ? ORDER BY clock_wall, clock_logical, seq
                """,
            arguments: [key.collection.rawValue, key.id.rawValue]
        ).map(Rows.storedVersion)
    }

    /// The documents in conflict, ordered by collection and id.
    public func conflicts(limit: Int = 1000) throws -> [StoredDocument] {
        try read { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT collection, document_id FROM documents WHERE sibling_count > 1
                    ORDER BY collection, document_id LIMIT ?
                    """,
                arguments: [limit])
            return try rows.compactMap { row in
                guard let collection = CollectionName(row[0] as String), let id = DocumentID(row[1] as String),
                    let record = try DocumentRecord.load(db, DocumentKey(collection: collection, id: id))
                else { return nil }
                return try Self.stored(db, record)
            }
        }
    }

    /// The highest counter received of every origin.
    public func knowledge() throws -> VersionVector {
        try read { db in try Knowledge.load(db) }
    }

    /// Counts for `fieldcli status`.
    public func status() throws -> ReplicaStatus {
        try read { db in
            let replicaID = try Self.currentReplicaID(db)
            let counter = try Int64.fetchOne(db, sql: "SELECT counter FROM replica") ?? 0
            var perCollection: [CollectionName: Int] = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT collection, count(*) FROM documents WHERE deleted = 0 GROUP BY collection")
            {
                if let name = CollectionName(row[0] as String) { perCollection[name] = row[1] }
            }
            var status = ReplicaStatus(
                replicaID: replicaID, counter: UInt64(counter), knowledge: try Knowledge.load(db),
                documentsPerCollection: perCollection,
                deletedDocuments: try Int.fetchOne(db, sql: "SELECT count(*) FROM documents WHERE deleted = 1") ?? 0,
                conflicts: try Int.fetchOne(db, sql: "SELECT count(*) FROM documents WHERE sibling_count > 1") ?? 0,
                versions: try Int.fetchOne(db, sql: "SELECT count(*) FROM versions") ?? 0,
                setAside: try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM versions WHERE set_aside_reason IS NOT NULL AND set_aside_code <> ?",
                    arguments: [SetAsideReason.Code.outsideReadScope.rawValue]) ?? 0)
            status.earlierIncarnations = try Self.earlierIncarnations(db)
            status.droppedBodies = try Int.fetchOne(db, sql: "SELECT count(*) FROM versions WHERE body_dropped = 1") ?? 0
            status.keepSent = try Self.keepSent(db)
            return status
        }
    }

    /// Whether `version`'s signature checks out against its origin's key, as far as this replica knows it.
    public func signatureStatus(of version: Version) throws -> SignatureStatus {
        try signatureStatuses(of: [version])[0]
    }

    /// The signature status of each of `versions`, in order, reading the keys held once.
    public func signatureStatuses(of versions: [Version]) throws -> [SignatureStatus] {
        let keys = try publicKeys()
        return versions.map { version in
            guard let key = keys[version.dot.replica] else { return .unknownKey }
            return key.isValidSignature(of: version) ? .valid : .invalid
        }
    }

    /// The public keys this replica holds, by replica.
    public func publicKeys() throws -> [ReplicaID: PublicDeviceKey] {
        try read { db in
            var keys: [ReplicaID: PublicDeviceKey] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT replica_id, public_key FROM device_keys") {
                if let id = ReplicaID(row[0] as String), let key = try? PublicDeviceKey(rawRepresentation: row[1]) {
                    keys[id] = key
                }
            }
            return keys
        }
    }

    /// The versions held at `dots` (set aside or not); dots not held are absent.
    public func versions(at dots: [Dot]) throws -> [Version] {
        guard !dots.isEmpty else { return [] }
        return try read { db in
            let statement = try db.cachedStatement(sql: "SELECT \(Rows.versionColumns) FROM versions WHERE origin = ? AND counter = ?")
            return try dots.compactMap { dot in
                try Row.fetchOne(statement, arguments: [dot.replica.hex, Int64(min(dot.counter, Dot.maxCounter))]).map(Rows.version)
            }
        }
    }

    /// The versions held from `origins` with the document and time of one of `probes`, at most
    /// one per probe and origin (a dot is one version of one document at one time).
    public func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) throws -> [Version] {
        guard !origins.isEmpty, !probes.isEmpty else { return [] }
        return try read { db in
            let statement = try db.cachedStatement(sql: """
                SELECT \(Rows.versionColumns) FROM versions
                WHERE collection = ? AND document_id = ? AND clock_wall = ? AND clock_logical = ? AND origin = ?
                  AND set_aside_reason IS NULL
                LIMIT 1
                """)
            var found: [Version] = []
            for probe in probes {
                for origin in origins.sorted() {
                    let arguments: StatementArguments = [
                        probe.collection.rawValue, probe.id.rawValue, Int64(clamping: probe.timestamp.wallMilliseconds),
                        Int64(probe.timestamp.logical), origin.hex,
                    ]
                    if let row = try Row.fetchOne(statement, arguments: arguments) { found.append(try Rows.version(row)) }
                }
            }
            return found
        }
    }

    /// Records public keys of other devices (from the hub's directory).
    public func savePublicKeys(_ keys: [ReplicaID: PublicDeviceKey]) throws {
        try write { db in
            for (id, key) in keys {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO device_keys (replica_id, public_key) VALUES (?, ?)",
                    arguments: [id.hex, key.rawRepresentation])
            }
        }
    }

    package static func stored(_ db: Database, _ record: DocumentRecord) throws -> StoredDocument {
        let statement = try db.cachedStatement(
            sql: "SELECT \(Rows.versionColumns), body_dropped FROM versions WHERE origin = ? AND counter = ?")
        var dropped = Set<Dot>()
        let siblings = try record.state.siblings.map { dot in
            guard let row = try Row.fetchOne(statement, arguments: [dot.replica.hex, Int64(dot.counter)]) else {
                throw StoreError(.notAReplica, "A sibling \(dot) of \(record.key) has no version row; the replica may be damaged.")
            }
            if row[10] as Bool { dropped.insert(dot) }
            return try Rows.version(row)
        }
        return StoredDocument(
            key: record.key, partition: record.partition, state: record.state, siblings: siblings, droppedBodies: dropped)
    }
}

extension ReplicaStore {
    /// Up to `limit` versions this replica holds in arrival order after `sequence`, for checking
    /// them all (`fieldcli verify`): a sealed body that does not open is no error here but a
    /// version with no body and ``StoredVersion/bodyUnopened``.
    public func storedVersions(afterSequence sequence: Int64, limit: Int) throws -> [StoredVersion] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT \(Rows.checkedVersionColumns) FROM versions WHERE seq > ? ORDER BY seq LIMIT ?",
                arguments: [sequence, max(1, limit)]
            ).map(Rows.storedVersion)
        }
    }
}
