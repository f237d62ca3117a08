import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// The hub's push and pull on PostgreSQL: ``HubStorage`` over ``PostgresFeed``'s tables and the
/// device tables of the same schema, so that several hub processes serve one network.
///
/// A push is taken in one read-committed transaction that first takes the feed's append lock
/// (``PostgresFeed`` explains why): its checks read what committed before it, its versions draw
/// their positions in commit order, and two hub processes never decide the same dot at once. It
/// also refuses the versions of revoked ids above their horizon, read under that lock: a device
/// revoked through another hub process after this exchange checked it injects nothing.
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

    /// The storage over the schema of `tables` (``PostgresMigrations`` creates its tables).
    public init(tables: PostgresDeviceTables) throws {
        try self.init(tables: tables, commitOrder: .serialized)
    }

    /// `commitOrder` other than ``PostgresFeed/CommitOrder/serialized`` only in tests (a proof that
    /// can fail); `beforeCommit` runs in every push's transaction before it commits (tests: a pause).
    package init(
        tables: PostgresDeviceTables, commitOrder: PostgresFeed.CommitOrder,
        beforeCommit: @escaping @Sendable () async throws -> Void = {}
    ) throws {
        self.tables = tables
        feed = try PostgresFeed(
            client: tables.client, schema: tables.schema.name, logger: tables.logger, commitOrder: commitOrder,
            beforeCommit: beforeCommit)
        receiptKey = AdmissionReceiptKey(signingKey: tables.hubKey.rawRepresentation)
    }

    private var schema: PostgresSchemaName { tables.schema }
    /// Where a push's set-aside and quarantined versions are audited, in its transaction.
    private var audit: PostgresAuditLog { PostgresAuditLog(tables: tables) }
    private var logger: Logger { tables.logger }

    // MARK: Taking a push

    /// Takes `push` on ``FeedLockExecutor``, so that what runs while it holds the feed's lock does
    /// not queue behind the cooperative pool's other work.
    public func take(_ push: PushPlan) async throws -> PushReport {
        try await withTaskExecutorPreference(FeedLockExecutor.shared) { try await takeInOneTransaction(push) }
    }

    private func takeInOneTransaction(_ push: PushPlan) async throws -> PushReport {
        let now = tables.now
        let statements = PostgresPushStatements(schema: schema, logger: logger)
        return try await tables.transaction { connection in
            try await feed.lockForAppend(on: connection)
            var admission = try await admission(of: push, reading: statements, on: connection)
            var stored: [(version: Version, setAside: SetAsideReason?)] = []
            for version in push.versions {
                guard case .store(let reason) = admission.decide(version) else { continue }
                admission.stored(version, setAside: reason)
                stored.append((version, reason))
            }
            try await statements.store(stored, receivedFrom: push.pusher, touched: admission.touched, on: connection)
            try await quarantine(push.forged, pushedBy: push.pusher, at: now, on: connection)
            try await quarantine(admission.implausible(among: push.versions), pushedBy: push.pusher, at: now, on: connection)
            let unanswered = admission.unanswered(among: push.versions)
            let heldAside = unanswered.isEmpty ? [:] : try await setAsideReasons(of: unanswered, on: connection)
            let merged = try await mergeFieldwise(push.versions, report: admission.report, on: connection).count
            try await audit.auditSetAside(
                admission.report.setAside, of: push.versions, pushedBy: push.pusher, on: connection)
            try await feed.beforeCommit()
            return PushReport(applied: admission.report, merged: merged, heldAside: heldAside)
        }
    }

    /// The decisions of `push` over what the hub holds, read in one statement under the feed's
    /// lock (which a revocation also holds while it records its horizons: a revocation committed
    /// by any hub process since the exchange checked is seen here).
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
