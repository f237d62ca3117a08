public import SyncEngine
import Foundation
import GRDB

/// A bounded run of versions read for sending.
public struct VersionBatch: Sendable, Hashable {
    public var versions: [Version]
    /// Whether more versions are waiting after this batch.
    public var hasMore: Bool

    public init(versions: [Version], hasMore: Bool) {
        self.versions = versions
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
            return VersionBatch(versions: versions, hasMore: hasMore)
        }
    }

    /// Sets versions aside (the network rejected them): they stay in history with the reason, and
    /// their documents' states are rebuilt from the versions in good standing.
    public func setAside(_ reasons: [Dot: String]) throws {
        guard !reasons.isEmpty else { return }
        try write { db in try ApplyContext(db: db).setAside(reasons) }
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
