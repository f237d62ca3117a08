import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SyncHub

extension Syncd {
    /// `syncd serve`: runs the hub until SIGTERM or SIGINT, then finishes in-flight exchanges.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a hub: the replica every field device syncs with over HTTP.",
            discussion: """
                Without --token (or VIGIL_HUB_TOKEN) the hub generates a bearer token on first start \
                and keeps it in <db>.token (mode 0600); give it to clients from there.
                """)

        @Option(name: .long, help: "The hub's replica file, created if missing (default: $VIGIL_HUB_DB, else hub.sqlite).")
        var db: String?

        @Option(name: .long, help: "The address to listen on, HOST:PORT; port 0 picks a free one (default: 127.0.0.1:8080).")
        var listen: String?

        @Option(name: .long, help: "The bearer token clients must send (default: $VIGIL_HUB_TOKEN, else the token file).")
        var token: String?

        @Option(name: .long, help: "trace, debug, info, notice, warning, error or critical.")
        var logLevel: String = "info"

        func validate() throws {
            if let listen, HubConfiguration.parseListenAddress(listen) == nil {
                throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8080 (port 0 to 65535).")
            }
            if Logger.Level(rawValue: logLevel.lowercased()) == nil {
                throw ValidationError("--log-level takes trace, debug, info, notice, warning, error or critical.")
            }
            if let token, token.isEmpty { throw ValidationError("--token must not be empty.") }
        }

        func run() async throws {
            let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
            LoggingSystem.bootstrap { label in
                var handler = StreamLogHandler.standardError(label: label)
                handler.logLevel = level
                return handler
            }
            let logger = Logger(label: "syncd.serve")
            var configuration = HubConfiguration.fromEnvironment()
            if let db { configuration.databasePath = db }
            if let listen, let address = HubConfiguration.parseListenAddress(listen) {
                configuration.host = address.host
                configuration.port = address.port
            }
            if let token { configuration.token = token }

            let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            let app: any Service
            do {
                app = try buildApplication(configuration: configuration, logger: logger) { port in
                    FileHandle.standardError.write(Data("syncd: listening on http://\(host):\(port)\n".utf8))
                }
            } catch {
                FileHandle.standardError.write(Data("syncd: \(error)\n".utf8))
                throw ExitCode(1)
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
            } catch {
                FileHandle.standardError.write(Data("syncd: the hub stopped: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
