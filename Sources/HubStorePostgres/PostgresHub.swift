import Foundation
public import HubStore
public import Logging
public import PostgresNIO
import SyncEngine

/// A hub on PostgreSQL as its composition root opens it (`syncd serve --postgres`, `syncd devices
/// --postgres`): the schema migrated, the hub's identity read (written by the first process that
/// ever started on this database), and every part over one set of device tables.
///
/// Several hub processes open the same database and schema: they migrate once, read the same
/// identity, and serve one network.
public struct PostgresHub: Sendable {
    /// The device tables, with the hub's identity and clock, that every part shares.
    public let tables: PostgresDeviceTables

    /// Migrates `schema` of the database `client` reaches (the client must be running), then reads
    /// the hub's identity, creating it when this is the first hub process on the database. The
    /// exchange's statements are prepared when `client`'s connections search `schema` alone
    /// (``PostgresStatementMode``), else sent as text.
    ///
    /// With `keyFile`, the hub's signing key is kept in that file and the database holds only its
    /// public half (``Identity``). Without it only a database whose row still holds the key (a hub
    /// from before `--hub-key`) opens; a schema with no hub yet is refused with
    /// ``PostgresStoreError/Code/hubKeyApart`` before anything is written to it.
    public static func open(
        client: PostgresClient, schema: String = "public", deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault, keyFile: String? = nil,
        logger: Logger
    ) async throws -> PostgresHub {
        let name = try PostgresSchemaName(schema)
        let file = keyFile.map(PostgresHubKeyFile.init)
        if file == nil, try await !Identity.isHeld(in: name, client: client, logger: logger) {
            throw Identity.newHubWithoutKeyFile(in: name)
        }
        try await PostgresMigrations.migrate(client, schema: name.name, logger: logger)
        let identity = try await Identity.readOrCreate(client: client, schema: name, keyFile: file, logger: logger)
        return PostgresHub(
            tables: try PostgresDeviceTables(
                client: client, schema: name.name, hubID: identity.replica, hubKey: identity.key,
                hubIssuedAt: identity.issuedAt, deviceEntriesPerHour: deviceEntriesPerHour, logger: logger))
    }

    /// The hub's persistence for its exchange and routes: pushes and pages, devices, attachments,
    /// the audit log, the console's operators and the informant key, and the documents' states
    /// the console's record pages read (``PostgresDocumentPages``).
    public func backend() throws -> HubBackend {
        let storage = try PostgresHubStorage(tables: tables)
        var backend = HubBackend(
            storage: storage, devices: PostgresDeviceRegistry(tables: tables),
            attachments: PostgresAttachmentStorage(tables: tables), location: "postgresql:schema \(tables.schema.name)")
        backend.documents = PostgresDocumentPages(storage: storage)
        backend.auditLog = auditLog
        backend.operators = operators
        backend.administration = administration
        return backend
    }

    /// The console's operators and the network's informant key (`syncd operators`, `syncd informant-key`).
    public var operators: PostgresOperatorDirectory { PostgresOperatorDirectory(tables: tables) }

    /// What the operator's `syncd devices` commands change.
    public var administration: PostgresDeviceAdministration { PostgresDeviceAdministration(tables: tables) }

    /// Checks that `address` is a PostgreSQL address and `schema` a schema name this store takes,
    /// without connecting.
    public static func checked(address: String, schema: String) throws {
        _ = try PostgresClient.Configuration(address: address)
        _ = try PostgresSchemaName(schema)
    }

    /// The hub's identity: its replica id and signing key, and when its own certificate says it
    /// was issued, from the row of `hub_identity` (migrations `v4-hub-identity` and
    /// `v14-hub-key-apart`) and, when the key is kept apart, the hub key file.
    struct Identity {
        let replica: ReplicaID
        let key: DeviceKey
        let issuedAt: UInt64

        /// The row as it is: the private key when the database still holds it, else the public half.
        private struct Row {
            let replica: ReplicaID
            let signingKey: DeviceKey?
            let publicKey: Data?
            let issuedAt: UInt64
        }

        /// Reads the identity. With `keyFile`, see ``keptApart(in:file:client:logger:)``: a database
        /// with none gets a fresh one (two processes starting at once write one). Without it, the
        /// key is read from the row of a database from before `v14-hub-key-apart`; a database with
        /// no identity, or whose key is kept apart, is refused (``Code/hubKeyApart``) and nothing
        /// is written: no new hub ever keeps its private key in the database.
        static func readOrCreate(
            client: PostgresClient, schema: PostgresSchemaName, keyFile: PostgresHubKeyFile?, logger: Logger
        ) async throws -> Identity {
            let table = "\(schema.name).hub_identity"
            guard let keyFile else {
                guard try await exists(table, client: client, logger: logger) else { throw newHubWithoutKeyFile(in: schema) }
                let row = try await read(table, client: client, logger: logger)
                guard let key = row.signingKey else {
                    throw PostgresStoreError(.hubKeyApart, "The hub's signing key is kept apart from \(table), in a hub key file, and none was given.")
                }
                return Identity(replica: row.replica, key: key, issuedAt: row.issuedAt)
            }
            return try await keptApart(in: table, file: keyFile, client: client, logger: logger)
        }

        /// The refusal to open a schema that holds no hub yet without a hub key file.
        static func newHubWithoutKeyFile(in schema: PostgresSchemaName) -> PostgresStoreError {
            PostgresStoreError(
                .hubKeyApart,
                "The schema \(schema.name) holds no hub yet: a new hub on PostgreSQL keeps its signing key in a hub key file, and none was given.")
        }

        /// Whether `schema` holds a hub's identity, read without creating or migrating anything
        /// (false when it has no `hub_identity` table, or no schema at all).
        static func isHeld(in schema: PostgresSchemaName, client: PostgresClient, logger: Logger) async throws -> Bool {
            let table = "\(schema.name).hub_identity"
            let rows = try await client.query("SELECT to_regclass(\(table)) IS NOT NULL", logger: logger)
            var present = false
            for try await found in rows.decode(Bool.self) { present = found }
            guard present else { return false }
            return try await exists(table, client: client, logger: logger)
        }

        /// The identity with its key in `file` and only the public half in the database:
        /// - a key still in the database is written to the file (or must be the file's) and then
        ///   removed from the database, so that later dumps and backups hold no private key;
        /// - on a database with no identity yet, the file's key, or a new one written to the file
        ///   first, becomes the hub's;
        /// - otherwise the file must hold the key whose public half the database has.
        static func keptApart(
            in table: String, file: PostgresHubKeyFile, client: PostgresClient, logger: Logger
        ) async throws -> Identity {
            try await keptApart(in: table, file: file, firstLook: try file.load(), client: client, logger: logger)
        }

        /// ``keptApart(in:file:client:logger:)`` given what the file held when this process first
        /// looked, before it read the database. A process that found no file and then an identity
        /// looks again: another process starting at the same time writes the file before the row.
        static func keptApart(
            in table: String, file: PostgresHubKeyFile, firstLook: DeviceKey?, client: PostgresClient, logger: Logger
        ) async throws -> Identity {
            var local = firstLook
            var created = false
            if local == nil {
                if try await exists(table, client: client, logger: logger) {
                    local = try file.load()
                } else {
                    let fresh = DeviceKey()
                    created = try file.create(fresh)
                    local = created ? fresh : try file.load()
                }
            }
            if let local { try await insert(into: table, publicHalfOf: local, client: client, logger: logger) }
            let row = try await read(table, client: client, logger: logger)
            if let inDatabase = row.signingKey {
                try file.keep(inDatabase, whose: "the hub's in \(table)")
                try await removeSigningKey(from: table, keeping: inDatabase, client: client, logger: logger)
                return Identity(replica: row.replica, key: inDatabase, issuedAt: row.issuedAt)
            }
            guard let local, row.publicKey == local.publicKey.rawRepresentation else {
                if created { file.remove() }
                throw PostgresStoreError(
                    .hubKeyMismatch,
                    local == nil
                        ? "The hub's signing key is kept apart from \(table) and the hub key file \(file.path) is missing."
                        : "The hub key file \(file.path) holds another key than the hub's, whose public half is in \(table).")
            }
            return Identity(replica: row.replica, key: local, issuedAt: row.issuedAt)
        }

        /// Writes a new identity with the public half of `signingKey` (the key is in the hub key
        /// file) unless the database has one.
        private static func insert(
            into table: String, publicHalfOf signingKey: DeviceKey, client: PostgresClient, logger: Logger
        ) async throws {
            let replica = ReplicaID.random()
            let issuedAt = Int64(clamping: PostgresDeviceTables.wallClock())
            try await client.query(
                """
                INSERT INTO \(unescaped: table) (replica_id, public_key, issued_at)
                VALUES (\(replica.hex), \(signingKey.publicKey.rawRepresentation.bytea), \(issuedAt))
                ON CONFLICT (singleton) DO NOTHING
                """, logger: logger)
        }

        private static func exists(_ table: String, client: PostgresClient, logger: Logger) async throws -> Bool {
            let rows = try await client.query("SELECT count(*) FROM \(unescaped: table)", logger: logger)
            for try await count in rows.decode(Int64.self) { return count > 0 }
            return false
        }

        private static func read(_ table: String, client: PostgresClient, logger: Logger) async throws -> Row {
            let rows = try await client.query(
                "SELECT replica_id, signing_key, public_key, issued_at FROM \(unescaped: table)", logger: logger)
            for try await (id, signingKey, publicKey, issuedAt) in rows.decode((String, Data?, Data?, Int64).self) {
                guard let replica = ReplicaID(id), signingKey != nil || publicKey?.count == 32 else {
                    throw PostgresStoreError(.malformedRow, "The hub's identity in \(table) is malformed.")
                }
                let key = try signingKey.map { raw in
                    do { return try DeviceKey(rawRepresentation: raw) } catch {
                        throw PostgresStoreError(.malformedRow, "The hub's identity in \(table) is malformed.")
                    }
                }
                return Row(replica: replica, signingKey: key, publicKey: publicKey, issuedAt: UInt64(max(0, issuedAt)))
            }
            throw PostgresStoreError(.malformedRow, "The hub's identity in \(table) is missing.")
        }

        /// Clears the private key from the row (it is in the key file now), keeping its public half.
        private static func removeSigningKey(
            from table: String, keeping key: DeviceKey, client: PostgresClient, logger: Logger
        ) async throws {
            try await client.query(
                """
                UPDATE \(unescaped: table) SET signing_key = NULL, public_key = \(key.publicKey.rawRepresentation.bytea)
                WHERE signing_key = \(key.rawRepresentation.bytea)
                """, logger: logger)
        }
    }
}

extension PostgresHub {
    /// Runs `body` with the hub in `schema` of the database at `address`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`); see the other `withHub`.
    public static func withHub<Result>(
        address: String, schema: String = "public", deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault, keyFile: String? = nil,
        logger: Logger, _ body: (PostgresHub) async throws -> Result
    ) async throws -> Result {
        try await withHub(
            try PostgresClient.Configuration(address: address), schema: schema,
            deviceEntriesPerHour: deviceEntriesPerHour, keyFile: keyFile, logger: logger, body)
    }

    /// Runs `body` with the hub in `schema` of the database `configuration` reaches: a connection
    /// pool runs for the body's duration and stops with it. Fails with
    /// ``PostgresStoreError/Code/unreachable`` when the server accepts no connection within
    /// `answerWithin` (a pool retries connecting forever), and at once with
    /// ``PostgresStoreError/Code/tlsRefused`` when its TLS handshake fails.
    public static func withHub<Result>(
        _ configuration: PostgresClient.Configuration, schema: String = "public", deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault,
        keyFile: String? = nil, answerWithin: Duration = .seconds(15), logger: Logger,
        _ body: (PostgresHub) async throws -> Result
    ) async throws -> Result {
        let failures = PostgresConnectionFailures()
        // Its connections search the hub's schema alone, so the exchange's statements are prepared
        // (parsed once per connection), and plan each call with its parameters: a generic plan
        // made while a table is small stays until the table is analyzed again, and under
        // `hub-load-postgres` the page with nothing new took 8 times as long to execute with it.
        var configuration = configuration
        try configuration.searchPath(schema)
        configuration.options.additionalStartupParameters.append(("plan_cache_mode", "force_custom_plan"))
        let client = PostgresClient(configuration: configuration, backgroundLogger: failures.recording(logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await reachable(client, within: answerWithin, logger: logger, failures: failures)
            let hub = try await open(
                client: client, schema: schema, deviceEntriesPerHour: deviceEntriesPerHour, keyFile: keyFile, logger: logger)
            return try await body(hub)
        }
    }

    /// Returns once `client` answers a query; throws ``PostgresStoreError/Code/unreachable`` when
    /// it does not within `limit`, naming the last failed attempt `failures` saw (the logger of
    /// `client` must be ``PostgresConnectionFailures/recording(_:)``'s), and
    /// ``PostgresStoreError/Code/tlsRefused`` as soon as an attempt's TLS handshake failed (a
    /// certificate refused does not heal by waiting).
    public static func reachable(
        _ client: PostgresClient, within limit: Duration, logger: Logger,
        failures: PostgresConnectionFailures = PostgresConnectionFailures()
    ) async throws {
        let answered = try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                let rows = try await client.query("SELECT 1", logger: logger)
                for try await _ in rows {}
                return true
            }
            group.addTask {
                let deadline = ContinuousClock.now + limit
                while ContinuousClock.now < deadline {
                    if let refusal = failures.tlsRefusal { throw refusal }
                    try await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            defer { group.cancelAll() }
            return try await group.next() ?? false
        }
        guard answered else {
            let last = failures.lastFailureSummary.map { " The last attempt failed: \($0)." } ?? ""
            throw PostgresStoreError(
                .unreachable,
                "The PostgreSQL server accepted no connection within \(limit.components.seconds) seconds.\(last)")
        }
    }
}
