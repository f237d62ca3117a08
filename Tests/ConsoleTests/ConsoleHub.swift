import AsyncHTTPClient
import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import NIOCore
import PostgresNIO
import ReplicaStore
import ServiceLifecycle
import SyncEngine
import SyncHub
import TestSupport
import Testing

/// Where a test hub keeps its data: the SQLite replica always, PostgreSQL when the PostgreSQL
/// suites run (`VIGIL_TEST_POSTGRES`, or `VIGIL_REQUIRE_POSTGRES=1`, Docs/Testing.md).
enum ConsoleBackend: String, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    static let address = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let isPostgresEnabled = address != nil || ProcessInfo.processInfo.environment["VIGIL_REQUIRE_POSTGRES"] == "1"
    /// The backends a console test that does not need document states runs on.
    static var enabled: [ConsoleBackend] { isPostgresEnabled ? [.sqlite, .postgres] : [.sqlite] }

    var testDescription: String { rawValue }
}

/// A hub with the console mounted, on 127.0.0.1 with a free port and a temporary database (a
/// SQLite file, or a PostgreSQL schema of its own, dropped at the end), and a browser-like client
/// that keeps cookies by hand and never follows redirects.
final class ConsoleHub: Sendable {
    let url: String
    let exchange: HubExchange
    let directory: URL
    /// The hub's operators, audit log and device administration, on either backend.
    let operators: any OperatorDirectory
    let auditLog: any HubAuditLog
    let administration: any DeviceAdministrationStorage
    /// The documents' states and versions the record pages read, on either backend (nil: a hub
    /// started without them, whose record pages are not served).
    private let documentPages: (any DocumentPages)?
    /// The SQLite replica; nil on PostgreSQL.
    let replica: ReplicaStore?
    private let group: ServiceGroup
    private let running: Task<Void, any Error>
    private let cleanUp: @Sendable () async -> Void

    struct NotOnThisBackend: Error, CustomStringConvertible {
        var description: String { "This test reads the hub's SQLite replica, which a hub on PostgreSQL does not have." }
    }

    struct NoDocumentStates: Error, CustomStringConvertible {
        var description: String { "This test hub was started without document states." }
    }

    /// The documents' states and versions, on either backend.
    var documents: any DocumentPages {
        get throws {
            guard let documentPages else { throw NoDocumentStates() }
            return documentPages
        }
    }

    /// The SQLite replica, for tests that only run on it.
    var store: ReplicaStore {
        get throws {
            guard let replica else { throw NotOnThisBackend() }
            return replica
        }
    }

    private init(
        url: String, exchange: HubExchange, directory: URL, group: ServiceGroup, running: Task<Void, any Error>,
        cleanUp: @escaping @Sendable () async -> Void
    ) throws {
        let backend = exchange.backend
        guard let operators = backend.operators, let auditLog = backend.auditLog, let administration = backend.administration
        else { throw ConsoleError("The test hub's backend lacks operators, an audit log or the device administration.") }
        self.url = url
        self.exchange = exchange
        self.directory = directory
        self.group = group
        self.running = running
        self.cleanUp = cleanUp
        self.operators = operators
        self.auditLog = auditLog
        self.administration = administration
        documentPages = backend.documents
        replica = (backend.replica as? SQLiteHubStorage)?.store
    }

    /// The console's settings in tests: cheap password hashing, small pages, a login limit of 3 a minute per address.
    static func testConfiguration() -> ConsoleConfiguration {
        var configuration = ConsoleConfiguration(secureCookies: false)
        configuration.passwordHasher = .testing
        configuration.loginAttemptsPerAddress = 3
        configuration.pageSize = 5
        return configuration
    }

    /// Starts a hub on `backend`; `clock` pins the hub's time (sessions, codes, versions) for tests that move it.
    /// `documentStates` false starts a hub on PostgreSQL whose backend keeps none (its record pages are not served).
    static func start(
        _ backend: ConsoleBackend = .sqlite, console: ConsoleConfiguration = testConfiguration(), clock: PinnedClock? = nil,
        documentStates: Bool = true
    ) async throws -> ConsoleHub {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = HubConfiguration()
        configuration.databasePath = directory.appendingPathComponent("hub.sqlite").path
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let logger = HubFixture.silentLogger
        let exchange: HubExchange
        var cleanUp: @Sendable () async -> Void = {}
        switch backend {
        case .sqlite:
            var options = ReplicaStore.Options()
            if let clock { options.now = { clock.tick() } }
            let storage = try SQLiteHubStorage.openOrCreate(path: configuration.databasePath, options: options, logger: logger)
            exchange = HubExchange(storage: storage, configuration: configuration, logger: logger)
        case .postgres:
            let database = try await ConsolePostgres.start()
            cleanUp = { await database.stop() }
            do {
                let now: @Sendable () -> UInt64
                if let clock { now = { clock.tick() } } else { now = PostgresDeviceTables.wallClock }
                let tables = try PostgresDeviceTables(
                    client: database.client, schema: database.schema, hubID: ReplicaID.random(), hubKey: DeviceKey(),
                    logger: ConsolePostgres.quiet, clock: now)
                let storage = try PostgresHubStorage(tables: tables)
                var parts = HubBackend(
                    storage: storage, devices: PostgresDeviceRegistry(tables: tables),
                    attachments: PostgresAttachmentStorage(tables: tables), location: "postgresql:schema \(database.schema)")
                parts.documents = documentStates ? PostgresDocumentPages(storage: storage) : nil
                parts.auditLog = PostgresAuditLog(tables: tables)
                parts.operators = PostgresOperatorDirectory(tables: tables)
                parts.administration = PostgresDeviceAdministration(tables: tables)
                exchange = HubExchange(backend: parts, configuration: configuration, logger: logger)
            } catch {
                await database.stop()
                throw error
            }
        }
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = try buildApplication(
            exchange: exchange, logger: logger, onServerRunning: { continuation.yield($0) },
            mount: HubConsole.mounting(console, logger: logger))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger))
        let running = Task {
            defer { continuation.finish() }
            try await group.run()
        }
        var port: Int?
        for await bound in ports {
            port = bound
            break
        }
        guard let port else {
            await cleanUp()
            throw ConsoleError("The test hub did not start.")
        }
        do {
            return try ConsoleHub(
                url: "http://127.0.0.1:\(port)", exchange: exchange, directory: directory, group: group, running: running,
                cleanUp: cleanUp)
        } catch {
            await group.triggerGracefulShutdown()
            _ = await running.result
            await cleanUp()
            throw error
        }
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        await cleanUp()
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a started hub on `backend`, stopped afterwards.
    static func with<T>(
        _ backend: ConsoleBackend = .sqlite, console: ConsoleConfiguration = testConfiguration(), clock: PinnedClock? = nil,
        documentStates: Bool = true, _ body: (ConsoleHub) async throws -> T
    ) async throws -> T {
        let hub = try await start(backend, console: console, clock: clock, documentStates: documentStates)
        do {
            let result = try await body(hub)
            await hub.stop()
            return result
        } catch {
            await hub.stop()
            throw error
        }
    }

    /// Where a login leads: the conflicts, or the fleet on a hub without document states.
    var home: String { documentPages == nil ? "/console/fleet" : "/console/conflicts" }

    /// Stores `versions` on the hub as a push of `pusher` (admitted in order, merged field by
    /// field where they merge), on either backend.
    @discardableResult
    func push(_ versions: [Version], from pusher: ReplicaID) async throws -> PushReport {
        try await exchange.storage.take(PushPlan(versions: versions, pusher: pusher, policy: .inOrder))
    }

    /// Writes `intents` on a fresh device replica and pushes them to the hub in one push.
    func write(_ intents: [WriteIntent]) async throws {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        let device = try folder.create("writer")
        let versions = try intents.map { try device.write($0) }
        try await push(versions, from: device.replicaID)
    }

    /// Writes `intent` on a fresh device replica and pushes it to the hub.
    func write(_ intent: WriteIntent) async throws { try await write([intent]) }

    /// Every audit entry, oldest first, on either backend.
    func auditEntries() async throws -> [AuditEntry] { try await auditLog.entries(after: 0, limit: 10_000) }
}

/// A PostgreSQL schema of its own for one console test, on the server `VIGIL_TEST_POSTGRES` names,
/// migrated, with a running connection pool; ``stop()`` drops the schema and ends the pool.
struct ConsolePostgres: Sendable {
    let client: PostgresClient
    let schema: String
    private let running: Task<Void, Never>

    static let quiet = Logger(label: "vigil.test.console.postgres", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Unavailable: Error, CustomStringConvertible {
        let description: String
    }

    static func start() async throws -> ConsolePostgres {
        guard let address = ConsoleBackend.address else {
            throw Unavailable(description: "VIGIL_REQUIRE_POSTGRES=1 but VIGIL_TEST_POSTGRES is unset: CI must start a server and name it.")
        }
        var configuration = try PostgresClient.Configuration(address: address)
        configuration.options.maximumConnections = 4
        let client = PostgresClient(configuration: configuration, backgroundLogger: quiet)
        let running = Task { await client.run() }
        let schema = "vigil_console_" + String(UInt64.random(in: .min ... .max), radix: 16)
        let database = ConsolePostgres(client: client, schema: schema, running: running)
        do {
            try await PostgresHub.reachable(client, within: .seconds(30), logger: quiet)
            try await PostgresMigrations.migrate(client, schema: schema, logger: quiet)
        } catch {
            await database.stop()
            throw error
        }
        return database
    }

    func stop() async {
        _ = try? await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: Self.quiet)
        running.cancel()
        _ = await running.value
    }
}
