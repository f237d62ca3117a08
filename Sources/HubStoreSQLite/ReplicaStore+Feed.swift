import GRDB
import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// Reads, in one snapshot, a page of versions in good standing stored after `position` and up
    /// to `through` when given (in arrival order, filtered by `include`, bounded by `limit`
    /// versions and about `maxBytes`) and this replica's knowledge of `origins`. A position this
    /// replica did not give out (no version at its sequence, or another dot there), as `position`
    /// or as `through`, restarts the page at the beginning, without an upper bound.
    ///
    /// Only versions within `scope` are read, through the feed's scope indexes when the hub's file
    /// has them (``ensureFeedIndexes()``): a narrow reader reads its scope's rows, not the feed's.
    /// `include` decides among them. At most `maxScanned` versions are looked at: a page whose
    /// filter passes over many ends there, with ``FeedPage/hasMore`` set.
    public func feedPage(
        after position: FeedPosition, through: FeedPosition? = nil, limit: Int, maxBytes: Int,
        maxScanned: Int = .max, knowledgeOf origins: Set<ReplicaID> = [], scope: Scope = .everything,
        include: @Sendable (_ version: Version, _ receivedFrom: ReplicaID?) -> Bool = { _, _ in true }
    ) throws -> FeedPage {
        try read { db in
            var start = position
            var upper = Int64.max
            var restarted = false
            if position != .start, try !Self.holds(db, position) {
                start = .start
                restarted = true
            }
            if !restarted, let through {
                if try Self.holds(db, through) {
                    upper = through.sequence
                } else {
                    start = .start
                    restarted = true
                }
            }
            var versions: [Version] = []
            var bytes = 0
            var end = start
            var hasMore = false
            let selection = FeedSelection(scope: scope, after: start.sequence, through: upper)
            // Cached, as every statement an exchange runs: preparing one (parsing, GRDB's
            // authorizer) cost more than running it on a no-op exchange. Its text varies only with
            // the shape of the read scope, which operators set, so the cache stays small.
            let rows = try Row.fetchCursor(db.cachedStatement(sql: selection.sql), arguments: selection.arguments)
            var scanned = 0
            while let row = try rows.next() {
                if scanned >= max(1, maxScanned) {
                    hasMore = true
                    break
                }
                scanned += 1
                let stored = try Rows.storedVersion(row)
                let position = FeedPosition(
                    sequence: stored.sequence, dot: stored.version.dot, tag: (row["feed_tag"] as Int64?).map { UInt32(truncatingIfNeeded: $0) })
                guard include(stored.version, stored.receivedFrom) else {
                    end = position
                    continue
                }
                let size = (stored.version.body?.count ?? 0) + 200
                if versions.count >= max(1, limit) || (!versions.isEmpty && bytes + size > maxBytes) {
                    hasMore = true
                    break
                }
                versions.append(stored.version)
                bytes += size
                end = position
            }
            // Everything in scope up to here was read: the versions out of scope since pass too. (A
            // read of everything scanned them already: its end is the feed's last position.)
            if !hasMore, !scope.patterns.contains(.everything), let last = try Self.lastPosition(db, through: upper),
                last.sequence > end.sequence
            {
                end = last
            }
            var knowledge = VersionVector()
            let statement = try db.cachedStatement(sql: "SELECT counter FROM knowledge WHERE origin = ?")
            // The origins the page's contexts name, so that a reader holding only part of the feed
            // (a read scope) learns that the dots they claim exist here.
            for origin in origins.union(CausalPlausibility.origins(of: versions)) {
                let counter = try Int64.fetchOne(statement, arguments: [origin.hex]) ?? 0
                knowledge[origin] = UInt64(max(0, counter))
            }
            return FeedPage(versions: versions, end: end, hasMore: hasMore, restarted: restarted, knowledge: knowledge)
        }
    }

    /// The feed's last position at or below `upper` (versions in good standing only); nil when empty.
    static func lastPosition(_ db: Database, through upper: Int64) throws -> FeedPosition? {
        let row = try Row.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT seq, origin, counter, feed_tag FROM versions
                    WHERE seq <= ? AND set_aside_reason IS NULL ORDER BY seq DESC LIMIT 1
                    """),
            arguments: [upper])
        guard let row, let origin = ReplicaID(row[1] as String) else { return nil }
        let dot = Dot(replica: origin, counter: UInt64(max(0, row[2] as Int64)))
        return FeedPosition(sequence: row[0], dot: dot, tag: (row[3] as Int64?).map { UInt32(truncatingIfNeeded: $0) })
    }

    /// Creates the feed's scope indexes when missing (a hub's file; a field replica never reads
    /// its feed by scope): by collection and partition, and by collection, each in feed order.
    public func ensureFeedIndexes() throws {
        try write { db in
            try db.execute(sql: """
                CREATE INDEX IF NOT EXISTS versions_feed_by_partition
                    ON versions (collection, partition, seq) WHERE set_aside_reason IS NULL;
                CREATE INDEX IF NOT EXISTS versions_feed_by_collection
                    ON versions (collection, seq) WHERE set_aside_reason IS NULL;
                """)
        }
    }

    /// Whether `position` is one of this replica's: the start, or the row at its sequence holds
    /// the dot it names (if it names one) with the tag it names (a position without a tag
    /// predates tags; one without a dot names its row by the tag alone).
    static func holds(_ db: Database, _ position: FeedPosition) throws -> Bool {
        if position == .start { return true }
        guard position.sequence > 0, position.dot != nil || position.tag != nil,
            let row = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT origin, counter, feed_tag FROM versions WHERE seq = ?"), arguments: [position.sequence])
        else { return false }
        if let dot = position.dot, (row[0] as String) != dot.replica.hex || (row[1] as Int64) != Int64(clamping: dot.counter) {
            return false
        }
        guard let tag = position.tag else { return true }
        return (row[2] as Int64?).map { UInt32(truncatingIfNeeded: $0) } == tag
    }
}
