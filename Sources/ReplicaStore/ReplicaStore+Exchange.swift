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
    /// entry for their origin), each origin's in counter order, causally closed where possible
    /// (see ``PushSelection``), bounded by `limit` versions and about `maxBytes` of bodies (at
    /// least one version is returned when any is missing).
    public func versions(
        missingFrom knowledge: VersionVector, limit: Int, maxBytes: Int
    ) throws -> VersionBatch {
        try read { db in try Self.missingVersions(db, from: knowledge, limit: limit, maxBytes: maxBytes, ownSetAsideToo: nil) }
    }

    /// The selection behind ``versions(missingFrom:limit:maxBytes:)``; with `ownSetAsideToo`, that
    /// replica's own set-aside versions are candidates too (not those held aside as implausible).
    static func missingVersions(
        _ db: Database, from knowledge: VersionVector, limit: Int, maxBytes: Int, ownSetAsideToo own: ReplicaID?
    ) throws -> VersionBatch {
        let origins = try String.fetchAll(db, sql: "SELECT origin FROM knowledge ORDER BY origin").compactMap { ReplicaID($0) }
        let statement = try db.cachedStatement(sql: """
            SELECT \(Rows.versionColumns), receipt FROM versions
            WHERE origin = ?1 AND counter > ?2 AND body_dropped = 0
                AND (set_aside_reason IS NULL OR (?1 = ?4 AND set_aside_code <> '\(SetAsideReason.Code.implausibleContext.rawValue)'))
            ORDER BY counter LIMIT ?3
            """)
        var runs: [[Version]] = []
        var fetched = 0
        var truncated = false
        for origin in origins where knowledge[origin] < Dot.maxCounter {
            // Enough to fill a push and what its first versions may depend on.
            if fetched > 2 * limit {
                truncated = true
                break
            }
            let run = try Row.fetchAll(statement, arguments: [origin.hex, Int64(knowledge[origin]), limit + 1, own?.hex])
                .map(Rows.versionWithReceipt)
            fetched += run.count
            if !run.isEmpty { runs.append(run) }
        }
        let selection = PushSelection.select(
            runs: runs, belief: knowledge, limit: limit, maxBytes: maxBytes) { ($0.body?.count ?? 0) + 200 }
        return VersionBatch(versions: selection.versions, hasMore: selection.hasMore || truncated)
    }

    /// Sets versions aside (the network rejected them): they stay in history with the reason, and
    /// their documents' states are rebuilt from the versions in good standing.
    public func setAside(_ reasons: [Dot: SetAsideReason]) throws {
        guard !reasons.isEmpty else { return }
        try write { db in try ApplyContext(db: db).setAside(reasons) }
    }

    /// Recomputes a document's state from its versions in good standing.
    static func rebuildState(_ db: Database, _ key: DocumentKey) throws {
        let rows = try Row.fetchAll(
            db,
            sql: """
                SELECT \(Rows.versionColumns), body_dropped FROM versions
                WHERE collection = ? AND document_id = ? AND set_aside_reason IS NULL
                """,
            arguments: [key.collection.rawValue, key.id.rawValue])
        let versions = try rows.map(Rows.version)
        let dropped = Set(zip(rows, versions).filter { $0.0[10] as Bool }.map(\.1.dot))
        guard let first = versions.first else {
            try db.execute(
                sql: "DELETE FROM documents WHERE collection = ? AND document_id = ?",
                arguments: [key.collection.rawValue, key.id.rawValue])
            return
        }
        var record = try DocumentRecord.load(db, key) ?? DocumentRecord(key: key, partition: first.partition)
        record.state = DocumentState(merging: versions)
        var known: [Dot: (isTombstone: Bool, wall: UInt64)] = [:]
        for version in versions {
            known[version.dot] = (version.isTombstone && !dropped.contains(version.dot), version.timestamp.wallMilliseconds)
        }
        try record.save(db, known: known)
    }
}
