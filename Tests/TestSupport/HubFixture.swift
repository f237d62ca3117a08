public import Foundation
public import HubStore
import HubStoreSQLite
public import Logging
public import ReplicaStore
import ServiceLifecycle
import SyncClient
public import SyncEngine
public import SyncHub

/// A hub running in this process on 127.0.0.1 with a free port, a temporary database and one
/// device enrolled, for tests. Stop it with ``stop()`` (or use ``withHub(configure:_:)``).
///
/// Requests with ``token`` must speak for ``deviceID``; enroll a test replica with
/// ``enroll(_:name:)`` to sync it.
public final class HubFixture: Sendable {
    /// The hub's base URL, such as `http://127.0.0.1:41234`.
    public let url: URL
    /// The bound port.
    public let port: Int
    /// The credential of the device enrolled at start (replica ``deviceID``).
    public let token: String
    /// The replica id of the device enrolled at start (it has no replica file).
    public let deviceID: ReplicaID
    /// The key of the device enrolled at start, to sign versions as it.
    public let deviceKey: DeviceKey
    /// The hub's replica (its database, with the device registry).
    public let store: ReplicaStore
    /// The hub's configuration (its database path is in ``directory``).
    public let configuration: HubConfiguration
    /// The exchange behind the routes, for looking at the hub's storage directly.
    public let exchange: HubExchange
    /// The temporary folder holding the hub's database, removed by ``stop()``.
    public let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        url: URL, port: Int, token: String, deviceID: ReplicaID, deviceKey: DeviceKey, store: ReplicaStore,
        configuration: HubConfiguration, exchange: HubExchange, directory: URL,
        group: ServiceGroup, running: Task<Void, any Error>
    ) {
        self.url = url
        self.port = port
        self.token = token
        self.deviceID = deviceID
        self.deviceKey = deviceKey
        self.store = store
        self.configuration = configuration
        self.exchange = exchange
        self.directory = directory
        self.group = group
        self.running = running
    }

    /// A logger that drops everything: tests do not bootstrap logging.
    public static let silentLogger = Logger(label: "vigil.test.hub") { _ in SwiftLogNoOpLogHandler() }

    /// Starts a hub; returns once it listens (or throws after `timeout` seconds).
    ///
    /// `wrapStorage` may wrap the hub's SQLite storage (to slow it down, count calls, fail).
    public static func start(
        logger: Logger = silentLogger, timeout: Duration = .seconds(30),
        configure: (inout HubConfiguration) -> Void = { _ in },
        wrapStorage: (any HubStorage) -> any HubStorage = { $0 }
    ) async throws -> HubFixture {
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-hub-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = HubConfiguration()
        configuration.databasePath = directory.appendingPathComponent("hub.sqlite").path
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configure(&configuration)
        do {
            let storage = try SQLiteHubStorage.openOrCreate(path: configuration.databasePath, logger: logger)
            var backend = HubBackend.sqlite(storage)
            backend.storage = wrapStorage(storage)
            let exchange = HubExchange(backend: backend, configuration: configuration, logger: logger)
            let deviceKey = DeviceKey()
            let deviceID = ReplicaID.random()
            let token = try await Self.enroll(
                name: "fixture-device", store: storage.store, exchange: exchange
            ) { try EnrollmentRequest(code: $0, replica: deviceID, key: deviceKey) }
            let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
            let app = try buildApplication(exchange: exchange, logger: logger) { port in
                portContinuation.yield(port)
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: logger))
            let running = Task {
                defer { portContinuation.finish() }
                try await group.run()
            }
            let port = try await withThrowingTaskGroup(of: Int?.self) { tasks in
                tasks.addTask {
                    for await port in ports { return port }
                    return nil
                }
                tasks.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                let first = try await tasks.next() ?? nil
                tasks.cancelAll()
                return first
            }
            guard let port, let url = URL(string: "http://127.0.0.1:\(port)") else {
                running.cancel()
                _ = await running.result
                throw HubFixtureError(message: "The test hub did not start listening within \(timeout).")
            }
            return HubFixture(
                url: url, port: port, token: token, deviceID: deviceID, deviceKey: deviceKey, store: storage.store,
                configuration: configuration, exchange: exchange, directory: directory, group: group, running: running)
        } catch {
            try? FileManager.default.removeItem(at: directory)
            throw error
        }
    }

    /// Shuts the hub down gracefully (in-flight exchanges finish) and removes its folder.
    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a started hub, stopped and removed afterwards.
    public static func withHub<T>(
        configure: (inout HubConfiguration) -> Void = { _ in },
        _ body: (HubFixture) async throws -> T
    ) async throws -> T {
        let hub = try await start(configure: configure)
        do {
            let result = try await body(hub)
            await hub.stop()
            return result
        } catch {
            await hub.stop()
            throw error
        }
    }

    /// Enrolls `replica`'s device with `grants` (as an operator's code and `fieldcli enroll` would)
    /// and returns its credential; with `save`, also saves it with the hub's URL in the replica's
    /// credential file, so that `fieldcli sync` needs no flags.
    @discardableResult
    public func enroll(
        _ replica: ReplicaStore, name: String? = nil, grants: AccessGrants = .everything, save: Bool = false
    ) async throws -> String {
        let credential = try await Self.enroll(
            name: name ?? "device-\(replica.replicaID.short)", grants: grants, store: store, exchange: exchange
        ) { try replica.enrollmentRequest(code: $0) }
        // As `fieldcli enroll` saves it: sealed under the data key of an encrypted replica.
        if save { try HubCredentials(url: url, token: credential).saveToken(for: replica) }
        return credential
    }

    /// Enrolls a device with no replica file, by id and key, with `grants`; returns its credential.
    public func enroll(
        _ replica: ReplicaID, key: DeviceKey, name: String, grants: AccessGrants = .everything
    ) async throws -> String {
        try await Self.enroll(name: name, grants: grants, store: store, exchange: exchange) {
            try EnrollmentRequest(code: $0, replica: replica, key: key)
        }
    }

    /// Gives out an enrollment code for `name`, as `syncd devices add` does.
    public func enrollmentCode(name: String, lifetime: Duration = .seconds(3_600)) async throws -> String {
        try await DeviceAdministration(store: store).addDevice(name: name, lifetime: lifetime).code
    }

    /// Gives out a code for `name` with `grants`, enrolls with the request `signed` makes of it,
    /// and returns the credential.
    static func enroll(
        name: String, grants: AccessGrants = .everything, store: ReplicaStore, exchange: HubExchange,
        signed: (_ code: String) throws -> EnrollmentRequest
    ) async throws -> String {
        let code = try await DeviceAdministration(store: store).addDevice(name: name, grants: grants, lifetime: .seconds(3_600)).code
        return try await exchange.enroll(try signed(code), logger: silentLogger).credential
    }

    /// The URL of `path` on this hub, such as `/v1/sync`.
    public func url(_ path: String) -> URL {
        url.appendingPathComponent(path.hasPrefix("/") ? String(path.dropFirst()) : path)
    }
}

/// The test hub could not start.
public struct HubFixtureError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension HubConfiguration {
    /// The defaults without signature verification, for tests of the exchange's mechanics whose
    /// replicas are not enrolled (trust is tested on its own, in `Trust*` suites).
    public static var withoutSignatureChecks: HubConfiguration {
        var configuration = HubConfiguration()
        configuration.verifySignatures = false
        return configuration
    }
}
