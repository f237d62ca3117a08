import AsyncHTTPClient
import Foundation
import HubConsole
import HubStore
import Logging
import NIOCore
import ReplicaStore
import ServiceLifecycle
import SyncEngine
import SyncHub
import TestSupport

/// A hub with the console mounted, on 127.0.0.1 with a free port and a temporary database, and
/// a browser-like client that keeps cookies by hand and never follows redirects.
final class ConsoleHub: Sendable {
    let url: String
    let store: ReplicaStore
    let exchange: HubExchange
    let directory: URL
    private let group: ServiceGroup
    private let running: Task<Void, any Error>

    private init(url: String, store: ReplicaStore, exchange: HubExchange, directory: URL, group: ServiceGroup, running: Task<Void, any Error>) {
        self.url = url
        self.store = store
        self.exchange = exchange
        self.directory = directory
        self.group = group
        self.running = running
    }

    /// The console's settings in tests: cheap password hashing, small pages, a login limit of 3 a minute per address.
    static func testConfiguration() -> ConsoleConfiguration {
        var configuration = ConsoleConfiguration(secureCookies: false)
        configuration.passwordHasher = .testing
        configuration.loginAttemptsPerAddress = 3
        configuration.pageSize = 5
        return configuration
    }

    /// Starts a hub; `clock` pins the hub's time (sessions, codes, versions) for tests that move it.
    static func start(console: ConsoleConfiguration = testConfiguration(), clock: PinnedClock? = nil) async throws -> ConsoleHub {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-console-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        var configuration = HubConfiguration()
        configuration.databasePath = directory.appendingPathComponent("hub.sqlite").path
        configuration.host = "127.0.0.1"
        configuration.port = 0
        let logger = HubFixture.silentLogger
        var options = ReplicaStore.Options()
        if let clock { options.now = { clock.tick() } }
        let storage = try SQLiteHubStorage.openOrCreate(path: configuration.databasePath, options: options, logger: logger)
        let exchange = HubExchange(storage: storage, configuration: configuration, logger: logger)
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
        guard let port else { throw ConsoleError("The test hub did not start.") }
        return ConsoleHub(
            url: "http://127.0.0.1:\(port)", store: storage.store, exchange: exchange, directory: directory, group: group,
            running: running)
    }

    func stop() async {
        await group.triggerGracefulShutdown()
        _ = await running.result
        try? FileManager.default.removeItem(at: directory)
    }

    /// Runs `body` with a started hub, stopped afterwards.
    static func with<T>(
        console: ConsoleConfiguration = testConfiguration(), clock: PinnedClock? = nil, _ body: (ConsoleHub) async throws -> T
    ) async throws -> T {
        let hub = try await start(console: console, clock: clock)
        do {
            let result = try await body(hub)
            await hub.stop()
            return result
        } catch {
            await hub.stop()
            throw error
        }
    }
}
