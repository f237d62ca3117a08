import Foundation
public import HubStore
public import Logging
public import PostgresNIO
import SyncEngine

/// Copies a stopped hub (HubStore's ``HubExport``: a SQLite hub's file, read by HubStoreSQLite's
/// `HubFileExport`) into an empty PostgreSQL schema, so that its devices go on syncing with the
/// hub on PostgreSQL without enrolling again or pulling again:
/// the hub's identity (its id and signing key, which devices pinned: the key to the hub key
/// file, only its public half to the database, as `PostgresHub.open(keyFile:)` keeps it), the
/// feed with every position as it was (sequence, dot and tag: a device's saved pull position
/// names them), the knowledge, set-aside versions, devices, codes, grants, revocations, the
/// foreign quarantine, the audit log entry for entry (hashes and signatures as they are),
/// attachments, and the console's operators with their key pairs and the informant key with its
/// sealed copies (so an operator logs in with the same password and second factor; not their
/// sessions: they log in again).
///
/// Everything is written in one transaction: a failure leaves the schema as it was. The schema is
/// migrated first; one that holds any hub data (an identity included: a hub process started on
/// it) is refused with ``HubCopyError/Code/targetNotEmpty``.
public enum PostgresHubImport {
    /// What was copied: each table and its rows, in the order copied.
    public struct Report: Sendable {
        public var tables: [(name: String, rows: Int)] = []
        /// The feed's next position on PostgreSQL is above this one.
        public var highestPosition: Int64 = 0
    }

    /// About how many bytes of rows one batch reads from the source (at least one row).
    static let batchBytes = 8 << 20

    /// Told after each batch: the table, the rows copied of it so far, and how many it holds.
    public typealias Progress = @Sendable (_ table: String, _ copied: Int, _ total: Int) -> Void

    /// Connects to `address` (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`) and copies
    /// `source` into `schema` there; fails with ``PostgresStoreError/Code/unreachable`` when the
    /// server accepts no connection within 15 seconds, with ``PostgresStoreError/Code/tlsRefused``
    /// as soon as its TLS certificate is refused. The hub's signing key goes to `keyFile` (see the
    /// other `copy`).
    public static func copy(
        _ source: some HubExport, to address: String, schema: String, keyFile: String, batchRows: Int = 1_000,
        logger: Logger, progress: @escaping Progress = { _, _, _ in }
    ) async throws -> Report {
        // As `PostgresHub.withHub`: a refused TLS certificate ends the wait at once, and an
        // unreachable server's sentence names what the last attempt met.
        let failures = PostgresConnectionFailures()
        let client = PostgresClient(
            configuration: try PostgresClient.Configuration(address: address),
            backgroundLogger: failures.recording(logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await PostgresHub.reachable(client, within: .seconds(15), logger: logger, failures: failures)
            return try await copy(
                source, into: client, schema: schema, keyFile: keyFile, batchRows: batchRows, logger: logger,
                progress: progress)
        }
    }

    /// Copies `source` into `schema` of the database `client` reaches (the client must be running).
    /// The hub's signing key goes to `keyFile` (written when missing, else it must hold the same
    /// key: the SQLite hub's own key file has its form) and only its public half to the database,
    /// as `syncd serve --hub-key` keeps it; the copy never writes the private key to the database.
    public static func copy(
        _ source: some HubExport, into client: PostgresClient, schema: String, keyFile: String,
        batchRows: Int = 1_000, logger: Logger, progress: @escaping Progress = { _, _, _ in }
    ) async throws -> Report {
        let key = try DeviceKey(rawRepresentation: source.signingKey)
        try PostgresHubKeyFile(path: keyFile).keep(key, whose: "the copied hub's")
        let schema = try PostgresSchemaName(schema)
        try await PostgresMigrations.migrate(client, schema: schema.name, logger: logger)
        return try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .readWrite, logger: logger) { connection in
                let writer = Writer(schema: schema, connection: connection, logger: logger)
                try await writer.lockAndCheckEmpty()
                try await writer.insertIdentity(of: source)
                var report = Report()
                for table in HubExportTable.all {
                    let total = try await source.count(table)
                    var copied = 0
                    var cursor: HubExportCursor? = .start
                    while let after = cursor {
                        let batch = try await source.rows(
                            of: table, after: after, limit: batchRows, maxBytes: Self.batchBytes)
                        try await writer.insert(batch.rows, into: table)
                        copied += batch.rows.count
                        cursor = batch.next
                        progress(table.name, copied, total)
                    }
                    report.tables.append((table.name, copied))
                }
                report.highestPosition = try await source.highestFeedPosition()
                try await writer.continueFeed(above: report.highestPosition)
                try await writer.moveAuditHead()
                // Every document's state from the versions copied (under the documents' umbrella).
                try await PostgresDocumentStates.fill(schema: schema, on: connection, logger: logger)
                logger.notice(
                    "hub copied into PostgreSQL",
                    metadata: [
                        "postgres.schema": "\(schema.name)", "hub.replica": "\(source.hubID.hex)",
                        "hub.versions": "\(report.tables.first { $0.name == "versions" }?.rows ?? 0)",
                    ])
                return report
            }
        }
    }

    /// The statements of one copy, on its transaction's connection.
    struct Writer {
        let schema: PostgresSchemaName
        let connection: PostgresConnection
        let logger: Logger

        func table(_ name: String) -> String { "\(schema.name).\(name)" }

        /// The tables a hub writes: any row in one means the schema holds a hub already.
        static let hubTables = [
            "hub_identity", "versions", "knowledge", "devices", "enrollment_codes", "device_incarnations", "grant_sets",
            "revocations", "hub_writers", "verification_reports", "foreign_quarantine", "attachment_chunks",
            "attachments", "attachment_names", "attachment_uploads", "audit_log", "audit_suppressed", "operators",
            "informant_keys",
        ]

        /// Locks out hub processes starting on the schema (they write its identity), pushes,
        /// revocations and appends, then refuses a schema that holds any hub data. Its locks follow
        /// the global order (``PostgresGuards``): the identity's table, every origin and every
        /// document (their umbrellas, exclusively), the audit chain's head, the feed.
        func lockAndCheckEmpty() async throws {
            try await connection.execute(
                PostgresQuery(unsafeSQL: "LOCK TABLE \(table("hub_identity")) IN EXCLUSIVE MODE"), logger: logger)
            try await PostgresGuards.take(
                [
                    (PostgresGuards.umbrella(.origin, schema: schema.name), false),
                    (PostgresGuards.umbrella(.document, schema: schema.name), false),
                ], on: connection, logger: logger)
            try await connection.execute(
                PostgresQuery(unsafeSQL: "SELECT seq FROM \(table("audit_head")) FOR UPDATE"), logger: logger)
            try await connection.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(\(PostgresGuards.feedKey(schema: schema.name)), 0))",
                logger: logger)
            let checks =
                Self.hubTables.map { "SELECT '\($0)'::text WHERE EXISTS (SELECT 1 FROM \(table($0)))" }
                + ["SELECT 'audit_head'::text WHERE EXISTS (SELECT 1 FROM \(table("audit_head")) WHERE seq <> 0)"]
            let rows = try await connection.query(
                PostgresQuery(unsafeSQL: checks.joined(separator: " UNION ALL ")), logger: logger)
            var held: [String] = []
            for try await name in rows.decode(String.self) { held.append(name) }
            guard held.isEmpty else {
                throw HubCopyError(
                    .targetNotEmpty,
                    "The schema \(schema.name) holds a hub's data already (\(held.joined(separator: ", "))); nothing was copied."
                )
            }
        }

        /// The hub's identity: its id, the public half of its signing key (the key is in the hub
        /// key file) and its own certificate's time.
        func insertIdentity(of source: some HubExport) async throws {
            let key = try DeviceKey(rawRepresentation: source.signingKey)
            try await connection.execute(
                """
                INSERT INTO \(unescaped: table("hub_identity")) (replica_id, public_key, issued_at)
                VALUES (\(source.hubID.hex), \(key.publicKey.rawRepresentation.bytea), \(source.createdAt))
                """, logger: logger)
        }

        /// Inserts `rows` of `exported` in one statement (with, for versions, the attachments their
        /// bodies name); a row PostgreSQL refuses fails with ``HubCopyError/Code/malformedRow``.
        func insert(_ rows: [[HubExportValue]], into exported: HubExportTable) async throws {
            guard !rows.isEmpty else { return }
            var builder = PostgresQueryBuilder()
            let values = rows.map { row in
                "(" + zip(row, exported.columns).map { bind($0, as: $1.kind, into: &builder) }.joined(separator: ", ")
                    + ")"
            }
            let overriding = exported.name == HubExportTable.versions.name ? " OVERRIDING SYSTEM VALUE" : ""
            var statement = """
                INSERT INTO \(table(exported.name)) (\(exported.columns.map(\.name).joined(separator: ", ")))\(overriding)
                VALUES \(values.joined(separator: ", "))
                """
            if exported.name == HubExportTable.versions.name, let names = attachmentNames(of: rows, &builder) {
                statement = "WITH inserted AS (\(statement) RETURNING 1), \(names) SELECT count(*) FROM inserted"
            }
            builder.sql = statement
            do {
                try await connection.execute(builder.query, logger: logger)
            } catch let error as PSQLError where error.serverInfo != nil {
                let refusal = PostgresStoreError.serverMessage(of: error) ?? "PostgreSQL refused it."
                throw HubCopyError(
                    .malformedRow, "A row of the hub file's \(exported.name) does not fit PostgreSQL: \(refusal)")
            }
        }

        private func bind(
            _ value: HubExportValue, as kind: HubExportTable.Kind, into builder: inout PostgresQueryBuilder
        ) -> String {
            switch value {
            case .null:
                switch kind {
                case .integer, .feedTag: "NULL::bigint"
                case .boolean: "NULL::boolean"
                case .text, .replicaID: "NULL::text"
                case .blob: "NULL::bytea"
                case .textArray: "NULL::text[]"
                }
            case .integer(let number): "\(builder.bind(number))::bigint"
            case .text(let text): "\(builder.bind(text))::text"
            case .blob(let data): "\(builder.bind(bytes: data))::bytea"
            case .boolean(let flag): "\(builder.bind(flag))::boolean"
            case .texts(let texts): "\(builder.bind(texts))::text[]"
            }
        }

        /// The part recording the attachments the bodies of `rows` (of ``HubExportTable/versions``)
        /// name, as a push records them; nil when they name none.
        private func attachmentNames(of rows: [[HubExportValue]], _ builder: inout PostgresQueryBuilder) -> String? {
            let index = Dictionary(
                uniqueKeysWithValues: HubExportTable.versions.columns.enumerated().map { ($1.name, $0) })
            func text(_ row: [HubExportValue], _ column: String) -> String? {
                guard let at = index[column], case .text(let text) = row[at] else { return nil }
                return text
            }
            var columns: [[String]] = Array(repeating: [], count: 5)
            for row in rows {
                guard let at = index["body"], case .blob(let body) = row[at], let origin = text(row, "origin"),
                    let collection = text(row, "collection"), let id = text(row, "document_id"),
                    let partition = text(row, "partition")
                else { continue }
                for hash in AttachmentNames.named(in: body) {
                    for (column, value) in [hash, collection, id, partition, origin].enumerated() {
                        columns[column].append(value)
                    }
                }
            }
            guard !columns[0].isEmpty else { return nil }
            let arrays = columns.map { "\(builder.bind($0))::text[]" }
            return """
                named AS (
                    INSERT INTO \(table("attachment_names")) (sha256, collection, document_id, partition, origin)
                    SELECT * FROM unnest(\(arrays.joined(separator: ", ")))
                    ON CONFLICT DO NOTHING)
                """
        }

        /// Sets the feed's sequence so that the next version stored goes above `position`.
        func continueFeed(above position: Int64) async throws {
            guard position > 0 else { return }
            try await connection.execute(
                "SELECT setval(pg_get_serial_sequence(\(table("versions")), 'seq'), \(position))", logger: logger)
        }

        /// Moves the audit log's head to its last entry copied, so the next append continues the chain.
        func moveAuditHead() async throws {
            try await connection.execute(
                """
                UPDATE \(unescaped: table("audit_head")) AS h SET seq = l.seq, hash = l.hash
                FROM (SELECT seq, hash FROM \(unescaped: table("audit_log")) ORDER BY seq DESC LIMIT 1) AS l
                """, logger: logger)
        }
    }
}
