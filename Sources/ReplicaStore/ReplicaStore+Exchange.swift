public import SyncEngine
import Foundation
import GRDB

/// A bounded run of versions read for sending, and where the next run starts.
public struct VersionBatch: Sendable, Hashable {
    public var versions: [Version]
    /// The local sequence of the last version read (or scanned past); continue after it.
    public var lastSequence: Int64
    /// Whether more versions are waiting after this batch.
    public var hasMore: Bool

    public init(versions: [Version], lastSequence: Int64, hasMore: Bool) {
        self.versions = versions
        self.lastSequence = lastSequence
        self.hasMore = hasMore
    }
}

extension ReplicaStore {
    /// The versions in good standing that a peer knowing `knowledge` lacks (counter above its
    /// entry for their origin), ordered by origin then counter, bounded by `limit` versions and
    /// about `maxBytes` of bodies (at least one version is returned when any is missing).
    public func versions(
        missingFrom knowledge: VersionVector, limit: Int, maxBytes: Int
    ) throws -> VersionBatch {
        try read { db in
            var versions: [Version] = []
            var bytes = 0
            var hasMore = false
            let origins = try String.fetchAll(db, sql: "SELECT origin FROM knowledge ORDER BY origin")
                .compactMap { ReplicaID($0) }
            let statement = try db.cachedStatement(sql: """
                SELECT \(Rows.versionColumns) FROM versions
                WHERE origin = ? AND counter > ? AND set_aside_reason IS NULL ORDER BY counter LIMIT ?
                """)
            outer: for origin in origins {
                let rows = try Row.fetchCursor(
                    statement, arguments: [origin.hex, Int64(knowledge[origin]), limit - versions.count + 1])
                while let row = try rows.next() {
                    let version = try Rows.version(row)
                    let size = (version.body?.count ?? 0) + 200
                    if versions.count == limit || (!versions.isEmpty && bytes + size > maxBytes) {
                        hasMore = true
                        break outer
                    }
                    versions.append(version)
                    bytes += size
                }
            }
            return VersionBatch(versions: versions, lastSequence: 0, hasMore: hasMore)
        }
    }

    /// Versions in good standing stored after local sequence `sequence`, in arrival order, for a
    /// changes feed. `include` filters (scope, origin); versions it refuses are scanned past.
    /// Bounded by `limit` versions and about `maxBytes`.
    public func versions(
        after sequence: Int64, limit: Int, maxBytes: Int,
        include: @Sendable (_ version: Version, _ receivedFrom: ReplicaID?) -> Bool = { _, _ in true }
    ) throws -> VersionBatch {
        try read { db in
            var versions: [Version] = []
            var bytes = 0
            var last = sequence
            var hasMore = false
            let rows = try Row.fetchCursor(
                db,
                sql: """
                    SELECT \(Rows.storedVersionColumns) FROM versions
                    WHERE seq > ? AND set_aside_reason IS NULL ORDER BY seq
                    """,
                arguments: [sequence])
            while let row = try rows.next() {
                let stored = try Rows.storedVersion(row)
                guard include(stored.version, stored.receivedFrom) else {
                    last = stored.sequence
                    continue
                }
                let size = (stored.version.body?.count ?? 0) + 200
                if versions.count == limit || (!versions.isEmpty && bytes + size > maxBytes) {
                    hasMore = true
                    break
                }
                versions.append(stored.version)
                bytes += size
                last = stored.sequence
            }
            return VersionBatch(versions: versions, lastSequence: last, hasMore: hasMore)
        }
    }

    /// Sets versions aside (the network rejected them): they stay in history with the reason, and
    /// their documents' states are rebuilt from the versions in good standing.
    public func setAside(_ reasons: [Dot: String]) throws {
        guard !reasons.isEmpty else { return }
        try write { db in
            var keys = Set<DocumentKey>()
            let lookup = try db.cachedStatement(
                sql: "SELECT collection, document_id FROM versions WHERE origin = ? AND counter = ?")
            for (dot, reason) in reasons {
                guard let row = try Row.fetchOne(lookup, arguments: [dot.replica.hex, Int64(dot.counter)]),
                    let collection = CollectionName(row[0] as String), let id = DocumentID(row[1] as String)
                else { continue }
                try SetAside.mark(db, dot, reason: reason)
                keys.insert(DocumentKey(collection: collection, id: id))
            }
            for key in keys { try Self.rebuildState(db, key) }
        }
    }

    /// Recomputes a document's state from its versions in good standing.
    static func rebuildState(_ db: Database, _ key: DocumentKey) throws {
        let versions = try Row.fetchAll(
            db,
            sql: """
                SELECT \(Rows.versionColumns) FROM versions
                WHERE collection = ? AND document_id = ? AND set_aside_reason IS NULL
                """,
            arguments: [key.collection.rawValue, key.id.rawValue]
        ).map(Rows.version)
        guard let first = versions.first else {
            try db.execute(
                sql: "DELETE FROM documents WHERE collection = ? AND document_id = ?",
                arguments: [key.collection.rawValue, key.id.rawValue])
            return
        }
        var record = try DocumentRecord.load(db, key) ?? DocumentRecord(key: key, partition: first.partition)
        record.state = DocumentState(merging: versions)
        var known: [Dot: (isTombstone: Bool, wall: UInt64)] = [:]
        for version in versions { known[version.dot] = (version.isTombstone, version.timestamp.wallMilliseconds) }
        try record.save(db, known: known)
    }
}
