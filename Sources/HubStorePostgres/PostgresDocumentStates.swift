import Foundation
import Logging
import PostgresNIO
import SyncEngine

/// The current state of every document on PostgreSQL (`document_states`, migration
/// `v12-document-states`), as the SQLite hub's `documents` table keeps it: the siblings (the
/// versions in good standing no other one's context names, ``DocumentState/init(merging:)``), the
/// join of their histories, how many siblings, whether every sibling is a deletion, and the newest
/// sibling's wall time (the order the console lists documents in).
///
/// Every path that stores versions keeps it right in its own transaction, under the guards of the
/// documents it stores (``PostgresGuards``): a push recomputes the state of each document it
/// stores a version of from the versions its merge read already and what it stores
/// (``PostgresHubStorage/mergeFieldwise(_:storing:report:on:)``), reading the others' versions in
/// one statement; ``PostgresFeed/append(_:receivedFrom:)``, the import and the console's
/// resolutions recompute from the table (``recompute(_:schema:on:logger:)``). A state is always
/// recomputed from every version in good standing, never merged into the stored one, so the row
/// is the same whatever order the versions arrived in.
enum PostgresDocumentStates {
    /// A document's row.
    struct Row: Sendable, Hashable {
        var key: DocumentKey
        var partition: Partition
        var state: DocumentState
        var deleted: Bool
        var updatedWall: Int64
    }

    /// The row of `key` from `standing`, its versions in good standing (nil: none, no row).
    static func row(_ key: DocumentKey, standing: [Version]) -> Row? {
        guard !standing.isEmpty else { return nil }
        let state = DocumentState(merging: standing)
        let siblings = Set(state.siblings)
        let current = standing.filter { siblings.contains($0.dot) }
        let newest = current.max { $0.timestamp < $1.timestamp } ?? standing[0]
        return Row(
            key: key, partition: newest.partition, state: state, deleted: current.allSatisfy(\.isTombstone),
            updatedWall: Int64(clamping: current.map(\.timestamp.wallMilliseconds).max() ?? 0))
    }

    /// Writes the rows of `keys`: `rows` where a document has one, none (deleted) for the others.
    static func write(
        _ rows: [Row], of keys: Set<DocumentKey>, schema: PostgresSchemaName, mode: PostgresStatementMode = .text,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        let table = "\(schema.name).document_states"
        let ordered = rows.sorted { ($0.key.collection.rawValue, $0.key.id.rawValue) < ($1.key.collection.rawValue, $1.key.id.rawValue) }
        if !ordered.isEmpty {
            let statements = PostgresStatements(schema: schema, mode: mode, logger: logger)
            try await statements.run(DocumentStatesWriteStatement(rows: ordered), on: connection)
        }
        let gone = keys.subtracting(rows.map(\.key)).sorted { ($0.collection.rawValue, $0.id.rawValue) < ($1.collection.rawValue, $1.id.rawValue) }
        if !gone.isEmpty {
            try await connection.execute(
                """
                DELETE FROM \(unescaped: table) WHERE (collection, document_id) IN (
                    SELECT * FROM unnest(\(gone.map(\.collection.rawValue))::text[], \(gone.map(\.id.rawValue))::text[]))
                """, logger: logger)
        }
    }

    /// A subquery, lateral to `d(collection, document_id)`, selecting `columns` of the document's
    /// versions in good standing (at most `limit`), through `versions_by_document`.
    ///
    /// The standing test stands outside an `OFFSET 0` fence on purpose. Written beside the
    /// document's columns, it lets every partial index on `set_aside_reason IS NULL` serve, and
    /// where the table's statistics predate most of its rows (a schema filled since its last
    /// `ANALYZE`, as a new hub's is until autovacuum comes round) PostgreSQL costs
    /// `versions_feed_by_collection` the same as the document's index and walks the whole
    /// collection, filtering by document id: every push read each of its documents that way,
    /// twice (issue 12: 6,600 rows per document at 12,000 versions under `vigil-bench --only
    /// hub-load-postgres`). Inside the fence only `versions_by_document` matches both columns.
    static func standingVersions(_ columns: [String], in table: String, limit: Int? = nil) -> String {
        let names = columns.map { $0.components(separatedBy: " AS ").last ?? $0 }
        return """
            SELECT \(names.joined(separator: ", ")) FROM (
                SELECT \(columns.joined(separator: ", ")), set_aside_reason IS NULL AS in_good_standing
                FROM \(table)
                WHERE collection = d.collection AND document_id = d.document_id OFFSET 0) AS held
            WHERE in_good_standing\(limit.map { " LIMIT \($0)" } ?? "")
            """
    }

    /// The versions in good standing of `keys` the table holds (in the transaction on
    /// `connection`: its own inserts included), without their bodies: a state needs each one's
    /// dot, context, clock, partition and whether it is a deletion. One statement.
    static func standing(
        _ keys: Set<DocumentKey>, schema: PostgresSchemaName, mode: PostgresStatementMode = .text,
        on connection: PostgresConnection, logger: Logger
    ) async throws -> [DocumentKey: [Version]] {
        guard !keys.isEmpty else { return [:] }
        let statements = PostgresStatements(schema: schema, mode: mode, logger: logger)
        let rows = try await statements.rows(standingStatement(keys), on: connection)
        var found: [DocumentKey: [Version]] = [:]
        for (origin, counter, collection, id, partition, context, tombstone, wall, logical) in rows {
            guard let replica = ReplicaID(origin), counter > 0, let collection = CollectionName(collection),
                let id = DocumentID(id), let partition = Partition(partition),
                let context = VersionVector(compactText: context)
            else {
                throw PostgresStoreError(.malformedRow, "A version row in \(schema.name).versions is malformed.")
            }
            // Only what a state reads: a deletion has no body, any other version a placeholder one.
            let version = Version(
                dot: Dot(replica: replica, counter: UInt64(counter)), collection: collection, documentID: id,
                partition: partition, context: context, body: tombstone ? nil : Data(),
                timestamp: HybridTimestamp(wallMilliseconds: UInt64(max(0, wall)), logical: UInt32(truncatingIfNeeded: logical)))
            found[version.key, default: []].append(version)
        }
        return found
    }

    /// The statement ``standing(_:schema:mode:on:logger:)`` runs: one probe of
    /// `versions_by_document` per key (``standingVersions(_:in:limit:)``).
    static func standingStatement(_ keys: Set<DocumentKey>) -> DocumentsStandingStatement {
        let sorted = keys.sorted { ($0.collection.rawValue, $0.id.rawValue) < ($1.collection.rawValue, $1.id.rawValue) }
        return DocumentsStandingStatement(
            collections: sorted.map(\.collection.rawValue), documentIDs: sorted.map(\.id.rawValue))
    }

    /// Recomputes and writes the rows of `keys` from the versions the table holds (in the
    /// transaction on `connection`, which holds the documents' guards or the migration's lock).
    static func recompute(
        _ keys: Set<DocumentKey>, schema: PostgresSchemaName, mode: PostgresStatementMode = .text,
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        guard !keys.isEmpty else { return }
        let held = try await standing(keys, schema: schema, mode: mode, on: connection, logger: logger)
        let rows = keys.compactMap { key in row(key, standing: held[key] ?? []) }
        try await write(rows, of: keys, schema: schema, mode: mode, on: connection, logger: logger)
    }

    /// Documents a step of the fill recomputes at once.
    static let fillStep = 500

    /// Fills `document_states` from every version the schema holds, `fillStep` documents at a
    /// time in document order (migration `v12-document-states`, in the migration's transaction,
    /// under its lock: no hub process stores a version until the table is whole, and a fill that
    /// fails leaves the step unapplied, to be done again at the next start).
    static func fill(schema: PostgresSchemaName, on connection: PostgresConnection, logger: Logger) async throws {
        var after: (collection: String, id: String) = ("", "")
        var filled = 0
        while true {
            let rows = try await connection.query(
                """
                SELECT DISTINCT collection, document_id FROM \(unescaped: schema.name).versions
                WHERE (collection, document_id) > (\(after.collection), \(after.id))
                ORDER BY collection, document_id LIMIT \(Int64(fillStep))
                """, logger: logger)
            var keys = Set<DocumentKey>()
            var last: (String, String)?
            for try await (collection, id) in rows.decode((String, String).self) {
                last = (collection, id)
                guard let name = CollectionName(collection), let document = DocumentID(id) else { continue }
                keys.insert(DocumentKey(collection: name, id: document))
            }
            guard let last else { break }
            after = last
            try await recompute(keys, schema: schema, on: connection, logger: logger)
            filled += keys.count
        }
        if filled > 0 {
            logger.info(
                "document states filled from the versions held",
                metadata: ["postgres.schema": "\(schema.name)", "hub.documents": "\(filled)"])
        }
    }
}
