import Foundation
import Hummingbird
import ServiceLifecycle
import Testing
import TestSupport

/// A Hummingbird application serving `router` on a free loopback port, for a test that plays a
/// hub by script: `body` gets its URL, and the application stops when `body` returns or throws.
enum LoopbackRouter {
    static func serve<Context: RequestContext, T>(_ router: Router<Context>, _ body: (URL) async throws -> T) async throws -> T
    where Context.Source == ApplicationRequestContextSource {
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = Application(
            router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { channel in portContinuation.yield(channel.localAddress?.port ?? 0) },
            logger: HubFixture.silentLogger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(services: [app], gracefulShutdownSignals: [], logger: HubFixture.silentLogger))
        let running = Task { try await group.run() }
        var port = 0
        for await bound in ports {
            port = bound
            break
        }
        do {
            let result = try await body(try #require(URL(string: "http://127.0.0.1:\(port)")))
            await group.triggerGracefulShutdown()
            _ = await running.result
            return result
        } catch {
            await group.triggerGracefulShutdown()
            _ = await running.result
            throw error
        }
    }
}
