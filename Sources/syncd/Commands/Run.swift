import ArgumentParser
import Foundation
import Logging
import ReplicaStore
import ServiceLifecycle
import SyncClient
import SyncCommandLine

extension Syncd {
    /// `syncd run`: keeps a field replica in sync with its hub until SIGTERM or SIGINT.
    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Keep a field replica in sync with the hub: at start, soon after each local write, and on an interval.",
            discussion: """
                The hub and credential come from --hub and --token, else VIGIL_HUB and VIGIL_TOKEN, else \
                the ones saved by `fieldcli enroll` (or the last successful sync). While the hub cannot be reached, attempts back \
                off exponentially up to a minute; a local write meanwhile brings the next attempt to \
                5 s after the last one at the earliest. One log line per outcome on stderr. When the \
                hub refuses the device (revoked, or unknown credential) the daemon logs one line and \
                exits with 77 without retrying; local data is kept.

                Example:
                  fieldcli enroll --db field.sqlite --hub http://hub.example:8080 --code CODE
                  syncd run --db field.sqlite
                """)

        @Option(name: .long, help: ArgumentHelp("The field replica file (default: $VIGIL_DB, else the fieldcli default).", valueName: "path"))
        var db: String?

        @Option(
            name: .customLong("passphrase-file"),
            help: ArgumentHelp(
                "For an encrypted replica: its passphrase, from the first line of this file (mode 0600), read once at start (default: $VIGIL_PASSPHRASE_FILE, else the terminal).",
                valueName: "path"))
        var passphraseFile: String?

        @Option(help: ArgumentHelp("Seconds between syncs when nothing happens.", valueName: "seconds"))
        var interval = 60

        @Option(
            name: .customLong("budget-per-day"),
            help: ArgumentHelp(
                "The most bytes to move on the wire per UTC day, both ways (5MB, 500KB, 1GiB, or bytes); counted in PATH.budget, so a restart goes on counting.",
                valueName: "SIZE"))
        var budgetPerDay: ByteBudget?

        @OptionGroup var connection: HubConnectionOptions

        @OptionGroup var logging: LoggingOptions

        func validate() throws {
            if interval < 1 { throw ValidationError("--interval takes whole seconds, at least 1.") }
        }

        /// What the daemon is built from: these flags, then the environment, then the defaults.
        var daemonConfiguration: FieldDaemonConfiguration {
            let replicaPath = db ?? ReplicaStore.defaultPath()
            var storeOptions = ReplicaStore.Options()
            let passphrases = PassphraseReader(file: passphraseFile)
            storeOptions.passphrase = { try passphrases.unlock(replicaPath: replicaPath) }
            return FieldDaemonConfiguration(
                replicaPath: replicaPath, storeOptions: storeOptions, hub: connection.hub, token: connection.token,
                trust: connection.trustOptions.trust, timeoutSeconds: connection.timeout, interval: .seconds(interval),
                bytesPerDay: budgetPerDay?.bytes)
        }

        func run() async throws {
            logging.bootstrap()
            let logger = Logger(label: "syncd.run")
            let built: FieldDaemon
            do {
                built = try buildFieldDaemon(configuration: daemonConfiguration, logger: logger)
                logger.info(
                    "syncing \(built.store.path) with \(built.credentials.peerName) every \(interval) s and after each local write")
                if let budgetPerDay { logger.info("at most \(budgetPerDay.bytes) bytes a day on the wire") }
            } catch let error as SyncClientError {
                // What only a change of flags, environment or enrollment mends: 64, as a bad flag,
                // so that a supervisor does not restart it (RestartPreventExitStatus=64 77).
                let configuration: Set<SyncClientError.Code> = [
                    .notConfigured, .notEnrolled, .invalidHubAddress, .insecureHubAddress, .credentialHubMismatch,
                    .credentialFileExposed,
                ]
                Self.fail(error.messageWithAdvice, status: configuration.contains(error.code) ? 64 : 1)
            } catch let error as StoreError where error.code == .roleMismatch {
                Self.fail("\(error.message) syncd run syncs a device's replica: point --db (or VIGIL_DB) at one; syncd serve serves the hub's database.")
            } catch let error as StoreError {
                // A wrong passphrase file, or none to be had: restarted every 30 s, each try
                // costs a key derivation and waits longer. Only the file mends it: 64.
                let configuration: Set<StoreError.Code> = [.wrongPassphrase, .locked, .keyFileExposed]
                Self.fail(error.messageWithAdvice, status: configuration.contains(error.code) ? 64 : 1)
            } catch let error as PassphraseError {
                Self.fail(error.message, status: 64)
            }
            let group = ServiceGroup(
                configuration: ServiceGroupConfiguration(
                    services: [
                        .init(service: built.daemon, successTerminationBehavior: .gracefullyShutdownGroup)
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
            } catch let error as SyncClientError where error.isDeviceRefused {
                // Logged by the daemon; 77 tells a supervisor not to restart (RestartPreventExitStatus=77).
                Foundation.exit(77)
            } catch {
                Self.fail("the sync daemon stopped: \(error)")
            }
        }

        private static func fail(_ message: String, status: Int32 = 1) -> Never {
            FileHandle.standardError.write(Data("syncd: \(message)\n".utf8))
            Foundation.exit(status)
        }
    }
}
