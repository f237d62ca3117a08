public import Foundation
public import HubStore
import Logging
public import PostgresNIO
public import SyncEngine

/// The hub's audit log on PostgreSQL (migration `v8-audit-log`): the SQLite hub's entries, chain
/// and signatures (``AuditEntry``, ``AuditChain``), shared by every hub process on the schema.
///
/// Every append locks the chain's head row (`audit_head`, `FOR UPDATE`) until its transaction
/// ends, so appends of every process make one chain: the next one reads the head the last one
/// committed, and a transaction that rolls back leaves neither entries nor a moved head (no
/// fork, no gap). Take it after any row lock and guard of the transaction, before the feed's lock
/// (``PostgresGuards``).
///
/// Entries are signed with the hub's key from `hub_identity` as they are written. That key lives
/// in the same database: someone who can rewrite the tables can also sign; a head kept elsewhere
/// (`syncd audit head`, then `verify --head`) is what shows a rewritten or cut log.
public struct PostgresAuditLog: HubAuditLog {
    public let tables: PostgresDeviceTables
    let locking: Locking
    /// Runs before each transaction of this log's own commits (tests pause here to interleave).
    let beforeCommit: @Sendable () async throws -> Void

    /// How appends are serialized; ``none`` only for the negative control of the concurrency test.
    package enum Locking: Sendable, Hashable {
        /// The chain's head row is locked until the transaction ends.
        case chainHead
        /// The head is read without a lock (two appends may take the same sequence).
        case none
    }

    /// How many entries ``verify(head:)`` reads at a time.
    static let pageSize = 1_000

    public init(tables: PostgresDeviceTables) { self.init(tables: tables, locking: .chainHead) }

    package init(
        tables: PostgresDeviceTables, locking: Locking, beforeCommit: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.tables = tables
        self.locking = locking
        self.beforeCommit = beforeCommit
    }

    private var logger: Logger { tables.logger }
    private func table(_ name: String) -> String { tables.table(name) }

    /// The limit of ``appendWithinHourlyLimit(_:on:)``: `deviceEntriesPerHour` of the tables.
    public var deviceEntriesPerHour: Int { tables.deviceEntriesPerHour }

    // MARK: Appending

    /// Appends `events` in the caller's transaction on `connection`, at the hub's clock, as the
    /// next entries of the chain, signed; they commit or roll back with it. First writes the
    /// counts of entries suppressed in hours that have ended. Holds the chain's head until the
    /// transaction ends.
    @discardableResult
    public func append(_ events: [AuditEvent], on connection: PostgresConnection) async throws -> [AuditEntry] {
        guard !events.isEmpty else { return [] }
        let now = tables.now
        var chain = try await head(on: connection)
        try await writeEndedSuppressions(&chain, at: now, on: connection)
        var written: [AuditEntry] = []
        for event in events { written.append(try await insert(event, at: now, into: &chain, on: connection)) }
        try await store(chain, on: connection)
        return written
    }

    @discardableResult
    public func append(_ events: [AuditEvent]) async throws -> [AuditEntry] {
        guard !events.isEmpty else { return [] }
        return try await ownTransaction { connection in try await append(events, on: connection) }
    }

    /// Appends `event`, caused by the device its actor names (hex replica id), in the caller's
    /// transaction, within `limit` entries of that device per hour (default: the tables'
    /// `deviceEntriesPerHour`; 0: none); beyond it the entry is counted as on SQLite. Returns
    /// whether it was written.
    @discardableResult
    public func appendWithinHourlyLimit(
        _ event: AuditEvent, limit: Int? = nil, on connection: PostgresConnection
    ) async throws -> Bool {
        let now = tables.now
        var chain = try await head(on: connection)
        try await writeEndedSuppressions(&chain, at: now, on: connection)
        let admitted = try await isWithinHourlyLimit(
            &chain, device: event.actor, budget: .auditEntries, kind: event.action.rawValue, at: now,
            limit: limit ?? deviceEntriesPerHour, on: connection)
        if admitted { _ = try await insert(event, at: now, into: &chain, on: connection) }
        try await store(chain, on: connection)
        return admitted
    }

    @discardableResult
    public func appendWithinHourlyLimit(_ event: AuditEvent, limit: Int) async throws -> Bool {
        try await ownTransaction { connection in
            try await appendWithinHourlyLimit(event, limit: limit, on: connection)
        }
    }

    private func ownTransaction<Result: Sendable>(
        _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let beforeCommit = self.beforeCommit
        return try await tables.transaction { connection in
            let result = try await body(connection)
            try await beforeCommit()
            return result
        }
    }

    // MARK: What a push sets aside (for the push's transaction)

    /// Audits, in the push's transaction, the versions the push set aside (by dot, with their
    /// reasons; `pushed` gives each one's document), within the pusher's hourly limit, as the
    /// SQLite hub does: one `version.quarantined` entry each, in dot order, actor the pusher.
    public func auditSetAside(
        _ setAside: [Dot: SetAsideReason], of pushed: [Version], pushedBy pusher: ReplicaID,
        on connection: PostgresConnection
    ) async throws {
        guard !setAside.isEmpty else { return }
        let versions = Dictionary(pushed.map { ($0.dot, $0) }, uniquingKeysWith: { first, _ in first })
        for (dot, reason) in setAside.sorted(by: { $0.key < $1.key }) {
            let detail = versions[dot].map { AuditEvent.quarantineDetail($0, reason: reason) }
                ?? ["code": reason.code.rawValue, "reason": reason.detail]
            try await appendWithinHourlyLimit(
                AuditEvent(actor: pusher.hex, action: .quarantined, subject: dot.description, detail: detail),
                on: connection)
        }
    }

    /// Whether `pusher` may add one more row to the foreign quarantine this hour (rows it pushed
    /// since the hour began, below the tables' `deviceEntriesPerHour`); when not, the row is counted
    /// as suppressed (and the first time in the hour, an `audit.limit-reached` entry says so).
    public func isWithinForeignQuarantineLimit(pushedBy pusher: ReplicaID, on connection: PostgresConnection)
        async throws -> Bool
    {
        let now = tables.now
        var chain = try await head(on: connection)
        try await writeEndedSuppressions(&chain, at: now, on: connection)
        let admitted = try await isWithinHourlyLimit(
            &chain, device: pusher.hex, budget: .foreignQuarantine, kind: HourlyBudget.foreignQuarantineKind, at: now,
            limit: deviceEntriesPerHour, on: connection)
        try await store(chain, on: connection)
        return admitted
    }

    /// Audits a version kept in the foreign quarantine (after its row was inserted), within the
    /// pusher's hourly limit: `version.quarantined`, actor the pusher, subject the version's dot.
    public func auditForeignQuarantine(
        _ version: Version, reason: SetAsideReason, pushedBy pusher: ReplicaID, on connection: PostgresConnection
    ) async throws {
        try await appendWithinHourlyLimit(
            AuditEvent(
                actor: pusher.hex, action: .quarantined, subject: version.dot.description,
                detail: AuditEvent.quarantineDetail(version, reason: reason)),
            on: connection)
    }

    // MARK: The chain

    /// The chain's end as this transaction sees it, and where it was when read.
    private struct Chain {
        var sequence: Int64
        var hash: Data
        let readAt: Int64
    }

    /// Reads the chain's head, locking its row until the transaction ends (``Locking/chainHead``).
    private func head(on connection: PostgresConnection) async throws -> Chain {
        let lock = locking == .chainHead ? "FOR UPDATE" : ""
        let rows = try await connection.query(
            "SELECT seq, hash FROM \(unescaped: table("audit_head")) \(unescaped: lock)", logger: logger)
        for try await (sequence, hash) in rows.decode((Int64, Data).self) {
            return Chain(sequence: sequence, hash: hash, readAt: sequence)
        }
        throw PostgresStoreError(.malformedRow, "The audit log's head in \(table("audit_head")) is missing.")
    }

    /// Moves the head to the chain's end when entries were added.
    private func store(_ chain: Chain, on connection: PostgresConnection) async throws {
        guard chain.sequence != chain.readAt else { return }
        try await connection.execute(
            "UPDATE \(unescaped: table("audit_head")) SET seq = \(chain.sequence), hash = \(chain.hash.bytea)",
            logger: logger)
    }

    /// Inserts `event` as the entry after `chain`'s end, signed, and moves the end to it.
    private func insert(_ event: AuditEvent, at now: Int64, into chain: inout Chain, on connection: PostgresConnection)
        async throws -> AuditEntry
    {
        let entry = try AuditEntry(
            sequence: chain.sequence + 1, at: UInt64(max(0, now)), actor: event.actor, action: event.action,
            subject: event.subject, detail: event.detail, previousHash: chain.hash, format: .signed
        ).signed(with: tables.hubKey)
        let signature = entry.signature.map(\.bytea)
        try await connection.execute(
            """
            INSERT INTO \(unescaped: table("audit_log")) (
                seq, at, actor, action, subject, detail, previous_hash, hash, format, signature)
            VALUES (
                \(entry.sequence), \(Int64(clamping: entry.at)), \(entry.actor), \(entry.action.rawValue),
                \(entry.subject), \(try AuditEntry.detailText(entry.detail)), \(entry.previousHash.bytea), \(entry.hash.bytea),
                \(Int64(entry.format.rawValue)), \(signature))
            """, logger: logger)
        chain.sequence = entry.sequence
        chain.hash = entry.hash
        return entry
    }

    // MARK: Hourly limits (the SQLite hub's budgets, ``HourlyBudget``)

    /// Whether one more event of `kind` fits `device`'s hourly `limit` of `budget`; when it does
    /// not, counts it as suppressed, and the first time in the hour audits that the limit was reached.
    private func isWithinHourlyLimit(
        _ chain: inout Chain, device: String, budget: HourlyBudget, kind: String, at now: Int64, limit: Int,
        on connection: PostgresConnection
    ) async throws -> Bool {
        guard limit > 0 else { return true }
        let hour = Int64(clamping: HourlyBudget.hourStart(UInt64(max(0, now))))
        let exhaustedRows = try await connection.query(
            """
            SELECT EXISTS (
                SELECT 1 FROM \(unescaped: table("audit_suppressed"))
                WHERE device = \(device) AND hour = \(hour) AND \(unescaped: budget.suppressedKinds))
            """, logger: logger)
        var exhausted = false
        for try await found in exhaustedRows.decode(Bool.self) { exhausted = found }
        if !exhausted {
            let usedQuery: PostgresQuery
            if budget == .auditEntries {
                usedQuery = "SELECT count(*) FROM \(unescaped: table("audit_log")) WHERE actor = \(device) AND at >= \(hour)"
            } else {
                usedQuery = """
                    SELECT count(*) FROM \(unescaped: table("foreign_quarantine"))
                    WHERE pushed_by = \(device) AND received_at >= \(hour)
                    """
            }
            var used: Int64 = 0
            for try await count in try await connection.query(usedQuery, logger: logger).decode(Int64.self) {
                used = count
            }
            if used < Int64(limit) { return true }
            _ = try await insert(
                AuditEvent(
                    actor: AuditEntry.hubActor, action: .limitReached, subject: device,
                    detail: [
                        "limit": "\(limit)",
                        "counts": budget == .auditEntries ? "audit entries" : "foreign-quarantine rows",
                        "until": "\(hour + 3_600_000)",
                    ]),
                at: now, into: &chain, on: connection)
        }
        try await connection.execute(
            """
            INSERT INTO \(unescaped: table("audit_suppressed")) (device, hour, kind, count) VALUES (\(device), \(hour), \(kind), 1)
            ON CONFLICT (device, hour, kind) DO UPDATE SET count = \(unescaped: table("audit_suppressed")).count + 1
            """, logger: logger)
        return false
    }

    /// Writes one `audit.suppressed` entry for each device and ended hour with suppressed counts,
    /// and forgets those counts.
    private func writeEndedSuppressions(_ chain: inout Chain, at now: Int64, on connection: PostgresConnection)
        async throws
    {
        let current = Int64(clamping: HourlyBudget.hourStart(UInt64(max(0, now))))
        let rows = try await connection.query(
            """
            SELECT device, hour, kind, count FROM \(unescaped: table("audit_suppressed"))
            WHERE hour < \(current) ORDER BY hour, device, kind
            """, logger: logger)
        var counts: [(device: String, hour: Int64, detail: [String: String])] = []
        for try await (device, hour, kind, count) in rows.decode((String, Int64, String, Int64).self) {
            if counts.last?.device != device || counts.last?.hour != hour {
                counts.append((device, hour, ["from": "\(hour)", "until": "\(hour + 3_600_000)"]))
            }
            counts[counts.count - 1].detail[kind] = "\(count)"
        }
        guard !counts.isEmpty else { return }
        for count in counts {
            _ = try await insert(
                AuditEvent(actor: AuditEntry.hubActor, action: .suppressed, subject: count.device, detail: count.detail),
                at: now, into: &chain, on: connection)
        }
        try await connection.execute(
            "DELETE FROM \(unescaped: table("audit_suppressed")) WHERE hour < \(current)", logger: logger)
    }

    // MARK: Reading

    public func entries(after sequence: Int64, limit: Int) async throws -> [AuditEntry] {
        let rows = try await tables.snapshot { connection in
            try await self.rows(after: sequence, limit: limit, on: connection)
        }
        return try rows.map { sequence, entry in
            guard let entry else { throw unreadable(sequence) }
            return entry
        }
    }

    public func newest() async throws -> AuditEntry? {
        let found = try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT max(seq) FROM \(unescaped: table("audit_log"))", logger: logger)
            var newest: Int64?
            for try await sequence in rows.decode(Int64?.self) { newest = sequence }
            guard let newest else { return [(Int64, AuditEntry?)]() }
            return try await self.rows(after: newest - 1, limit: 1, on: connection)
        }
        guard let first = found.first else { return nil }
        guard let entry = first.1 else { throw unreadable(first.0) }
        return entry
    }

    public func isSignedByHub(_ entry: AuditEntry) -> Bool { entry.hasValidSignature(by: tables.hubKey.publicKey) }

    public func verify(head: Data?) async throws -> AuditVerification {
        var verifier = AuditLogVerifier(key: tables.hubKey.publicKey, head: head)
        while true {
            let after = verifier.nextSequence
            let rows = try await tables.snapshot { connection in
                try await self.rows(after: after, limit: Self.pageSize, on: connection)
            }
            if case .finished(let verification) = verifier.take(rows.map { (sequence: $0.0, entry: $0.1) }) {
                return verification
            }
        }
    }

    public func pendingSuppressedCounts() async throws -> [String: [String: Int]] {
        try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT device, kind, sum(count)::bigint FROM \(unescaped: table("audit_suppressed")) GROUP BY device, kind
                """, logger: logger)
            var counts: [String: [String: Int]] = [:]
            for try await (device, kind, count) in rows.decode((String, String, Int64).self) {
                counts[device, default: [:]][kind] = Int(clamping: count)
            }
            return counts
        }
    }

    private func unreadable(_ sequence: Int64) -> PostgresStoreError {
        PostgresStoreError(
            .malformedRow, "Audit entry #\(sequence) cannot be read: it was changed after it was written.")
    }

    /// The rows after `sequence`, each with its entry, or nil when a field is not in the form the
    /// log writes (the table was edited).
    private func rows(after sequence: Int64, limit: Int, on connection: PostgresConnection) async throws
        -> [(Int64, AuditEntry?)]
    {
        let rows = try await connection.query(
            """
            SELECT seq, at, actor, action, subject, detail, previous_hash, hash, format, signature
            FROM \(unescaped: table("audit_log")) WHERE seq > \(sequence) ORDER BY seq LIMIT \(Int64(max(1, limit)))
            """, logger: logger)
        var found: [(Int64, AuditEntry?)] = []
        for try await (sequence, at, actor, action, subject, detailText, previousHash, hash, format, signature)
            in rows.decode((Int64, Int64, String, String, String, String, Data, Data, Int64, Data?).self)
        {
            guard let detail = try? JSONDecoder().decode([String: String].self, from: Data(detailText.utf8)),
                let format = Int(exactly: format).flatMap(AuditEntry.Format.init(rawValue:))
            else {
                found.append((sequence, nil))
                continue
            }
            found.append(
                (
                    sequence,
                    AuditEntry(
                        sequence: sequence, at: UInt64(max(0, at)), actor: actor, action: AuditAction(rawValue: action),
                        subject: subject, detail: detail, previousHash: previousHash, hash: hash, format: format,
                        signature: signature)
                ))
        }
        return found
    }
}

extension PostgresHub {
    /// The hub's audit log, over the same tables.
    public var auditLog: PostgresAuditLog { PostgresAuditLog(tables: tables) }
}
