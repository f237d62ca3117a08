import ArgumentParser
import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import ServiceLifecycle
import SyncHub

extension Syncd {
    /// `syncd serve`: runs the hub until SIGTERM or SIGINT, then finishes in-flight exchanges.
    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Serve a hub: the replica every field device syncs with over HTTP.",
            discussion: """
                Only enrolled devices may sync: give a device an enrollment code with \
                `syncd devices add NAME` on this machine, then run `fieldcli enroll` on the device.

                """ + LimitOptions.helpText)

        @OptionGroup var backend: HubBackendOptions

        @Option(name: .long, help: "The address to listen on, HOST:PORT; port 0 picks a free one (default: 127.0.0.1:8080).")
        var listen: String?

        @OptionGroup var logging: LoggingOptions

        @Option(name: .long, help: "Serve HTTPS with this PEM certificate chain, leaf first (default: $VIGIL_HUB_TLS_CERT); needs --tls-key.")
        var tlsCert: String?

        @Option(name: .long, help: "The PEM private key of --tls-cert (default: $VIGIL_HUB_TLS_KEY).")
        var tlsKey: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Log a console session out after this long without a request: 15m, 30m, 2h (default 30m).", valueName: "duration"))
        var consoleIdleTimeout = "30m"

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Serve Prometheus metrics at http://HOST:PORT/metrics, a listener apart from the devices' (default: $VIGIL_HUB_METRICS_LISTEN, else off).",
                valueName: "HOST:PORT"))
        var metricsListen: String?

        @OptionGroup var limits: LimitOptions

        /// Where metrics are served: the flag, else the environment, else nowhere.
        var metricsAddress: (host: String, port: Int)? {
            (metricsListen ?? ProcessInfo.processInfo.environment["VIGIL_HUB_METRICS_LISTEN"])
                .flatMap(HubConfiguration.parseListenAddress)
        }

        func validate() throws {
            if let listen, HubConfiguration.parseListenAddress(listen) == nil {
                throw ValidationError("--listen takes HOST:PORT, such as 127.0.0.1:8080 (port 0 to 65535).")
            }
            if (tlsCert == nil) != (tlsKey == nil) {
                throw ValidationError("--tls-cert and --tls-key go together: give both to serve HTTPS, or neither.")
            }
            if let address = metricsListen ?? ProcessInfo.processInfo.environment["VIGIL_HUB_METRICS_LISTEN"],
                HubConfiguration.parseListenAddress(address) == nil
            {
                throw ValidationError("--metrics-listen (or VIGIL_HUB_METRICS_LISTEN) takes HOST:PORT, such as 127.0.0.1:9464.")
            }
            if DeviceAdministration.parseLifetime(consoleIdleTimeout) == nil {
                throw ValidationError("--console-idle-timeout takes a duration such as 15m, 30m or 2h.")
            }
        }

        func run() async throws {
            logging.bootstrap()
            let logger = Logger(label: "syncd.serve")
            var configuration = HubConfiguration.fromEnvironment()
            if let listen, let address = HubConfiguration.parseListenAddress(listen) {
                configuration.host = address.host
                configuration.port = address.port
            }
            if let tlsCert, let tlsKey { configuration.tls = TLSFiles(certificatePath: tlsCert, privateKeyPath: tlsKey) }
            try limits.apply(to: &configuration.limits)
            do {
                switch backend.location(configuration) {
                case .sqlite(let path):
                    configuration.databasePath = path
                    let backend = try HubBackend.sqlite(
                        path: path, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour, logger: logger)
                    try await serve(HubExchange(backend: backend, configuration: configuration, logger: logger), logger)
                case .postgres(let address, let schema, let keyFile):
                    try await PostgresHub.withHub(
                        address: address, schema: schema, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour,
                        keyFile: keyFile, logger: logger
                    ) { hub in
                        // Opened without a key file: the key was read from the database.
                        if keyFile == nil { Self.warnKeyInDatabase() }
                        try await serve(HubExchange(backend: try hub.backend(), configuration: configuration, logger: logger), logger)
                    }
                }
            } catch let exit as ExitCode {
                throw exit
            } catch {
                FileHandle.standardError.write(Data("syncd: \(HubBackendOptions.explain(error))\n".utf8))
                throw HubBackendOptions.exitCode(of: error)
            }
        }

        /// Said at start by a hub on PostgreSQL whose signing key is in the database.
        static func warnKeyInDatabase() {
            FileHandle.standardError.write(
                Data(
                    "syncd: warning: the hub's signing key is kept in the database, so every dump and backup of it holds the key that certifies devices; restart every hub process with --hub-key FILE (or VIGIL_HUB_KEY_FILE) to move it out.\n"
                        .utf8))
        }

        /// Serves `exchange` (and its metrics, when asked) until SIGTERM or SIGINT.
        private func serve(_ exchange: HubExchange, _ logger: Logger) async throws {
            let configuration = exchange.configuration
            let host = configuration.host.contains(":") ? "[\(configuration.host)]" : configuration.host
            let scheme = configuration.tls == nil ? "http" : "https"
            var consoleConfiguration = ConsoleConfiguration(secureCookies: configuration.tls != nil)
            if let idle = DeviceAdministration.parseLifetime(consoleIdleTimeout) { consoleConfiguration.sessionIdleTimeout = idle }
            let console = HubConsole.mounting(consoleConfiguration, logger: Logger(label: "syncd.console"))
            let mountsConsole = HubConsole.canMount(on: exchange.backend)
            if !mountsConsole {
                logger.notice("the operator's console is not served: this backend keeps no operators (Docs/HubPostgres.md)")
            } else if exchange.backend.documents == nil {
                logger.notice(
                    "the console serves login, the fleet and the audit log; this backend keeps no document states for its records, conflicts and map pages (Docs/HubPostgres.md)")
            }
            var services: [any Service] = [
                try buildApplication(
                    exchange: exchange, logger: logger,
                    onServerRunning: { port in
                        FileHandle.standardError.write(Data("syncd: listening on \(scheme)://\(host):\(port)\n".utf8))
                    }, mount: mountsConsole ? console : { _, _ in })
            ]
            if let metrics = metricsAddress {
                services.append(
                    buildMetricsApplication(
                        exchange: exchange, host: metrics.host, port: metrics.port, logger: logger,
                        onServerRunning: { port in
                            FileHandle.standardError.write(Data("syncd: metrics on http://\(metrics.host):\(port)/metrics\n".utf8))
                        }))
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
            } catch {
                FileHandle.standardError.write(Data("syncd: the hub stopped: \(error)\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
