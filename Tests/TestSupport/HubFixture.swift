public import Foundation
public import Logging
import ServiceLifecycle
public import SyncHub

/// A hub running in this process on 127.0.0.1 with a free port, a temporary database and a known
/// token, for tests. Stop it with ``stop()`` (or use ``withHub(token:configure:_:)``).
public final class HubFixture: Sendable {
    /// The hub's base URL, such as `http://127.0.0.1:41234`.
    public let url: URL
    /// The bound port.
    public let port: Int
    /// The bearer token clients must send.
    public let token: String
    /// The hub's configuration (its database path is in ``directory``).
    public let configuration: HubConfiguration
    /// The exchange behind the routes, for looking at the hub's storage directly.
    public let exchange: HubExchange
    /// The temporary folder holding the hub's database, removed by ``stop()``.
    public let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(
        url: URL, port: Int, token: String, configuration: HubConfiguration, exchange: HubExchange, directory: URL,
        group: ServiceGroup, running: Task<Void, any Error>
    ) {
        self.url = url
        self.port = port
        self.token = token
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
        token: String = "test-token", logger: Logger = silentLogger, timeout: Duration = .seconds(30),
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
        configuration.token = token
        configure(&configuration)
        do {
            let storage = try SQLiteHubStorage.openOrCreate(path: configuration.databasePath, logger: logger)
            let exchange = HubExchange(storage: wrapStorage(storage), configuration: configuration, logger: logger)
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
                url: url, port: port, token: token, configuration: configuration, exchange: exchange,
                directory: directory, group: group, running: running)
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
        token: String = "test-token", configure: (inout HubConfiguration) -> Void = { _ in },
        _ body: (HubFixture) async throws -> T
    ) async throws -> T {
        let hub = try await start(token: token, configure: configure)
        do {
            let result = try await body(hub)
            await hub.stop()
            return result
        } catch {
            await hub.stop()
            throw error
        }
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
