import ArgumentParser
import Foundation
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub

extension Syncd {
    /// `syncd bundle`: reports that came to the hub on a USB stick.
    struct BundleCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "bundle",
            abstract: "Import a bundle file written by `fieldcli bundle export`, on the hub machine.",
            subcommands: [Import.self])

        /// The exit code when the file is no bundle, cut short, altered or damaged (EX_DATAERR).
        static let damaged = ExitCode(65)
        /// The exit code when the bundle was written under another hub (EX_NOPERM).
        static let foreign = ExitCode(77)
    }
}

extension Syncd.BundleCommand {
    /// `syncd bundle import`.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Admit a bundle's versions as a push from its exporter: signatures, write scopes, plausibility, quarantine.",
            discussion: """
                Works on the hub's database directly (its SQLite file, or PostgreSQL with \
                --postgres), also while `syncd serve` runs. Importing a bundle again changes \
                nothing. A file cut short or altered changes nothing and exits 65; a bundle \
                written under another hub exits 77.
                """)

        @OptionGroup var backend: HubBackendOptions

        @Argument(help: ArgumentHelp("The bundle file.", valueName: "path"))
        var file: String

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            let configuration = HubConfiguration.fromEnvironment()
            let logger = Logger(label: "syncd.bundle") { _ in SwiftLogNoOpLogHandler() }
            do {
                let bundle = try BundleFile.read(path: file)
                switch backend.location(configuration) {
                case .sqlite(let path):
                    guard FileManager.default.fileExists(atPath: path) else {
                        Syncd.Devices.fail(
                            "There is no hub database at \(path); point --db (or VIGIL_HUB_DB) at the hub's replica file.")
                    }
                    let storage = try SQLiteHubStorage.openOrCreate(
                        path: path, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour, logger: logger)
                    try await admit(
                        bundle, into: .sqlite(storage), devices: SQLiteDeviceAdministration(store: storage.store),
                        configuration: configuration, logger: logger)
                case .postgres(let address, let schema, let keyFile):
                    try await PostgresHub.withHub(
                        address: address, schema: schema, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour,
                        keyFile: keyFile, logger: logger
                    ) { hub in
                        try await admit(
                            bundle, into: try hub.backend(), devices: hub.administration, configuration: configuration,
                            logger: logger)
                    }
                }
            } catch let error as SyncBundleError {
                FileHandle.standardError.write(Data("syncd: \(error.message)\n".utf8))
                throw error.code == .foreignNetwork ? Syncd.BundleCommand.foreign : Syncd.BundleCommand.damaged
            } catch let exit as ExitCode {
                throw exit
            } catch {
                Syncd.Devices.fail(HubBackendOptions.explain(error), exitCode: HubBackendOptions.exitCode(of: error))
            }
        }

        /// Admits `bundle`'s versions through the hub's exchange, then its files as uploads by
        /// their authors among `devices`, and prints what it did.
        private func admit(
            _ bundle: SyncBundle, into backend: HubBackend, devices: any DeviceAdministrationStorage,
            configuration: HubConfiguration, logger: Logger
        ) async throws {
            let exchange = HubExchange(backend: backend, configuration: configuration, logger: logger)
            let versions = try await exchange.importBundle(bundle, logger: logger)
            var files = HubAttachments.BundleFiles()
            if let attachments = backend.attachments {
                files = try await HubAttachments(storage: attachments, limits: configuration.limits)
                    .importFiles(of: bundle, devices: try await devices.devices())
            }
            print(Self.describe(versions, files: files, json: json))
        }

        static func describe(_ result: HubExchange.BundleImport, files: HubAttachments.BundleFiles, json: Bool) -> String {
            if json {
                let object: [String: Any] = [
                    "versions": result.versions, "accepted": result.accepted, "gaps": result.gaps.map { "\($0)" },
                    "rejected": result.rejected.map {
                        ["dot": "\($0.dot)", "reason": $0.reason.rawValue, "quarantined": $0.quarantined, "message": $0.message]
                    },
                    "attachmentsStored": files.stored, "attachmentsAlreadyHeld": files.alreadyHeld,
                    "attachmentsRefused": files.refused.map { ["sha256": $0.sha256, "message": $0.message] },
                ]
                let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
                return String(decoding: data, as: UTF8.self)
            }
            var lines = ["Imported the bundle: \(result.versions) versions, \(result.accepted) new."]
            for rejection in result.rejected.prefix(20) { lines.append("  \(rejection.dot): \(rejection.message)") }
            if result.rejected.count > 20 { lines.append("  … and \(result.rejected.count - 20) more rejected.") }
            if files.stored + files.alreadyHeld > 0 {
                lines.append("Attached files: \(files.stored) stored, \(files.alreadyHeld) already held.")
            }
            for refusal in files.refused { lines.append("  file \(refusal.sha256.prefix(12))… not taken: \(refusal.message)") }
            if !result.gaps.isEmpty {
                lines.append("\(result.gaps.count) not stored: the hub lacks earlier versions of their origin; import a bundle exported with --all.")
            }
            return lines.joined(separator: "\n")
        }
    }
}
