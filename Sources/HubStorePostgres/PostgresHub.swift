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
    /// the hub's identity, creating it when this is the first hub process on the database.
    public static func open(
        client: PostgresClient, schema: String = "public", deviceEntriesPerHour: Int = 1_000, logger: Logger
    ) async throws -> PostgresHub {
        let name = try PostgresSchemaName(schema)
        try await PostgresMigrations.migrate(client, schema: name.name, logger: logger)
        let identity = try await Identity.readOrCreate(client: client, schema: name, logger: logger)
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

    /// The row of `hub_identity` (migration `v4-hub-identity`).
    struct Identity {
        let replica: ReplicaID
        let key: DeviceKey
        let issuedAt: UInt64

        /// Writes a fresh identity unless one is there (two processes starting at once write one),
        /// then reads the one that is.
        static func readOrCreate(client: PostgresClient, schema: PostgresSchemaName, logger: Logger) async throws -> Identity {
            let table = "\(schema.name).hub_identity"
            let fresh = (replica: ReplicaID.random(), key: DeviceKey(), issuedAt: Int64(clamping: PostgresDeviceTables.wallClock()))
            try await client.query(
                """
                INSERT INTO \(unescaped: table) (replica_id, signing_key, issued_at)
                VALUES (\(fresh.replica.hex), \(fresh.key.rawRepresentation.bytea), \(fresh.issuedAt))
                ON CONFLICT (singleton) DO NOTHING
                """, logger: logger)
            let rows = try await client.query(
                "SELECT replica_id, signing_key, issued_at FROM \(unescaped: table)", logger: logger)
            for try await (id, key, issuedAt) in rows.decode((String, Data, Int64).self) {
                guard let replica = ReplicaID(id), let key = try? DeviceKey(rawRepresentation: key) else {
                    throw PostgresStoreError(.malformedRow, "The hub's identity in \(table) is malformed.")
                }
                return Identity(replica: replica, key: key, issuedAt: UInt64(max(0, issuedAt)))
            }
            throw PostgresStoreError(.malformedRow, "The hub's identity in \(table) is missing.")
        }
    }
}

extension PostgresHub {
    /// Runs `body` with the hub in `schema` of the database at `address`
    /// (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE`); see the other `withHub`.
    public static func withHub<Result>(
        address: String, schema: String = "public", deviceEntriesPerHour: Int = 1_000, logger: Logger,
        _ body: (PostgresHub) async throws -> Result
    ) async throws -> Result {
        try await withHub(
            try PostgresClient.Configuration(address: address), schema: schema,
            deviceEntriesPerHour: deviceEntriesPerHour, logger: logger, body)
    }

    /// Runs `body` with the hub in `schema` of the database `configuration` reaches: a connection
    /// pool runs for the body's duration and stops with it. Fails with
    /// ``PostgresStoreError/Code/unreachable`` when the server accepts no connection within
    /// `answerWithin` (a pool retries connecting forever), and at once with
    /// ``PostgresStoreError/Code/tlsRefused`` when its TLS handshake fails.
    public static func withHub<Result>(
        _ configuration: PostgresClient.Configuration, schema: String = "public", deviceEntriesPerHour: Int = 1_000,
        answerWithin: Duration = .seconds(15), logger: Logger, _ body: (PostgresHub) async throws -> Result
    ) async throws -> Result {
        let failures = PostgresConnectionFailures()
        let client = PostgresClient(configuration: configuration, backgroundLogger: failures.recording(logger))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await reachable(client, within: answerWithin, logger: logger, failures: failures)
            let hub = try await open(
                client: client, schema: schema, deviceEntriesPerHour: deviceEntriesPerHour, logger: logger)
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
