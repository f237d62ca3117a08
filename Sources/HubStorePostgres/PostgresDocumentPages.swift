public import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// The console's document pages on PostgreSQL: documents listed from `document_states`
/// (``PostgresDocumentStates``) by its indexes, their siblings read by dot, and an operator's
/// resolution written as the hub's merges are: under the document's guard, at a dot of this
/// process's merge writer (under its guard), signed with the hub's key, audited, stored with the
/// feed's lock taken by the storing statement, and the document's state recomputed, in one
/// transaction.
public struct PostgresDocumentPages: DocumentPages {
    let storage: PostgresHubStorage

    /// The pages over `storage`'s schema; resolutions are written under its merge writer id.
    public init(storage: PostgresHubStorage) {
        self.storage = storage
    }

    private var tables: PostgresDeviceTables { storage.tables }
    private var logger: Logger { tables.logger }
    private var states: String { tables.table("document_states") }

    public func document(_ key: DocumentKey) async throws -> StoredDocument? {
        try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT collection, document_id, partition, siblings, context, updated_wall FROM \(unescaped: states)
                WHERE collection = \(key.collection.rawValue) AND document_id = \(key.id.rawValue)
                """, logger: logger)
            return try await stored(try await decode(rows), on: connection).first
        }
    }

    public func documents(in collection: CollectionName, partition: Partition?, limit: Int, after cursor: String?)
        async throws -> DocumentPage
    {
        let limit = max(1, min(limit, 1_000))
        var builder = PostgresQueryBuilder()
        var conditions = ["collection = \(builder.bind(collection.rawValue))", "NOT deleted"]
        if let partition { conditions.append("partition = \(builder.bind(partition.rawValue))") }
        if let cursor {
            let parts = cursor.split(separator: "/", maxSplits: 1)
            guard parts.count == 2, let wall = Int64(parts[0]) else { throw Self.badCursor(cursor) }
            conditions.append("(updated_wall, document_id) < (\(builder.bind(wall)), \(builder.bind(String(parts[1]))))")
        }
        builder.sql = """
            SELECT collection, document_id, partition, siblings, context, updated_wall FROM \(states)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY updated_wall DESC, document_id DESC LIMIT \(builder.bind(Int64(limit + 1)))
            """
        let query = builder.query
        return try await tables.snapshot { connection in
            let found = try await decode(try await connection.query(query, logger: logger))
            let documents = try await stored(Array(found.prefix(limit)), on: connection)
            let next = found.count > limit ? found[limit - 1] : nil
            return DocumentPage(documents: documents, nextCursor: next.map { "\($0.wall)/\($0.key.id.rawValue)" })
        }
    }

    public func conflicts(in collection: CollectionName?, partition: Partition?, limit: Int, after cursor: String?)
        async throws -> ConflictPage
    {
        let limit = max(1, min(limit, 200))
        var builder = PostgresQueryBuilder()
        var conditions = ["sibling_count > 1"]
        if let collection { conditions.append("collection = \(builder.bind(collection.rawValue))") }
        if let partition { conditions.append("partition = \(builder.bind(partition.rawValue))") }
        if let cursor {
            let parts = cursor.split(separator: "/", maxSplits: 2)
            guard parts.count == 3, let wall = Int64(parts[0]) else { throw Self.badCursor(cursor) }
            conditions.append(
                "(updated_wall, collection, document_id) < (\(builder.bind(wall)), \(builder.bind(String(parts[1]))), \(builder.bind(String(parts[2]))))"
            )
        }
        builder.sql = """
            SELECT collection, document_id, partition, siblings, context, updated_wall FROM \(states)
            WHERE \(conditions.joined(separator: " AND "))
            ORDER BY updated_wall DESC, collection DESC, document_id DESC LIMIT \(builder.bind(Int64(limit + 1)))
            """
        let query = builder.query
        return try await tables.snapshot { connection in
            let found = try await decode(try await connection.query(query, logger: logger))
            let documents = try await stored(Array(found.prefix(limit)), on: connection)
            let next = found.count > limit ? found[limit - 1] : nil
            return ConflictPage(
                documents,
                nextCursor: next.map { "\($0.wall)/\($0.key.collection.rawValue)/\($0.key.id.rawValue)" })
        }
    }

    public func conflictedCollections() async throws -> [CollectionName] {
        let rows = try await tables.client.query(
            "SELECT DISTINCT collection FROM \(unescaped: states) WHERE sibling_count > 1 ORDER BY collection LIMIT 100",
            logger: logger)
        var names: [CollectionName] = []
        for try await name in rows.decode(String.self) {
            if let collection = CollectionName(name) { names.append(collection) }
        }
        return names
    }

    public func history(of key: DocumentKey, newest limit: Int) async throws -> [StoredVersion] {
        let versions = tables.table("versions")
        let limit = Int64(max(0, limit))
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT \(unescaped: PostgresFeedSelection.columns) FROM \(unescaped: versions)
                WHERE collection = \(key.collection.rawValue) AND document_id = \(key.id.rawValue)
                ORDER BY clock_wall DESC, clock_logical DESC, seq DESC LIMIT \(limit)
                """, logger: logger
            ).collect().reversed().map(PostgresVersionRow.decode)
            // The facts of those versions only: a document may hold a million.
            let facts = try await connection.query(
                """
                SELECT seq, received_from, set_aside_reason, set_aside_code FROM \(unescaped: versions)
                WHERE seq = ANY(\(rows.map(\.1.sequence)))
                """, logger: logger)
            var bySequence: [Int64: (ReplicaID?, SetAsideReason?)] = [:]
            for try await (sequence, sender, detail, code) in facts.decode((Int64, String?, String?, String?).self) {
                // A code this build does not know reads as the hub's refusal, with its detail.
                let reason = detail.map { SetAsideReason(code.flatMap(SetAsideReason.Code.init(rawValue:)) ?? .rejectedByHub, $0) }
                bySequence[sequence] = (sender.flatMap { ReplicaID($0) }, reason)
            }
            return rows.map { version, position in
                let (sender, reason) = bySequence[position.sequence] ?? (nil, nil)
                return StoredVersion(version: version, sequence: position.sequence, receivedFrom: sender, setAsideReason: reason)
            }
        }
    }

    public func authorNames(of origins: Set<ReplicaID>) async throws -> [ReplicaID: String] {
        guard !origins.isEmpty else { return [:] }
        let ids = origins.map(\.hex).sorted()
        let (devices, incarnations, writers) = (tables.table("devices"), tables.table("device_incarnations"), tables.table("hub_writers"))
        let rows = try await tables.client.query(
            """
            SELECT 1, replica_id, name FROM \(unescaped: devices) WHERE replica_id = ANY(\(ids))
            UNION ALL
            SELECT 2, i.replica_id, d.name FROM \(unescaped: incarnations) i
                JOIN \(unescaped: devices) d ON d.replica_id = i.device_id WHERE i.replica_id = ANY(\(ids))
            UNION ALL
            SELECT 3, replica_id, replica_id FROM \(unescaped: writers) WHERE replica_id = ANY(\(ids))
            """, logger: logger)
        var found: [ReplicaID: (rank: Int32, name: String)] = [:]
        for try await (rank, text, name) in rows.decode((Int32, String, String).self) {
            guard let id = ReplicaID(text) else { continue }
            if let held = found[id], held.rank <= rank { continue }
            // A device's enrolled id, then its incarnations, then the hub's writer ids.
            found[id] = (rank, rank == 3 ? AuditEntry.hubActor : name)
        }
        var names = found.mapValues(\.name)
        if origins.contains(tables.hubID), names[tables.hubID] == nil { names[tables.hubID] = AuditEntry.hubActor }
        return names
    }

    public func resolveAsOperator(
        _ key: DocumentKey, body: Data?, expectedSiblings: [Dot], operator name: String, reason: String, how: String
    ) async throws -> Version {
        try await storage.resolve(
            WriteIntent(key: key, body: body, isResolution: true, expectedSiblings: expectedSiblings),
            audited: AuditEvent(
                actor: operatorAuditActor(name), action: .resolved, subject: key.description,
                detail: ["siblings": expectedSiblings.map(\.description).joined(separator: " "), "how": how, "reason": reason]))
    }

    /// A state row as read, with its newest sibling's wall time.
    private struct Found {
        var key: DocumentKey
        var partition: Partition
        var state: DocumentState
        var wall: Int64
    }

    private func decode(_ rows: PostgresRowSequence) async throws -> [Found] {
        var found: [Found] = []
        for try await (collection, id, partition, siblings, context, wall) in rows.decode(
            (String, String, String, String, String, Int64).self)
        {
            let dots = siblings.split(separator: ",").map { Dot($0) }
            guard let name = CollectionName(collection), let document = DocumentID(id), let partition = Partition(partition),
                let context = VersionVector(compactText: context), !dots.contains(nil)
            else { throw PostgresStoreError(.malformedRow, "A row of \(states) is malformed.") }
            found.append(
                Found(
                    key: DocumentKey(collection: name, id: document), partition: partition,
                    state: DocumentState(siblings: dots.compactMap { $0 }, context: context), wall: wall))
        }
        return found
    }

    /// The documents of `found` with their siblings' versions, read in one statement.
    private func stored(_ found: [Found], on connection: PostgresConnection) async throws -> [StoredDocument] {
        let dots = found.flatMap(\.state.siblings)
        guard !dots.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            SELECT \(unescaped: PostgresFeedSelection.columns) FROM \(unescaped: tables.table("versions"))
            WHERE (origin, counter) IN (
                SELECT * FROM unnest(\(dots.map(\.replica.hex))::text[], \(dots.map { Int64(clamping: $0.counter) })::bigint[]))
            """, logger: logger)
        var versions: [Dot: Version] = [:]
        for try await row in rows {
            let version = try PostgresVersionRow.decode(row).0
            versions[version.dot] = version
        }
        return try found.map { document in
            let siblings = try document.state.siblings.map { dot in
                guard let version = versions[dot] else {
                    throw PostgresStoreError(.malformedRow, "A sibling \(dot) of \(document.key) has no version row in \(tables.table("versions")).")
                }
                return version
            }
            return StoredDocument(key: document.key, partition: document.partition, state: document.state, siblings: siblings)
        }
    }

    private static func badCursor(_ cursor: String) -> PostgresStoreError {
        PostgresStoreError(.malformedRow, "The page cursor '\(cursor.prefix(60))' is not one this program gave out.")
    }
}

extension PostgresHubStorage {
    /// Recomputes and writes, in the push's transaction (which holds its documents' guards), the
    /// state of each document the push stores a version of or merged: from what its merge read
    /// (`read`, every version held with what the push stores) where that is every version the
    /// table holds, else from the versions in good standing read in one statement, with what the
    /// push stores and the merges.
    func keepDocumentStates(
        storing: [PostgresPushStatements.Row], merges: [Version], read: [DocumentKey: HeldDocument],
        on connection: PostgresConnection
    ) async throws {
        var keys = Set(storing.map(\.version.key))
        keys.formUnion(merges.map(\.key))
        guard !keys.isEmpty else { return }
        let unread = keys.filter { read[$0]?.complete != true }
        var standing = try await PostgresDocumentStates.standing(
            unread, schema: tables.schema, mode: tables.statementMode, on: connection, logger: tables.logger)
        for row in storing where row.setAside == nil && unread.contains(row.version.key) {
            standing[row.version.key, default: []].append(row.version)
        }
        for (key, held) in read where held.complete && keys.contains(key) {
            standing[key] = held.history.filter { !held.setAside.contains($0.dot) }
        }
        for merge in merges { standing[merge.key, default: []].append(merge) }
        let rows = keys.compactMap { PostgresDocumentStates.row($0, standing: standing[$0] ?? []) }
        try await PostgresDocumentStates.write(
            rows, of: keys, schema: tables.schema, mode: tables.statementMode, on: connection, logger: tables.logger)
    }

    /// Writes `intent` (a resolution) as a version of the hub's, in one transaction with its locks
    /// in the global order (``PostgresGuards``): the document's guard, its versions read, the plan
    /// (refused with ``SyncEngineError`` when the document is no longer as the operator saw it),
    /// the merge writer's guard and next dot, `audited` (with the dot) on the audit chain's head,
    /// the document's state, then the version stored by the statement that takes the feed's lock.
    func resolve(_ intent: WriteIntent, audited event: AuditEvent) async throws -> Version {
        let key = intent.key
        return try await tables.transaction { connection in
            try await PostgresGuards.take(
                PostgresGuards.keys(.document, [PostgresGuards.name(of: key)], schema: tables.schema.name),
                on: connection, logger: tables.logger)
            // Every version of the document, set aside or not (the writer's own chain), in one read.
            let held = try await documentVersions([key], bound: Int.max - 1, storing: [], on: connection)[key]
            let history = held?.history ?? []
            var standing = history.filter { !(held?.setAside.contains($0.dot) ?? false) }
            let state = DocumentState(merging: standing)
            guard let partition = standing.first?.partition else {
                throw SyncEngineError(.conflict, "\(key) is not in conflict; there is nothing to resolve.")
            }
            // Refused (not in conflict, or changed since the operator saw it) before a counter is drawn.
            _ = try intent.plan(DocumentHolding(state: state, partition: partition))
            let dot = try await mergeWriter.nextDot(in: tables, guarded: guards.mergeWriter, on: connection)
            var ownHistory = VersionVector()
            for own in history where own.dot.replica == dot.replica { ownHistory.merge(own.history) }
            let plan = try intent.plan(DocumentHolding(state: state, partition: partition, ownHistory: ownHistory))
            var clock = HybridLogicalClock(last: history.map(\.timestamp).max() ?? .zero)
            let timestamp = clock.tick(now: UInt64(max(0, tables.now)))
            let version = try tables.hubKey.sign(
                Version(
                    dot: dot, collection: key.collection, documentID: key.id, partition: plan.partition,
                    context: plan.context, body: intent.body, timestamp: timestamp))
            var event = event
            event.detail["dot"] = version.dot.description
            try await PostgresAuditLog(tables: tables).append([event], on: connection)
            standing.append(version)
            let rows = PostgresDocumentStates.row(key, standing: standing).map { [$0] } ?? []
            try await PostgresDocumentStates.write(rows, of: [key], schema: tables.schema, on: connection, logger: tables.logger)
            try await PostgresPushStatements(schema: tables.schema, logger: tables.logger).store(
                [(version, nil, nil)], touched: [dot.replica], feed: feed, on: connection)
            mergeWriter.wrote(dot)
            try await feed.beforeCommit()
            return version
        }
    }
}
