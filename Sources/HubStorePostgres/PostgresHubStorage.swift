import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// The hub's push and pull on PostgreSQL: ``HubStorage`` over ``PostgresFeed``'s tables and the
/// device tables of the same schema, so that several hub processes serve one network.
///
/// A push is taken in one read-committed transaction under guards of what it touches
/// (``PostgresGuards``, in their one order): its origins' (its checks read every revocation and
/// every version of them committed before it, and two hub processes never decide the same dot
/// at once), its documents' (pushes to one document are merged one after the other) and, when it
/// merges, the merge writer's. It refuses the versions of revoked ids above their horizon, read
/// under its origins' guards: a device revoked through another hub process after this exchange
/// checked it injects nothing. Only its last statement, which stores what it decided, takes the
/// feed's lock (``PostgresFeed``: positions in commit order), so pushes of different origins to
/// different documents wait for one another only from that statement to their commit.
///
/// The conflicts a push leaves are merged field by field in its transaction, as on SQLite
/// (PostgresFieldwiseMerge.swift); what it sets aside and quarantines is audited in it, within the
/// pusher's hourly limit (``PostgresAuditLog``), as the SQLite hub audits it.
public struct PostgresHubStorage: HubStorage {
    public let feed: PostgresFeed
    let tables: PostgresDeviceTables

    public var hubID: ReplicaID { tables.hubID }
    public var hubKey: PublicDeviceKey { tables.hubKey.publicKey }
    public let receiptKey: AdmissionReceiptKey
    /// The id this storage writes the hub's merges under (PostgresFieldwiseMerge.swift).
    let mergeWriter = PostgresMergeWriter()

    /// The guards a push takes (``PostgresGuards``); all of them but in tests.
    let guards: PushGuards
    /// Runs in every push's transaction under its guards, after it decided and merged, before its
    /// last statement takes the feed's lock (tests: a pause).
    let beforeFeedLock: @Sendable () async throws -> Void

    /// The storage over the schema of `tables` (``PostgresMigrations`` creates its tables).
    public init(tables: PostgresDeviceTables) throws {
        try self.init(tables: tables, commitOrder: .serialized)
    }

    /// `commitOrder` other than ``PostgresFeed/CommitOrder/serialized`` and `guards` other than
    /// ``PushGuards/all`` only in tests (proofs that can fail); `beforeFeedLock` runs in every
    /// push's transaction before its last statement takes the feed's lock, and `beforeCommit` after
    /// it, before it commits (tests: pauses).
    package init(
        tables: PostgresDeviceTables, commitOrder: PostgresFeed.CommitOrder, guards: PushGuards = .all,
        beforeFeedLock: @escaping @Sendable () async throws -> Void = {},
        beforeCommit: @escaping @Sendable () async throws -> Void = {}
    ) throws {
        self.tables = tables
        self.guards = guards
        self.beforeFeedLock = beforeFeedLock
        var feed = try PostgresFeed(
            client: tables.client, schema: tables.schema.name, logger: tables.logger, commitOrder: commitOrder,
            beforeCommit: beforeCommit)
        feed.statementMode = tables.statementMode
        self.feed = feed
        receiptKey = AdmissionReceiptKey(signingKey: tables.hubKey.rawRepresentation)
    }

    private var schema: PostgresSchemaName { tables.schema }
    /// Where a push's set-aside and quarantined versions are audited, in its transaction.
    private var audit: PostgresAuditLog { PostgresAuditLog(tables: tables) }
    private var logger: Logger { tables.logger }

    // MARK: Taking a push

    /// Takes `push` on ``FeedLockExecutor``, so that what runs while it holds its guards and the
    /// feed's lock does not queue behind the cooperative pool's other work.
    public func take(_ push: PushPlan) async throws -> PushReport {
        try await withTaskExecutorPreference(FeedLockExecutor.shared) { try await takeInOneTransaction(push) }
    }

    /// The push's transaction, its locks in the global order (``PostgresGuards``): its origins'
    /// and its documents' guards in one statement; what decides it, read in one; its decisions,
    /// merges (the merge writer's guard when it draws a counter), quarantine and audit (the audit
    /// chain's head) and the states of the documents it stores (``PostgresDocumentStates``); then
    /// one statement per 500 rows storing its versions and the merges, which takes the feed's lock
    /// before it draws their positions; the commit.
    private func takeInOneTransaction(_ push: PushPlan) async throws -> PushReport {
        let now = tables.now
        let statements = PostgresPushStatements(schema: schema, mode: tables.statementMode, logger: logger)
        return try await tables.transaction { connection in
            // Before the lock work of issue 12, the feed's lock was taken here, over the whole push.
            if guards.feedLockOverWholePush { try await feed.lockForAppend(on: connection) }
            try await PostgresGuards.take(guardKeys(of: push), on: connection, logger: logger)
            var admission = try await admission(of: push, reading: statements, on: connection)
            var stored: [PostgresPushStatements.Row] = []
            for version in push.versions {
                guard case .store(let reason) = admission.decide(version) else { continue }
                admission.stored(version, setAside: reason)
                stored.append((version, reason, push.pusher))
            }
            let unanswered = admission.unanswered(among: push.versions)
            let heldAside = unanswered.isEmpty ? [:] : try await setAsideReasons(of: unanswered, on: connection)
            let (merges, read) = try await mergeFieldwise(
                push.versions, storing: stored, report: admission.report, on: connection)
            // After the merges: the quarantine's limit reads the audit chain's head, which comes
            // after the merge writer's guard in the lock order (before, a push with a forged
            // version took the head, then the writer's guard: a deadlock with a merging push).
            try await quarantine(push.forged, pushedBy: push.pusher, at: now, on: connection)
            try await quarantine(admission.implausible(among: push.versions), pushedBy: push.pusher, at: now, on: connection)
            try await audit.auditSetAside(
                admission.report.setAside, of: push.versions, pushedBy: push.pusher, on: connection)
            try await keepDocumentStates(storing: stored, merges: merges, read: read, on: connection)
            try await beforeFeedLock()
            try await statements.store(
                stored + merges.map { ($0, nil, nil) }, touched: admission.touched.union(merges.map(\.dot.replica)),
                feed: feed, on: connection)
            for merge in merges { mergeWriter.wrote(merge.dot) }
            try await feed.beforeCommit()
            return PushReport(applied: admission.report, merged: merges.count, heldAside: heldAside)
        }
    }

    /// The origin and document guards of `push`, in the order to take them: the origins of its
    /// versions and forged versions and its pusher (whose quarantine limit it counts), then the
    /// documents of its versions.
    private func guardKeys(of push: PushPlan) -> [(key: String, shared: Bool)] {
        var origins = Set(push.versions.map(\.dot.replica.hex))
        origins.formUnion(push.forged.map(\.version.dot.replica.hex))
        origins.insert(push.pusher.hex)
        let documents = Set(push.versions.map { PostgresGuards.name(of: $0.key) })
        return (guards.origins ? PostgresGuards.keys(.origin, origins, schema: schema.name) : [])
            + (guards.documents ? PostgresGuards.keys(.document, documents, schema: schema.name) : [])
    }

    /// The decisions of `push` over what the hub holds, read in one statement under its origins'
    /// guards (which a revocation also takes while it records its horizons: a revocation
    /// committed by any hub process since the exchange checked is seen here) and its documents'.
    private func admission(
        of push: PushPlan, reading statements: PostgresPushStatements, on connection: PostgresConnection
    ) async throws -> PushAdmission {
        let held = try await statements.held(for: push.versions, on: connection)
        return PushAdmission(
            versions: push.versions, policy: push.policy, held: held.knowledge, horizons: held.horizons,
            signatures: held.signatures, partitions: held.partitions)
    }

    /// Keeps `items` in the foreign quarantine (never at their origin's dot), each audited, within
    /// the pusher's hourly limit (beyond it: dropped and counted, as on SQLite); a version
    /// quarantined before (a push repeated after a lost answer) is skipped.
    private func quarantine(
        _ items: [(version: Version, reason: SetAsideReason)], pushedBy: ReplicaID, at now: Int64,
        on connection: PostgresConnection
    ) async throws {
        guard !items.isEmpty else { return }
        let table = "\(schema.name).foreign_quarantine"
        for (version, reason) in items {
            let origin = version.dot.replica.hex
            let counter = Int64(clamping: version.dot.counter)
            let existing = try await connection.query(
                """
                SELECT count(*) FROM \(unescaped: table)
                WHERE origin = \(origin) AND counter = \(counter) AND signature = \(ByteBuffer(bytes: version.signature))
                """, logger: logger)
            var already: Int64 = 0
            for try await count in existing.decode(Int64.self) { already = count }
            guard already == 0 else { continue }
            guard try await audit.isWithinForeignQuarantineLimit(pushedBy: pushedBy, on: connection) else {
                logger.warning(
                    "foreign quarantine limit reached: version dropped",
                    metadata: ["device": "\(pushedBy.hex)", "version": "\(version.dot)"])
                continue
            }
            let json = String(decoding: try JSONEncoder().encode(version), as: UTF8.self)
            try await connection.execute(
                """
                INSERT INTO \(unescaped: table) (origin, counter, signature, version, pushed_by, reason, code, received_at)
                VALUES (\(origin), \(counter), \(ByteBuffer(bytes: version.signature)), \(json), \(pushedBy.hex),
                    \(reason.detail), \(reason.code.rawValue), \(now))
                ON CONFLICT DO NOTHING
                """, logger: logger)
            try await audit.auditForeignQuarantine(version, reason: reason, pushedBy: pushedBy, on: connection)
        }
    }

    /// Why each of `dots` held set aside was set aside; dots not held or in good standing are absent.
    private func setAsideReasons(
        of dots: [Dot], on connection: PostgresConnection
    ) async throws -> [Dot: SetAsideReason] {
        let unique = Array(Set(dots))
        guard !unique.isEmpty else { return [:] }
        let rows = try await connection.query(
            """
            SELECT origin, counter, set_aside_reason, set_aside_code FROM \(unescaped: schema.name).versions
            WHERE set_aside_reason IS NOT NULL AND (origin, counter) IN (
                SELECT * FROM unnest(\(unique.map(\.replica.hex))::text[], \(unique.map { Int64(clamping: $0.counter) })::bigint[]))
            """, logger: logger)
        var reasons: [Dot: SetAsideReason] = [:]
        for try await (text, counter, detail, code) in rows.decode((String, Int64, String, String?).self) {
            guard let origin = ReplicaID(text), counter > 0 else {
                throw PostgresStoreError(.malformedRow, "A version row in \(schema.name).versions names no dot.")
            }
            // A code this build does not know reads as the hub's refusal, with its detail.
            let known = code.flatMap(SetAsideReason.Code.init(rawValue:)) ?? .rejectedByHub
            reasons[Dot(replica: origin, counter: UInt64(counter))] = SetAsideReason(known, detail)
        }
        return reasons
    }

    /// How many versions the foreign quarantine holds.
    public func foreignQuarantineCount() async throws -> Int {
        let rows = try await tables.client.query(
            "SELECT count(*) FROM \(unescaped: schema.name).foreign_quarantine", logger: logger)
        var count: Int64 = 0
        for try await value in rows.decode(Int64.self) { count = value }
        return Int(count)
    }

    // MARK: Reading

    public func page(_ query: PageQuery) async throws -> FeedPage {
        try await feed.page(query)
    }


    public func versions(at dots: [Dot]) async throws -> [Version] {
        guard !dots.isEmpty else { return [] }
        return try await tables.snapshot { connection in
            var found: [Version] = []
            for dot in dots {
                let rows = try await connection.query(
                    """
                    SELECT \(unescaped: PostgresFeedSelection.columns) FROM \(unescaped: schema.name).versions
                    WHERE origin = \(dot.replica.hex) AND counter = \(Int64(clamping: dot.counter))
                    """, logger: logger)
                for try await row in rows { found.append(try PostgresVersionRow.decode(row).0) }
            }
            return found
        }
    }

    public func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) async throws -> [Version] {
        guard !origins.isEmpty, !probes.isEmpty else { return [] }
        return try await tables.snapshot { connection in
            var found: [Version] = []
            for probe in probes {
                for origin in origins.sorted() {
                    let rows = try await connection.query(
                        """
                        SELECT \(unescaped: PostgresFeedSelection.columns) FROM \(unescaped: schema.name).versions
                        WHERE collection = \(probe.collection.rawValue) AND document_id = \(probe.id.rawValue)
                          AND clock_wall = \(Int64(clamping: probe.timestamp.wallMilliseconds))
                          AND clock_logical = \(Int64(probe.timestamp.logical)) AND origin = \(origin.hex)
                          AND set_aside_reason IS NULL
                        LIMIT 1
                        """, logger: logger)
                    for try await row in rows { found.append(try PostgresVersionRow.decode(row).0) }
                }
            }
            return found
        }
    }

    public func counts() async throws -> HubCounts? {
        try await tables.snapshot { connection in
            var counts = HubCounts()
            let devices = try await connection.query(
                "SELECT status, count(*) FROM \(unescaped: schema.name).devices GROUP BY status", logger: logger)
            for try await (status, count) in devices.decode((String, Int64).self) {
                if status == "active" { counts.activeDevices = Int(count) } else { counts.revokedDevices += Int(count) }
            }
            let totals = try await connection.query(
                """
                SELECT (SELECT coalesce(max(seq), 0) FROM \(unescaped: schema.name).versions),
                       (SELECT count(*) FROM \(unescaped: schema.name).versions WHERE set_aside_reason IS NOT NULL)
                     + (SELECT count(*) FROM \(unescaped: schema.name).foreign_quarantine)
                """, logger: logger)
            for try await (position, quarantined) in totals.decode((Int64, Int64).self) {
                counts.feedPosition = position
                counts.quarantined = Int(quarantined)
            }
            return counts
        }
    }
}

/// Which guards a push takes (``PostgresGuards``): every one, but in the negative controls of the
/// tests, each of which switches one off and sees the proof of that guard fail.
package struct PushGuards: Sendable, Hashable {
    /// The origins' guards (revocations, dots, knowledge).
    package var origins = true
    /// The documents' guards (merges, partition moves).
    package var documents = true
    /// The merge writer's guard (its counters).
    package var mergeWriter = true
    /// The feed's lock taken first and held over the whole push, as before the lock work of issue
    /// 12 (the negative control of the test that pushes overlap).
    package var feedLockOverWholePush = false

    package static let all = PushGuards()

    package init(
        origins: Bool = true, documents: Bool = true, mergeWriter: Bool = true, feedLockOverWholePush: Bool = false
    ) {
        self.origins = origins
        self.documents = documents
        self.mergeWriter = mergeWriter
        self.feedLockOverWholePush = feedLockOverWholePush
    }
}
