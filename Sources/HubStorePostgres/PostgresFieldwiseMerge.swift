import HubStore
import Logging
import PostgresNIO
import Records
public import SyncEngine
import Synchronization

/// The id one hub process writes its field-by-field merges under, and how far it wrote.
///
/// As the SQLite hub draws an id at each start of its storage, each ``PostgresHubStorage`` draws
/// one, so two hub processes sharing a database never write under the same id. The id is
/// claimed in `hub_writers` in the transaction of its first merge (an insert that must not find
/// the row there: an id another process holds is given up for a fresh one), which is also what
/// certifies it to devices. Its counters are drawn under the id's guard
/// (`vigil.merge-writer:<schema>:<id>`, ``PostgresGuards``), held until the push commits, one
/// above the highest the database holds, so merges of one process are serialized too (merges of
/// different processes are under different ids and never wait for one another).
///
/// A counter is never taken twice, even when the database loses what this process wrote (a push
/// rolled back after its merge drew a dot, or a database restored from a backup while the
/// process ran): when the database holds less of the id than this process wrote, or no longer
/// holds the id's row, the process gives the id up and claims a fresh one.
final class PostgresMergeWriter: Sendable {
    private struct State {
        var id = ReplicaID.random()
        /// Whether this process inserted the id's row in `hub_writers`.
        var claimed = false
        /// The highest counter this process wrote under the id.
        var last: UInt64 = 0
    }

    private let state = Mutex(State())

    /// How many versions of one document a push's merge reads at most: a document holding more is
    /// not merged by the hub (left for an operator, and logged), so no document makes a push's
    /// work unbounded. Tests lower it.
    @TaskLocal package static var maxVersionsPerDocument = 1_000

    init() {}

    /// The id merges are written under now.
    package var id: ReplicaID { state.withLock { $0.id } }

    /// Records that `dot` was written (in the transaction that drew it).
    func wrote(_ dot: Dot) {
        state.withLock { state in
            if state.id == dot.replica { state.last = max(state.last, dot.counter) }
        }
    }

    /// Gives the id up for a fresh one, unclaimed.
    private func renew(from id: ReplicaID) {
        state.withLock { state in
            if state.id == id { state = State() }
        }
    }

    private func markClaimed(_ id: ReplicaID) {
        state.withLock { state in
            if state.id == id { state.claimed = true }
        }
    }

    /// The next dot to write a merge at, in the transaction on `connection`, which takes the
    /// id's guard first (unless `guarded` is false: a negative control) and holds it until it
    /// ends: the id is claimed first when it is not yet.
    func nextDot(in tables: PostgresDeviceTables, guarded: Bool = true, on connection: PostgresConnection)
        async throws -> Dot
    {
        let writers = tables.table("hub_writers")
        let versions = tables.table("versions")
        for _ in 0..<8 {
            var current = state.withLock { $0 }
            if guarded {
                try await PostgresGuards.take(
                    [(PostgresGuards.mergeWriterKey(current.id.hex, schema: tables.schema.name), false)],
                    on: connection, logger: tables.logger)
                // What the push that held it before left: the id claimed, written further, or given up.
                let after = state.withLock { $0 }
                guard after.id == current.id else { continue }
                current = after
            }
            let id = current.id.hex
            guard current.claimed else {
                // The certificate's time, as `PostgresDeviceRegistry.recordHubWriters` gives it.
                let started = min(tables.now, Int64(Dot.maxCounter))
                let inserted = try await connection.query(
                    """
                    INSERT INTO \(unescaped: writers) (replica_id, started_at) VALUES (\(id), \(started))
                    ON CONFLICT (replica_id) DO NOTHING RETURNING replica_id
                    """, logger: tables.logger
                ).collect()
                if inserted.isEmpty {
                    // Another process holds this id: never write under it.
                    renew(from: current.id)
                } else {
                    markClaimed(current.id)
                }
                continue
            }
            let rows = try await connection.query(
                """
                SELECT EXISTS (SELECT 1 FROM \(unescaped: writers) WHERE replica_id = \(id)),
                       (SELECT coalesce(max(counter), 0) FROM \(unescaped: versions) WHERE origin = \(id))
                """, logger: tables.logger)
            var (held, highest) = (false, Int64(0))
            for try await (exists, counter) in rows.decode((Bool, Int64).self) { (held, highest) = (exists, counter) }
            if held, highest >= Int64(clamping: current.last), highest < Int64(clamping: Dot.maxCounter) {
                return Dot(replica: current.id, counter: UInt64(highest) + 1)
            }
            tables.logger.notice(
                "hub writer id given up: the database holds less of it than this process wrote",
                metadata: [
                    "hub.writer": "\(id)", "hub.writer.held": "\(highest)", "hub.writer.written": "\(current.last)",
                ])
            renew(from: current.id)
        }
        throw PostgresStoreError(
            .writerUnavailable, "No writer id for the hub's merges could be claimed in \(writers).")
    }
}

extension ErrorCode where Domain == PostgresStoreError {
    /// No writer id for the hub's merges could be claimed (the ids drawn were all held already).
    public static let writerUnavailable = Self("writerUnavailable")
}

extension PostgresHubStorage {
    /// Merges field by field, in the push's transaction on `connection` (which holds the guards of
    /// the push's documents), the documents the push may have left in conflict, as the SQLite
    /// hub's `mergeFieldwise` does: the same documents (``FieldwiseResolution/documents(of:report:)``),
    /// the same siblings, common ancestor and merged body
    /// (``FieldwiseResolution/intent(for:siblings:history:maximumBodySize:)``), the same cases
    /// left for an operator. Returns the merges to store, in order, after `storing` (what the push
    /// stores, not stored yet: it is read with what the hub holds), and what it read of each
    /// document it looked at (the push's document states are computed from it, not read again).
    ///
    /// PostgreSQL keeps no document states: a document's siblings are the versions in good
    /// standing no other one's context names (``DocumentState/init(merging:)``), and its history
    /// every version held of it, set aside or not (as SQLite's), read from `versions` by
    /// document, at most ``PostgresMergeWriter/maxVersionsPerDocument`` per document.
    ///
    /// Each merge is signed with the hub's key at a dot of this process's writer id
    /// (``PostgresMergeWriter``, under its guard), to be stored and fed like any version (written at
    /// the hub: no sender) with the push's versions, the attachments its body names recorded and the
    /// writer's knowledge raised. Each merge is audited in the push's transaction
    /// (`document.resolved`, as on SQLite).
    func mergeFieldwise(
        _ pushed: [Version], storing: [PostgresPushStatements.Row], report: ApplyReport,
        on connection: PostgresConnection
    ) async throws -> (merges: [Version], read: [DocumentKey: HeldDocument]) {
        let keys = FieldwiseResolution.documents(of: pushed, report: report)
        guard !keys.isEmpty else { return ([], [:]) }
        let bound = PostgresMergeWriter.maxVersionsPerDocument
        let held = try await documentVersions(keys, bound: bound, storing: storing, on: connection)
        var written: [Version] = []
        for key in keys {
            guard let document = held[key] else { continue }
            guard document.history.count <= bound else {
                tables.logger.notice(
                    "document not merged field by field: it holds too many versions",
                    metadata: ["hub.document": "\(key)", "hub.merge.max_versions": "\(bound)"])
                continue
            }
            if let version = try await merge(key, document, after: written.last?.dot, on: connection) {
                written.append(version)
            }
        }
        return (written, held)
    }

    /// The hub's merge of `key`, whose versions are `document`, when it is in conflict and its
    /// siblings merge, at the dot after `previous` (this push's last merge) or the writer's next;
    /// nil when it is left as it is.
    private func merge(
        _ key: DocumentKey, _ document: HeldDocument, after previous: Dot?,
        on connection: PostgresConnection
    ) async throws -> Version? {
        let standing = document.history.filter { !document.setAside.contains($0.dot) }
        let state = DocumentState(merging: standing)
        guard state.isConflicted, let partition = standing.first?.partition else { return nil }
        let byDot = Dictionary(standing.map { ($0.dot, $0) }) { first, _ in first }
        let siblings = state.siblings.compactMap { byDot[$0] }
        let version: Version
        do {
            guard let intent = try FieldwiseResolution.intent(for: key, siblings: siblings, history: document.history)
            else { return nil }
            let dot =
                if let previous, previous.replica == mergeWriter.id, previous.counter < Dot.maxCounter {
                    Dot(replica: previous.replica, counter: previous.counter + 1)
                } else {
                    try await mergeWriter.nextDot(in: tables, guarded: guards.mergeWriter, on: connection)
                }
            var ownHistory = VersionVector()
            for own in document.history where own.dot.replica == dot.replica { ownHistory.merge(own.history) }
            let plan = try intent.plan(DocumentHolding(state: state, partition: partition, ownHistory: ownHistory))
            var clock = HybridLogicalClock(last: document.history.map(\.timestamp).max() ?? .zero)
            let timestamp = clock.tick(now: UInt64(max(0, tables.now)))
            version = try tables.hubKey.sign(
                Version(
                    dot: dot, collection: key.collection, documentID: key.id, partition: plan.partition,
                    context: plan.context, body: intent.body, timestamp: timestamp))
        } catch is SyncEngineError {
            // A merged body that is no valid record, or a plan refused: nothing written, left for an
            // operator rather than failing the push it commits with (as on SQLite).
            return nil
        }
        try await PostgresAuditLog(tables: tables).append(
            [
                AuditEvent(
                    actor: AuditEntry.hubActor, action: .resolved, subject: key.description,
                    detail: [
                        "dot": version.dot.description,
                        "siblings": state.siblings.map(\.description).joined(separator: " "),
                        "how": "merged field by field",
                    ])
            ], on: connection)
        return version
    }

    /// What the hub holds of each of `keys` with what the push is `storing` of them: every version
    /// of it (at most `bound` + 1 held, so a document past the bound shows it), oldest first by
    /// clock then position (the push's after every one held, in its order), and which of them are
    /// set aside. Two statements, each reading at most `bound` + 1 rows per document through
    /// `versions_by_document`.
    func documentVersions(
        _ keys: [DocumentKey], bound: Int, storing: [PostgresPushStatements.Row], on connection: PostgresConnection
    ) async throws -> [DocumentKey: HeldDocument] {
        let versions = tables.table("versions")
        let collections = keys.map(\.collection.rawValue)
        let ids = keys.map(\.id.rawValue)
        let limit = Int64(max(0, bound)) + 1
        let rows = try await connection.query(
            """
            SELECT v.* FROM unnest(\(collections)::text[], \(ids)::text[]) AS d(collection, document_id)
            CROSS JOIN LATERAL (
                SELECT \(unescaped: PostgresFeedSelection.columns) FROM \(unescaped: versions)
                WHERE collection = d.collection AND document_id = d.document_id LIMIT \(limit)
            ) AS v
            """, logger: tables.logger
        ).collect()
        var found: [DocumentKey: [(Version, Int64)]] = [:]
        for row in rows {
            let (version, position) = try PostgresVersionRow.decode(row)
            found[version.key, default: []].append((version, position.sequence))
        }
        let aside = try await connection.query(
            """
            SELECT v.origin, v.counter FROM unnest(\(collections)::text[], \(ids)::text[]) AS d(collection, document_id)
            CROSS JOIN LATERAL (
                SELECT origin, counter FROM \(unescaped: versions)
                WHERE collection = d.collection AND document_id = d.document_id AND set_aside_reason IS NOT NULL
                LIMIT \(limit)
            ) AS v
            """, logger: tables.logger)
        var setAside = Set<Dot>()
        for try await (text, counter) in aside.decode((String, Int64).self) {
            guard let origin = ReplicaID(text), counter > 0 else {
                throw PostgresStoreError(.malformedRow, "A version row in \(versions) names no dot.")
            }
            setAside.insert(Dot(replica: origin, counter: UInt64(counter)))
        }
        // The push's versions draw their positions after every one held: ordered after them.
        let wanted = Set(keys)
        for (index, row) in storing.enumerated() where wanted.contains(row.version.key) {
            found[row.version.key, default: []].append((row.version, Int64.max - Int64(storing.count - index)))
            if row.setAside != nil { setAside.insert(row.version.dot) }
        }
        return found.mapValues { versions in
            // SQLite's history order: by clock, then arrival.
            let ordered = versions.sorted { ($0.0.timestamp, $0.1) < ($1.0.timestamp, $1.1) }.map(\.0)
            let fromTable = versions.filter { $0.1 < Int64.max - Int64(storing.count) }.count
            return HeldDocument(
                history: ordered, setAside: setAside.intersection(ordered.map(\.dot)), complete: fromTable <= bound)
        }
    }
}

/// What a push read of one document: every version held of it with what the push stores
/// (oldest first), which of them are set aside, and whether that is every version the table
/// holds (false past ``PostgresMergeWriter/maxVersionsPerDocument``).
struct HeldDocument: Sendable {
    var history: [Version]
    var setAside: Set<Dot>
    var complete: Bool
}
