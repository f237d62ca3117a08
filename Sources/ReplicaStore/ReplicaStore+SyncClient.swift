public import SyncEngine
import GRDB

extension ApplyContext {
    /// Raises this replica's counter to at least `counter` in the apply transaction, so that a
    /// replica restored from an old backup never reuses a dot the network already holds, not even
    /// if another process writes while the exchange runs.
    public func raiseCounter(toAtLeast counter: UInt64) throws {
        try db.execute(
            sql: "UPDATE replica SET counter = max(counter, ?)", arguments: [Int64(min(counter, Dot.maxCounter))])
    }

    /// Sets versions aside in the apply transaction (the hub rejected them): they stay in history
    /// with the reason, and their documents' states are rebuilt from the versions in good standing.
    /// Dots this replica does not hold are ignored.
    public func setAside(_ reasons: [Dot: SetAsideReason]) throws {
        guard !reasons.isEmpty else { return }
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
        try rebuild(keys)
    }
}

extension ApplyContext {
    /// Rebuilds the states of `keys` after their set-aside versions changed.
    private func rebuild(_ keys: Set<DocumentKey>) throws {
        for key in keys {
            try SetAside.reconsiderPartitionMoves(db, key)
            try ReplicaStore.rebuildState(db, key)
        }
    }

    /// Takes back into their documents' states the versions among `dots` set aside because the
    /// hub rejected them, now that it holds them in good standing (it was restored from a backup,
    /// or the device's grants widened).
    public func readmit(_ dots: [Dot]) throws {
        guard !dots.isEmpty else { return }
        var keys = Set<DocumentKey>()
        let lookup = try db.cachedStatement(
            sql: "SELECT collection, document_id FROM versions WHERE origin = ? AND counter = ? AND set_aside_code = ?")
        for dot in dots {
            let arguments: StatementArguments = [dot.replica.hex, Int64(dot.counter), SetAsideReason.Code.rejectedByHub.rawValue]
            guard let row = try Row.fetchOne(lookup, arguments: arguments),
                let collection = CollectionName(row[0] as String), let id = DocumentID(row[1] as String)
            else { continue }
            try db.execute(
                sql: "UPDATE versions SET set_aside_reason = NULL, set_aside_code = NULL WHERE origin = ? AND counter = ?",
                arguments: [dot.replica.hex, Int64(dot.counter)])
            keys.insert(DocumentKey(collection: collection, id: id))
        }
        try rebuild(keys)
    }
}

extension SetAside {
    /// Undoes partition moves of `key` whose reason went away: a version set aside because a
    /// same-id document of another partition arrived first comes back once the versions in good
    /// standing are all of its partition, or none are left (then the earliest received move's
    /// partition wins). The document's row goes when its partition changes; the caller rebuilds it.
    static func reconsiderPartitionMoves(_ db: Database, _ key: DocumentKey) throws {
        let arguments: StatementArguments = [key.collection.rawValue, key.id.rawValue, SetAsideReason.Code.partitionMove.rawValue]
        guard
            let earliest = try String.fetchOne(
                db,
                sql: """
                    SELECT partition FROM versions WHERE collection = ? AND document_id = ? AND set_aside_code = ?
                    ORDER BY seq LIMIT 1
                    """,
                arguments: arguments)
        else { return }
        let standing = try String.fetchAll(
            db,
            sql: "SELECT DISTINCT partition FROM versions WHERE collection = ? AND document_id = ? AND set_aside_reason IS NULL",
            arguments: [key.collection.rawValue, key.id.rawValue])
        guard standing.count <= 1 else { return }
        let partition = standing.first ?? earliest
        try db.execute(
            sql: """
                UPDATE versions SET set_aside_reason = NULL, set_aside_code = NULL
                WHERE collection = ? AND document_id = ? AND set_aside_code = ? AND partition = ?
                """,
            arguments: arguments + [partition])
        try db.execute(
            sql: "DELETE FROM documents WHERE collection = ? AND document_id = ? AND partition <> ?",
            arguments: [key.collection.rawValue, key.id.rawValue, partition])
    }
}

/// What an exchange needs to know of the replica before it builds a request, read in one snapshot.
public struct ExchangeBase: Sendable, Hashable {
    /// What is kept of the peer.
    public var peer: PeerState
    /// The replica's last used counter.
    public var counter: UInt64
    /// The highest counter of this replica's own versions that it holds; below ``counter`` only
    /// while a replica restored from a backup is recovering its later versions from the hub.
    public var heldCounter: UInt64
    /// The replica's id as its identity row holds it (it changes when the replica takes a new
    /// incarnation); nil in a base built by hand.
    public var replica: ReplicaID?

    public init(peer: PeerState, counter: UInt64, heldCounter: UInt64, replica: ReplicaID? = nil) {
        self.peer = peer
        self.counter = counter
        self.heldCounter = heldCounter
        self.replica = replica
    }
}

extension ReplicaStore {
    /// The peer state, the counter and the highest own version held, in one snapshot.
    public func exchangeBase(peer: String) throws -> ExchangeBase {
        try read { db in
            let replicaID = try Self.currentReplicaID(db)
            let counter = try Int64.fetchOne(db, sql: "SELECT counter FROM replica") ?? 0
            return ExchangeBase(
                peer: try PeerRow.load(db, peer), counter: UInt64(max(0, counter)),
                heldCounter: try Self.contiguousOwnCounter(db, replicaID), replica: replicaID)
        }
    }

    /// The top of the unbroken run of this replica's own versions from counter 1: what it holds of
    /// its own without a hole. A replica restored from a backup that writes before it has recovered
    /// all its later versions holds a hole below its newest version; the hub must go on sending
    /// what fills it, so the exchange names this counter, not the highest one held.
    static func contiguousOwnCounter(_ db: Database, _ replica: ReplicaID) throws -> UInt64 {
        let row = try Row.fetchOne(
            db, sql: "SELECT count(*), max(counter) FROM versions WHERE origin = ?", arguments: [replica.hex])
        let count: Int64 = row?[0] ?? 0
        let highest: Int64 = row?[1] ?? 0
        if count == highest { return UInt64(max(0, highest)) }
        let hasFirst = try Bool.fetchOne(
            db, sql: "SELECT EXISTS (SELECT 1 FROM versions WHERE origin = ? AND counter = 1)", arguments: [replica.hex])
        guard hasFirst == true else { return 0 }
        let top = try Int64.fetchOne(
            db,
            sql: """
                SELECT min(counter) FROM versions AS v WHERE origin = ?1
                AND NOT EXISTS (SELECT 1 FROM versions WHERE origin = ?1 AND counter = v.counter + 1)
                """,
            arguments: [replica.hex]) ?? 0
        return UInt64(max(0, top))
    }

    /// How many versions in good standing a peer knowing `knowledge` lacks: what waits to be pushed.
    public func countVersions(missingFrom knowledge: VersionVector) throws -> Int {
        try backlog(missingFrom: knowledge).versions
    }

    /// The versions `knowledge` lacks, and about how many bytes their bodies hold (as stored: a
    /// sealed body counts its 31 bytes of envelope).
    public func backlog(missingFrom knowledge: VersionVector) throws -> (versions: Int, bodyBytes: Int) {
        try read { db in
            let origins = try String.fetchAll(db, sql: "SELECT origin FROM knowledge").compactMap { ReplicaID($0) }
            let statement = try db.cachedStatement(sql: """
                SELECT count(*), coalesce(sum(length(body)), 0) FROM versions
                WHERE origin = ? AND counter > ? AND set_aside_reason IS NULL
                """)
            var total = (versions: 0, bodyBytes: 0)
            for origin in origins {
                guard let row = try Row.fetchOne(statement, arguments: [origin.hex, Int64(knowledge[origin])]) else { continue }
                total.versions += row[0] as Int
                total.bodyBytes += row[1] as Int
            }
            return total
        }
    }

    /// Versions set aside (the network rejected them), most recently received first, with why;
    /// own versions of forgotten documents (``outsideReadScope``) are not rejections and are left out.
    public func setAsideVersions(limit: Int = 100) throws -> [StoredVersion] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT \(Rows.storedVersionColumns) FROM versions
                    WHERE set_aside_reason IS NOT NULL AND set_aside_code <> ? ORDER BY seq DESC LIMIT ?
                    """,
                arguments: [SetAsideReason.Code.outsideReadScope.rawValue, limit]
            ).map(Rows.storedVersion)
        }
    }
}

extension ReplicaStore {
    /// What an exchange pushes to a peer knowing `knowledge`: ``versions(missingFrom:limit:maxBytes:)``
    /// and, in their places in counter order, this replica's own versions that are set aside
    /// (rejected by the network, or of documents it forgot) but missing at the peer. A hub holds
    /// them once it has answered (quarantined or not), so they go again only to a hub restored from
    /// a backup, whose counters would otherwise keep a gap this replica alone can fill. Versions
    /// held aside as implausible are not sent.
    public func pushVersions(missingFrom knowledge: VersionVector, limit: Int, maxBytes: Int) throws -> VersionBatch {
        try read { db in
            try Self.missingVersions(
                db, from: knowledge, limit: limit, maxBytes: maxBytes, ownSetAsideToo: try Self.currentReplicaID(db))
        }
    }
}
