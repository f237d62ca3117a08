import Foundation
import Logging
import PostgresNIO
import SyncEngine

/// The statements of a push, each one round trip however many versions the push carries: what
/// ``PushAdmission`` needs is read in one statement (under the push's origin and document guards,
/// ``PostgresGuards``), and what it stores (its versions and the hub's merges) is stored with
/// their attachment names and their origins' knowledge in one statement per 500 rows, the first
/// of which takes the feed's append lock: every other push waits for those statements only.
struct PostgresPushStatements {
    let schema: PostgresSchemaName
    /// Whether ``held(for:on:)``'s statement is prepared (``PostgresStatementMode``).
    var mode = PostgresStatementMode.text
    let logger: Logger

    /// What the hub holds that decides a push, read in one statement.
    struct Held {
        /// The knowledge of the origins the push's versions and contexts name.
        var knowledge = VersionVector()
        /// The revocation horizons of the push's origins that are revoked.
        var horizons: [ReplicaID: UInt64] = [:]
        /// The signatures held at the push's dots.
        var signatures: [Dot: Data] = [:]
        /// The partition the hub holds each pushed document in (its versions in good standing).
        var partitions: [DocumentKey: Partition] = [:]
    }

    /// Reads what decides `versions` on `connection`, as one statement: four selections, told
    /// apart by their first column. A document's partition is read from one of its versions in
    /// good standing (they all hold it there: a move is set aside), not from all of them: a
    /// document edited thousands of times costs one row.
    func held(for versions: [Version], on connection: PostgresConnection) async throws -> Held {
        let statements = PostgresStatements(schema: schema, mode: mode, logger: logger)
        var held = Held()
        for row in try await statements.rows(heldStatement(for: versions), on: connection) {
            try take(row, into: &held)
        }
        return held
    }

    /// The statement ``held(for:on:)`` runs.
    func heldStatement(for versions: [Version]) -> PushHeldStatement {
        let dots = Array(Set(versions.map(\.dot)))
        let keys = Set(versions.map(\.key)).sorted()
        return PushHeldStatement(
            named: CausalPlausibility.origins(of: versions).map(\.hex),
            origins: Set(versions.map(\.dot.replica)).map(\.hex),
            dotOrigins: dots.map(\.replica.hex), dotCounters: dots.map { Int64(clamping: $0.counter) },
            collections: keys.map(\.collection.rawValue), documentIDs: keys.map(\.id.rawValue))
    }

    private func take(
        _ row: (kind: String, name: String, id: String?, partition: String?, number: Int64?, signature: Data?),
        into held: inout Held
    ) throws {
        switch row.kind {
        case "k", "r", "s":
            guard let replica = ReplicaID(row.name), let number = row.number else { throw malformed("a replica id") }
            let counter = UInt64(max(0, number))
            if row.kind == "k" { held.knowledge[replica] = counter }
            if row.kind == "r" { held.horizons[replica] = counter }
            if row.kind == "s" {
                guard counter > 0, let signature = row.signature else { throw malformed("a dot") }
                held.signatures[Dot(replica: replica, counter: counter)] = signature
            }
        default:
            guard let collection = CollectionName(row.name), let id = row.id.flatMap(DocumentID.init),
                let partition = row.partition.flatMap(Partition.init)
            else { throw malformed("a document") }
            held.partitions[DocumentKey(collection: collection, id: id)] = partition
        }
    }

    private func malformed(_ what: String) -> PostgresStoreError {
        PostgresStoreError(.malformedRow, "A row of \(schema.name) read for a push names no \(what).")
    }

    /// One version to store: set aside when a reason is given, delivered by `receivedFrom` (nil:
    /// written at the hub).
    typealias Row = (version: Version, setAside: SetAsideReason?, receivedFrom: ReplicaID?)

    /// Stores `rows` in their order (their positions follow it: a push is in causal order), set
    /// aside where a reason is given, records the attachments their bodies name, and raises the
    /// knowledge of `touched` (the origins of `rows`) over the counters held contiguously above
    /// it: one statement per 500 rows, the last one raising the knowledge. Each statement first
    /// takes `feed`'s append lock (``PostgresFeed/appendLockPart(_:)``), so positions are drawn
    /// under it and it is held from the first of them to the commit.
    func store(_ rows: [Row], touched: Set<ReplicaID>, feed: PostgresFeed, on connection: PostgresConnection)
        async throws
    {
        let chunks = stride(from: 0, to: rows.count, by: 500).map { rows[$0..<min(rows.count, $0 + 500)] }
        for (index, chunk) in chunks.enumerated() {
            var builder = PostgresQueryBuilder()
            let lock = feed.appendLockPart(&builder)
            let values = chunk.map {
                row(of: $0.version, setAside: $0.setAside, receivedFrom: $0.receivedFrom, &builder)
            }
            var parts = lock.map { [$0] } ?? []
            parts.append(
                """
                inserted AS (
                    INSERT INTO \(schema.name).versions (
                        \(PostgresVersionRow.insertedColumns), received_from, set_aside_reason, set_aside_code, feed_tag)
                    SELECT * FROM (VALUES \(values.joined(separator: ", "))) AS v
                    \(lock == nil ? "" : "WHERE EXISTS (SELECT 1 FROM feed_lock)")
                    RETURNING origin, counter)
                """)
            if let names = attachmentNames(of: chunk.map(\.version), &builder) { parts.append(names) }
            if index == chunks.count - 1 { parts.append(contentsOf: knowledgeRaise(of: touched, &builder)) }
            builder.sql = "WITH \(parts.joined(separator: ",\n")) SELECT count(*) FROM inserted"
            try await connection.execute(builder.query, logger: logger)
        }
    }

    /// One row of the insert, its values bound in `builder`.
    private func row(
        of version: Version, setAside reason: SetAsideReason?, receivedFrom: ReplicaID?,
        _ builder: inout PostgresQueryBuilder
    ) -> String {
        let sender = receivedFrom.map { builder.bind($0.hex) } ?? "NULL::text"
        let detail = reason.map { builder.bind($0.detail) } ?? "NULL::text"
        let code = reason.map { builder.bind($0.code.rawValue) } ?? "NULL::text"
        let values =
            PostgresVersionRow.bind(version, into: &builder) + [
                sender, detail, code, PostgresVersionRow.bindNewTag(into: &builder),
            ]
        return "(\(values.joined(separator: ", ")))"
    }

    /// The part recording the attachments `versions` name (as
    /// ``PostgresHubStorage/recordAttachmentNames(of:on:)`` does one by one); nil when none.
    private func attachmentNames(of versions: [Version], _ builder: inout PostgresQueryBuilder) -> String? {
        var columns: (hashes: [String], collections: [String], ids: [String], partitions: [String], origins: [String])
        columns = ([], [], [], [], [])
        for version in versions {
            for hash in AttachmentNames.named(in: version.body ?? Data()) {
                columns.hashes.append(hash)
                columns.collections.append(version.collection.rawValue)
                columns.ids.append(version.documentID.rawValue)
                columns.partitions.append(version.partition.rawValue)
                columns.origins.append(version.dot.replica.hex)
            }
        }
        guard !columns.hashes.isEmpty else { return nil }
        let arrays = [columns.hashes, columns.collections, columns.ids, columns.partitions, columns.origins]
            .map { "\(builder.bind($0))::text[]" }
        return """
            named AS (
                INSERT INTO \(schema.name).attachment_names (sha256, collection, document_id, partition, origin)
                SELECT * FROM unnest(\(arrays.joined(separator: ", ")))
                ON CONFLICT DO NOTHING)
            """
    }

    /// The parts raising the knowledge of `origins`: each one's counters held above its knowledge,
    /// those this statement inserts included (a statement does not see its own inserts), and the
    /// top of the run that continues the knowledge without a gap (`counter - rank` is the
    /// knowledge exactly along that run), as `PostgresFeed.raiseKnowledge` computes it.
    private func knowledgeRaise(of origins: Set<ReplicaID>, _ builder: inout PostgresQueryBuilder) -> [String] {
        guard !origins.isEmpty else { return [] }
        let names = builder.bind(origins.map(\.hex).sorted())
        return [
            """
            known AS (
                SELECT o.origin, coalesce(k.counter, 0) AS counter FROM unnest(\(names)::text[]) AS o(origin)
                LEFT JOIN \(schema.name).knowledge AS k ON k.origin = o.origin)
            """,
            """
            above AS (
                SELECT v.origin, v.counter FROM known JOIN \(schema.name).versions AS v
                    ON v.origin = known.origin AND v.counter > known.counter
                UNION
                SELECT origin, counter FROM inserted)
            """,
            """
            runs AS (
                SELECT above.origin, above.counter, known.counter AS known,
                    above.counter - row_number() OVER (PARTITION BY above.origin ORDER BY above.counter) AS base
                FROM above JOIN known ON known.origin = above.origin WHERE above.counter > known.counter)
            """,
            """
            raised AS (
                INSERT INTO \(schema.name).knowledge (origin, counter)
                SELECT origin, max(counter) FROM runs WHERE base = known GROUP BY origin
                ON CONFLICT (origin) DO UPDATE SET counter = GREATEST(knowledge.counter, EXCLUDED.counter))
            """,
        ]
    }
}
