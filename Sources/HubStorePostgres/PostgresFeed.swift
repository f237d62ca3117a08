import Foundation
public import HubStore
public import Logging
public import PostgresNIO
public import SyncEngine

/// The hub's changes feed on PostgreSQL: versions stored in arrival order, paged by position
/// within a read scope, with the knowledge the pages claim. Several hub processes may append to
/// and read one database at once.
///
/// **Commit order.** A reader's position must never pass a version whose transaction commits
/// later: with a plain sequence, a transaction that drew position 5 can commit after one that
/// drew 6 was read, and a reader past 6 never sees 5. The statement that draws a transaction's
/// positions therefore first takes a transaction-scoped advisory lock of the feed
/// (`pg_advisory_xact_lock`), held until the transaction commits: positions are handed out in
/// commit order, and every snapshot sees a prefix of the feed. That lock does nothing else: a
/// push decides, merges, quarantines and audits under narrower guards (``PostgresGuards``: its
/// origins, its documents, the merge writer) and takes the feed's lock only in its last
/// statement, which stores what it decided, so appends wait for one another only from drawing
/// positions to commit. Reads never wait for it. Docs/HubPostgres.md weighs the alternatives.
public struct PostgresFeed: Sendable {
    /// How appends draw their positions. Only ``serialized`` keeps commit order; the other exists
    /// so that a test shows the feed's proof can fail.
    package enum CommitOrder: Sendable, Hashable {
        /// Under the feed's advisory lock, held until commit.
        case serialized
        /// From the sequence alone, as concurrent transactions reach it (loses commit order); the
        /// other guards (``PostgresGuards``) are still taken.
        case plainSequence
    }

    public let client: PostgresClient
    let schema: PostgresSchemaName
    let logger: Logger
    let commitOrder: CommitOrder
    /// Runs inside every append's transaction after its positions are drawn, before it commits
    /// (tests: a delay that lets concurrent appends interleave).
    let beforeCommit: @Sendable () async throws -> Void
    /// How the statements of a page reach the server (``PostgresStatementMode``).
    var statementMode = PostgresStatementMode()
    private var statements: PostgresStatements {
        PostgresStatements(schema: schema, mode: statementMode, logger: logger)
    }

    /// A feed in `schema` of the database `client` reaches; ``migrate()`` creates its tables.
    public init(client: PostgresClient, schema: String = "public", logger: Logger) throws {
        try self.init(client: client, schema: schema, logger: logger, commitOrder: .serialized, beforeCommit: {})
    }

    package init(
        client: PostgresClient, schema: String, logger: Logger, commitOrder: CommitOrder,
        beforeCommit: @escaping @Sendable () async throws -> Void
    ) throws {
        self.client = client
        self.schema = try PostgresSchemaName(schema)
        self.logger = logger
        self.commitOrder = commitOrder
        self.beforeCommit = beforeCommit
    }

    /// Applies the schema's missing migrations (``PostgresMigrations``).
    public func migrate() async throws {
        try await PostgresMigrations.migrate(client, schema: schema.name, logger: logger)
    }

    // MARK: Appending

    /// Stores, in one transaction, the versions of `versions` this feed does not hold yet (in the
    /// order given) and raises the knowledge of their origins as far as it is contiguous.
    ///
    /// A version already held with the same signature is counted in
    /// ``ApplyReport/alreadyHeld``; one whose dot is held with another signature is a fork: it is
    /// listed in ``ApplyReport/forks`` and not stored, and the later versions of its origin in the
    /// batch are listed in ``ApplyReport/refused``. The caller checks signatures, scopes and
    /// plausibility before: this stores.
    public func append(_ versions: [Version], receivedFrom: ReplicaID?) async throws -> ApplyReport {
        try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .readWrite, logger: logger) { connection in
                // Its origins' guards, then the feed's lock (the global order, ``PostgresGuards``):
                // the dots it decides and the knowledge it raises are its origins' alone.
                try await PostgresGuards.take(
                    PostgresGuards.keys(.origin, Set(versions.map(\.dot.replica.hex)), schema: schema.name)
                        + PostgresGuards.keys(.document, Set(versions.map { PostgresGuards.name(of: $0.key) }), schema: schema.name),
                    on: connection, logger: logger)
                try await lockForAppend(on: connection)
                var report = ApplyReport()
                var forked: Set<ReplicaID> = []
                var touched: Set<ReplicaID> = []
                var stored: [Version] = []
                for version in versions {
                    if forked.contains(version.dot.replica) {
                        report.refused.append(version.dot)
                        continue
                    }
                    switch try await insert(version, receivedFrom: receivedFrom, on: connection) {
                    case .stored:
                        report.stored += 1
                        touched.insert(version.dot.replica)
                        stored.append(version)
                    case .held:
                        report.alreadyHeld += 1
                    case .heldWithAnotherSignature:
                        report.forks.append(version.dot)
                        forked.insert(version.dot.replica)
                    }
                }
                for origin in touched.sorted() {
                    try await raiseKnowledge(of: origin, on: connection)
                }
                // The states of the documents it stored a version of, from the versions held now.
                try await PostgresDocumentStates.recompute(
                    Set(stored.map(\.key)), schema: schema, mode: statementMode, on: connection, logger: logger)
                try await beforeCommit()
                if report.stored > 0 || !report.forks.isEmpty {
                    logger.debug(
                        "feed append",
                        metadata: [
                            "feed.stored": "\(report.stored)", "feed.held": "\(report.alreadyHeld)",
                            "feed.forks": "\(report.forks.count)",
                        ])
                }
                return report
            }
        }
    }

    /// Takes the feed's append lock in the transaction on `connection` (``CommitOrder/serialized``):
    /// before any position is drawn, and held until commit or rollback.
    func lockForAppend(on connection: PostgresConnection) async throws {
        guard commitOrder == .serialized else { return }
        try await connection.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(\(PostgresGuards.feedKey(schema: schema.name)), 0))",
            logger: logger)
    }

    /// The part of a statement that takes the feed's append lock before the statement draws any
    /// position (``CommitOrder/serialized``; nil under ``CommitOrder/plainSequence``): a
    /// materialized `feed_lock` to name in `WITH`, which an `EXISTS (SELECT 1 FROM feed_lock)` in
    /// the insert's `WHERE` turns into a one-time filter, evaluated before its first row, and so
    /// before the first position is drawn (the statement's snapshot may predate the lock: what it
    /// reads is guarded by its origins' locks, not by the feed's).
    func appendLockPart(_ builder: inout PostgresQueryBuilder) -> String? {
        guard commitOrder == .serialized else { return nil }
        let key = builder.bind(PostgresGuards.feedKey(schema: schema.name))
        return "feed_lock AS MATERIALIZED (SELECT pg_advisory_xact_lock(hashtextextended(\(key), 0)))"
    }

    enum InsertOutcome { case stored, held, heldWithAnotherSignature }

    func insert(_ version: Version, receivedFrom: ReplicaID?, on connection: PostgresConnection) async throws
        -> InsertOutcome
    {
        let origin = version.dot.replica.hex
        let counter = Int64(clamping: version.dot.counter)
        var builder = PostgresQueryBuilder()
        let values = PostgresVersionRow.bind(version, into: &builder) + [
            receivedFrom.map { builder.bind($0.hex) } ?? "NULL::text", PostgresVersionRow.bindNewTag(into: &builder),
        ]
        builder.sql = """
            INSERT INTO \(schema.name).versions (\(PostgresVersionRow.insertedColumns), received_from, feed_tag)
            VALUES (\(values.joined(separator: ", ")))
            ON CONFLICT (origin, counter) DO NOTHING
            RETURNING seq
            """
        let inserted = try await connection.query(builder.query, logger: logger).collect()
        if !inserted.isEmpty { return .stored }
        let rows = try await connection.query(
            "SELECT signature FROM \(unescaped: schema.name).versions WHERE origin = \(origin) AND counter = \(counter)",
            logger: logger)
        var held: Data?
        for try await signature in rows.decode(Data.self) { held = signature }
        if let held { return held == version.signature ? .held : .heldWithAnotherSignature }
        // Not inserted and not found: only a concurrent delete could do that, and the feed has none.
        throw PostgresStoreError(
            .malformedRow, "A version's dot was neither stored nor found in \(schema.name).versions.")
    }

    /// Raises `origin`'s knowledge over the counters held contiguously above it.
    func raiseKnowledge(of origin: ReplicaID, on connection: PostgresConnection) async throws {
        var known: Int64 = 0
        let current = try await connection.query(
            "SELECT counter FROM \(unescaped: schema.name).knowledge WHERE origin = \(origin.hex)", logger: logger)
        for try await counter in current.decode(Int64.self) { known = counter }
        let start = known
        let chunk: Int64 = 512
        while true {
            let rows = try await connection.query(
                """
                SELECT counter FROM \(unescaped: schema.name).versions
                WHERE origin = \(origin.hex) AND counter > \(known) ORDER BY counter LIMIT \(chunk)
                """, logger: logger)
            var read: Int64 = 0
            var gap = false
            for try await counter in rows.decode(Int64.self) {
                read += 1
                if !gap, counter == known + 1 { known = counter } else { gap = true }
            }
            if gap || read < chunk { break }
        }
        guard known > start else { return }
        try await connection.execute(
            """
            INSERT INTO \(unescaped: schema.name).knowledge (origin, counter) VALUES (\(origin.hex), \(known))
            ON CONFLICT (origin) DO UPDATE SET counter = GREATEST(knowledge.counter, EXCLUDED.counter)
            """, logger: logger)
    }

    // MARK: Reading

    /// Reads, in one snapshot (repeatable read, read only), a page of the versions in good
    /// standing stored after `position` within `scope` (in feed order, at most `limit` versions and
    /// about `maxBytes`, at least one when any is waiting) and this feed's knowledge of
    /// `knowledgeOf` and of every origin the page's versions and their contexts name: the page of
    /// ``page(_:)`` for a reader that gets everything in `scope`.
    public func page(
        after position: FeedPosition, limit: Int, maxBytes: Int, scope: Scope = .everything,
        knowledgeOf origins: Set<ReplicaID> = []
    ) async throws -> FeedPage {
        try await page(
            PageQuery(
                after: position, limit: limit, maxBytes: maxBytes, knowledgeOf: origins,
                filter: FeedFilter(readScope: scope, reader: nil)))
    }

    /// Reads one page of `query` in one snapshot (repeatable read, read only): the versions in
    /// good standing after `query.after` (and at most to `query.through`) within its filter's read
    /// scope, in feed order, those the filter includes, at most `limit` versions and about
    /// `maxBytes` (at least one when any is waiting), at most `maxScanned` looked at; and this
    /// feed's knowledge of `knowledgeOf` and of every origin the page's versions and their
    /// contexts name.
    ///
    /// A position this feed did not give out (no version at its sequence, another dot there, or
    /// another tag), as `after` or as `through`, restarts the page at the beginning
    /// (``FeedPage/restarted``). When every version in scope was read, the page ends at the feed's
    /// last position, so the next page starts past the versions out of scope too.
    public func page(_ query: PageQuery) async throws -> FeedPage {
        try await client.withConnection { connection in
            var startHeld = false
            if query.through == nil {
                let check = try await pageWithNothingNew(query, on: connection)
                if let page = check.page { return page }
                startHeld = check.startHeld
            }
            return try await PostgresTransaction.run(on: connection, mode: .snapshotReadOnly, logger: logger) { connection in
                let (start, upper, restarted) = try await bounds(of: query, startHeld: startHeld, on: connection)
                var page = try await scan(query, after: start, through: upper, on: connection)
                // Everything in scope up to here was read: the versions out of scope since pass too.
                if !page.hasMore, !query.filter.readScope.patterns.contains(.everything),
                    let last = try await lastPosition(through: upper, on: connection), last.sequence > page.end.sequence
                {
                    page.end = last
                }
                let held = try await knowledge(
                    of: query.knowledgeOf.union(CausalPlausibility.origins(of: page.versions)), on: connection)
                return FeedPage(
                    versions: page.versions, end: page.end, hasMore: page.hasMore, restarted: restarted, knowledge: held)
            }
        }
    }

    /// The page of `query` when the feed holds nothing in good standing after its start (the
    /// exchange of a device with nothing new, most of a hub's exchanges): its start, its knowledge,
    /// nothing more, read in one statement (one snapshot) instead of a transaction of five round
    /// trips. No page when something follows the start or the start is not one this feed gave
    /// out: the whole page is read then, told whether the start was seen held (a version's row is
    /// never removed nor its dot moved, so a start held now is held in the page's snapshot too).
    private func pageWithNothingNew(
        _ query: PageQuery, on connection: PostgresConnection
    ) async throws -> (page: FeedPage?, startHeld: Bool) {
        let statement = NothingNewStatement(origins: query.knowledgeOf.map(\.hex), after: query.after.sequence)
        var knowledge = VersionVector()
        var start: (origin: String, counter: Int64, tag: Int64)?
        var last: Int64 = 0
        for (kind, origin, counter, tag) in try await statements.rows(statement, on: connection) {
            switch (kind, origin, counter, tag) {
            case ("k", let origin?, let counter?, _):
                guard let replica = ReplicaID(origin) else {
                    throw PostgresStoreError(.malformedRow, "A knowledge row in \(schema.name).knowledge names no replica id.")
                }
                knowledge[replica] = UInt64(max(0, counter))
            case ("p", let origin?, let counter?, let tag?): start = (origin, counter, tag)
            case ("l", _, let counter?, _): last = counter
            default: break
            }
        }
        let startHeld =
            query.after != .start
            && start.map { Self.names(query.after, origin: $0.origin, counter: $0.counter, tag: $0.tag) } == true
        guard last <= query.after.sequence, query.after == .start || startHeld else { return (nil, startHeld) }
        return (FeedPage(versions: [], end: query.after, hasMore: false, restarted: false, knowledge: knowledge), startHeld)
    }

    /// Whether `position` names the version of `origin` and `counter` with `tag` (a position
    /// without a tag predates tags; one without a dot names its row by the tag alone).
    static func names(_ position: FeedPosition, origin: String, counter: Int64, tag: Int64) -> Bool {
        if let dot = position.dot {
            guard origin == dot.replica.hex && counter == Int64(clamping: dot.counter) else { return false }
        } else if position.tag == nil {
            return false
        }
        return position.tag.map { $0 == UInt32(truncatingIfNeeded: tag) } ?? true
    }

    /// Where `query`'s page starts and the sequence it ends at the latest: its `after` and
    /// `through` when this feed gave them out; the beginning, unbounded, when either is foreign.
    /// `startHeld`: `after` was seen held already (not read again).
    private func bounds(of query: PageQuery, startHeld: Bool, on connection: PostgresConnection) async throws
        -> (start: FeedPosition, upper: Int64, restarted: Bool)
    {
        if query.after != .start, !startHeld, try await !holds(query.after, on: connection) {
            return (.start, .max, true)
        }
        guard let through = query.through else { return (query.after, .max, false) }
        guard try await holds(through, on: connection) else { return (.start, .max, true) }
        return (query.after, through.sequence, false)
    }

    /// Reads `query`'s versions after `start` (at most to `upper`) in scope, in batches (one row
    /// beyond the page tells whether more wait; the filter may pass over many, so a batch may be
    /// followed by another), until the page is full or the scope read.
    private func scan(
        _ query: PageQuery, after start: FeedPosition, through upper: Int64, on connection: PostgresConnection
    ) async throws -> PageCollector {
        let scope = query.filter.readScope
        var page = PageCollector(
            end: start, limit: max(1, query.limit), maxBytes: query.maxBytes, maxScanned: max(1, query.maxScanned))
        // The partitions of the scope's prefixes, read once in the page's snapshot.
        let partitions = try await PostgresFeedSelection.partitions(
            of: scope, schema: schema, on: connection, logger: logger)
        if PostgresFeedSelection.walks(of: scope, partitions: partitions) > 1 {
            try await PostgresFeedSelection.keepWalksOrdered(on: connection, logger: logger)
        }
        var after = start.sequence
        while true {
            let batch = page.nextBatch
            let selection = PostgresFeedSelection(
                schema: schema, scope: scope, after: after, through: upper, limit: batch, partitions: partitions)
            guard let sql = selection.query else { return page }
            let rows = try await connection.query(sql, logger: logger).collect()
            let decoded = try rows.map(PostgresVersionRow.decodeDelivered)
            for (version, position, sender) in decoded {
                let included = query.filter.includes(version, receivedFrom: sender)
                guard page.take(version, at: position, included: included) else { return page }
            }
            guard decoded.count >= batch, let last = decoded.last else { return page }
            after = last.1.sequence
        }
    }

    /// This feed's knowledge of `origins` (absent entries are 0), read on `connection`.
    func knowledge(of origins: Set<ReplicaID>, on connection: PostgresConnection) async throws -> VersionVector {
        var knowledge = VersionVector()
        guard !origins.isEmpty else { return knowledge }
        let statement = KnowledgeStatement(origins: origins.map(\.hex))
        for (text, counter) in try await statements.rows(statement, on: connection) {
            guard let origin = ReplicaID(text) else {
                throw PostgresStoreError(
                    .malformedRow, "A knowledge row in \(schema.name).knowledge names no replica id.")
            }
            knowledge[origin] = UInt64(max(0, counter))
        }
        return knowledge
    }

    /// Whether `position` is one this feed gave out: the dot it names is stored at its sequence,
    /// with the tag it names (a position without a tag predates tags).
    func holds(_ position: FeedPosition, on connection: PostgresConnection) async throws -> Bool {
        guard position.sequence > 0, position.dot != nil || position.tag != nil else { return false }
        var held = false
        let rows = try await statements.rows(VersionAtStatement(sequence: position.sequence), on: connection)
        for (origin, counter, tag) in rows {
            held = Self.names(position, origin: origin, counter: counter, tag: tag)
        }
        return held
    }

    /// The feed's last position at or below `upper` (versions in good standing only); nil when empty.
    /// A walk back along the primary key from `upper`, the standing test outside an `OFFSET 0`
    /// fence: beside `seq <= upper` it let PostgreSQL, on statistics older than most rows, pick
    /// the partial index `versions_feed_by_partition_only` and sort every version in good standing
    /// to keep one (1,820 rows read at 1,820 versions in `vigil-bench --only hub-load-postgres`).
    private func lastPosition(through upper: Int64, on connection: PostgresConnection) async throws -> FeedPosition? {
        var last: FeedPosition?
        let rows = try await statements.rows(LastPositionStatement(upper: upper), on: connection)
        for (seq, text, counter, tag) in rows {
            guard let origin = ReplicaID(text) else {
                throw PostgresStoreError(.malformedRow, "A version row in \(schema.name).versions names no replica id.")
            }
            last = FeedPosition(
                sequence: seq, dot: Dot(replica: origin, counter: UInt64(max(0, counter))),
                tag: UInt32(truncatingIfNeeded: tag))
        }
        return last
    }
}

/// One page as the scan fills it, version by version: no I/O.
struct PageCollector {
    private(set) var versions: [Version] = []
    /// Where the page ends: the last position read, included or passed over.
    var end: FeedPosition
    /// Whether versions wait beyond the page.
    private(set) var hasMore = false
    let limit: Int
    let maxBytes: Int
    let maxScanned: Int
    private var bytes = 0
    private var scanned = 0

    init(end: FeedPosition, limit: Int, maxBytes: Int, maxScanned: Int) {
        self.end = end
        self.limit = limit
        self.maxBytes = maxBytes
        self.maxScanned = maxScanned
    }

    /// How many rows the next batch asks for: what may still be looked at, at most 511, and one
    /// more to tell whether more wait.
    var nextBatch: Int { min(min(limit, 511), maxScanned - scanned) + 1 }

    /// Takes the next row the scan read, in the page when `included`, else passed over; false
    /// when the page is full (``hasMore``).
    mutating func take(_ version: Version, at position: FeedPosition, included: Bool) -> Bool {
        guard scanned < maxScanned else { return full() }
        scanned += 1
        guard included else {
            end = position
            return true
        }
        // About the encoded size: the body and its dot, context, clock and signature.
        let size = (version.body?.count ?? 0) + 200
        if versions.count >= limit || (!versions.isEmpty && bytes + size > maxBytes) { return full() }
        versions.append(version)
        bytes += size
        end = position
        return true
    }

    private mutating func full() -> Bool {
        hasMore = true
        return false
    }
}

/// The guards the hub's writers take besides the feed's lock, each a transaction-scoped advisory
/// lock held until commit, and the one order every transaction takes its locks in, so that no two
/// ever wait for each other (Docs/HubPostgres.md, "Lock order"):
///
/// 1. row locks of the administration (a device's, a code's, a manifest's): a push takes none;
/// 2. **origins**: `vigil.origins:<schema>` shared, then `vigil.origin:<schema>:<id>` of each
///    origin exclusively, in sorted order. A push takes those of its versions' origins, its forged
///    versions' and its pusher; an append those of its versions; a revocation those of the revoked
///    device's ids. So the dots of one origin are decided by one transaction at a time, its
///    knowledge raised by one, and a push reads every revocation of its origins committed before it;
/// 3. **documents**: `vigil.documents:<schema>` shared, then `vigil.document:<schema>:<collection>/<id>`
///    of each document a push or an append names, in sorted order, before it reads their
///    partitions and heads: pushes to one document are merged (and checked for a partition move)
///    one after the other, and each writes the document's state (``PostgresDocumentStates``) from
///    what the one before committed;
/// 4. **the merge writer**: `vigil.merge-writer:<schema>:<id>`, before a merge draws a counter of
///    the process's writer id;
/// 5. the audit chain's head row (`audit_head`, `FOR UPDATE`, ``PostgresAuditLog``);
/// 6. **the feed**: `vigil.feed:<schema>`, by the statement that draws positions, to commit.
///
/// A transaction naming more than ``perKindLimit`` origins (or documents) takes that kind's
/// umbrella (`vigil.origins:`, `vigil.documents:`) exclusively instead of one lock each: it waits
/// for every other holder of that kind and they for it, and PostgreSQL's shared lock table (64
/// locks per connection by default) is never filled by one large push.
enum PostgresGuards {
    enum Kind: String, Sendable {
        case origin
        case document
    }

    /// How many locks of one kind a transaction takes at most before it takes the umbrella instead.
    static let perKindLimit = 32

    /// The feed's append lock's name, hashed as every guard's (``PostgresFeed/lockForAppend(on:)``).
    static func feedKey(schema: String) -> String { "vigil.feed:" + schema }

    /// The merge writer `id`'s lock's name (``PostgresMergeWriter``).
    static func mergeWriterKey(_ id: String, schema: String) -> String { "vigil.merge-writer:\(schema):\(id)" }

    /// The locks that guard `names` of `kind` (origins as hex ids, documents as `collection/id`),
    /// in the order to take them: the umbrella shared then each name in sorted order, or the
    /// umbrella alone, exclusive, beyond ``perKindLimit``; none for no names.
    static func keys(_ kind: Kind, _ names: Set<String>, schema: String) -> [(key: String, shared: Bool)] {
        guard !names.isEmpty else { return [] }
        let umbrella = umbrella(kind, schema: schema)
        guard names.count <= perKindLimit else { return [(umbrella, false)] }
        return [(umbrella, true)] + names.sorted().map { ("vigil.\(kind.rawValue):\(schema):\($0)", false) }
    }

    /// The lock over every guard of `kind` (taken shared with each of them, exclusively alone).
    static func umbrella(_ kind: Kind, schema: String) -> String { "vigil.\(kind.rawValue)s:\(schema)" }

    /// A document's name among the guards.
    static func name(of key: DocumentKey) -> String { "\(key.collection.rawValue)/\(key.id.rawValue)" }

    /// Takes `keys` in their order (shared where said), in one statement: its rows are the
    /// function scan's, in array order, each lock taken as its row is produced.
    static func take(
        _ keys: [(key: String, shared: Bool)], on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !keys.isEmpty else { return }
        try await connection.execute(
            """
            SELECT CASE WHEN t.shared THEN pg_advisory_xact_lock_shared(hashtextextended(t.key, 0))
                ELSE pg_advisory_xact_lock(hashtextextended(t.key, 0)) END
            FROM unnest(\(keys.map(\.key))::text[], \(keys.map(\.shared))::bool[]) AS t(key, shared)
            """, logger: logger)
    }
}
