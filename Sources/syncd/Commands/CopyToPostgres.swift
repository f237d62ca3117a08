import ArgumentParser
import Foundation
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import ReplicaStore

extension Syncd {
    /// `syncd copy-to-postgres`: moves a stopped SQLite hub's data into an empty PostgreSQL
    /// schema, so the same devices go on syncing with `syncd serve --postgres` without enrolling
    /// or pulling again.
    struct CopyToPostgres: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "copy-to-postgres",
            abstract:
                "Copy a stopped SQLite hub into an empty PostgreSQL schema, to serve it with syncd serve --postgres.",
            discussion: """
                Stop the hub (syncd serve --db) and back its file up first. The copy keeps the hub's \
                identity and key (the key in the hub key file --hub-key names, only its public half \
                in the database), every version at its feed position, the devices, codes, grants, \
                revocations, quarantine, audit log, attachments, the console's operators (passwords, \
                roles, second factors, setup links, key pairs) and the informant key with its \
                copies sealed to operators, in one transaction: all or nothing. Sessions are not \
                copied: operators log in again. The SQLite file is only read. What PostgreSQL does \
                not keep (what bundle exporters held, a client hub's peers, other hubs' revocation \
                notices) is named, and the copy is refused (exit 80) unless --leave-behind accepts \
                it. A schema that holds a hub's data already is refused (exit 79).

                Example:
                  syncd copy-to-postgres --db /var/lib/vigil/hub.sqlite --hub-key /var/lib/vigil/hub.key --postgres postgres://vigil@db.example/vigil
                """)

        /// The exit code when the target schema holds a hub's data already.
        static let targetNotEmpty = ExitCode(79)
        /// The exit code when the file holds what PostgreSQL does not keep, without --leave-behind.
        static let wouldLeaveBehind = ExitCode(80)

        @Option(name: .long, help: "The stopped hub's replica file (default: $VIGIL_HUB_DB, else hub.sqlite).")
        var db: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The PostgreSQL database to copy into: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: $VIGIL_HUB_POSTGRES; prefer it, so the password stays out of the process list).",
                valueName: "url"))
        var postgres: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "The schema to copy into, created if missing; it must hold no hub yet (default: $VIGIL_HUB_POSTGRES_SCHEMA, else public).",
                valueName: "name"))
        var postgresSchema: String?

        @Flag(
            help:
                "Copy even though the file holds what the hub on PostgreSQL does not keep yet (listed); it stays in the SQLite file only."
        )
        var leaveBehind = false

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Where to make the snapshot of the file the copy reads (default: the file's own folder). It holds the whole database and the hub's key until the copy ends: keep it on the hub's encrypted volume.",
                valueName: "folder"))
        var snapshotFolder: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Required: keep the hub's signing key in this file (mode 0600; written, or checked when it exists: the SQLite hub's own FILE.key may be given) and only its public half in the database; give syncd serve --hub-key the same file (default: $VIGIL_HUB_KEY_FILE).",
                valueName: "path"))
        var hubKey: String?

        private static let environment = ProcessInfo.processInfo.environment

        private var path: String {
            db ?? Self.environment["VIGIL_HUB_DB"].flatMap { $0.isEmpty ? nil : $0 } ?? "hub.sqlite"
        }

        private var address: String? {
            (postgres ?? Self.environment["VIGIL_HUB_POSTGRES"]).flatMap { $0.isEmpty ? nil : $0 }
        }

        private var keyFile: String? {
            (hubKey ?? Self.environment["VIGIL_HUB_KEY_FILE"]).flatMap { $0.isEmpty ? nil : $0 }
        }

        private var schema: String {
            (postgresSchema ?? Self.environment["VIGIL_HUB_POSTGRES_SCHEMA"]).flatMap { $0.isEmpty ? nil : $0 }
                ?? "public"
        }

        func validate() throws {
            guard let address else {
                throw ValidationError("Say where to copy the hub: --postgres URL (or VIGIL_HUB_POSTGRES).")
            }
            guard keyFile != nil else {
                throw ValidationError(
                    "Give --hub-key PATH (or VIGIL_HUB_KEY_FILE) for the file that keeps the hub's signing key, since the database gets only its public half: a new file, or the SQLite hub's own \(path).key."
                )
            }
            do {
                try PostgresHub.checked(address: address, schema: schema)
            } catch let error as PostgresStoreError {
                throw ValidationError(
                    "\(error.message) Check --postgres, --postgres-schema or their VIGIL_HUB_POSTGRES variables.")
            }
        }

        func run() async throws {
            guard let address, let keyFile else { throw ExitCode(64) }
            do {
                try await HubFileExport.reading(path, scratch: snapshotFolder.map { URL(fileURLWithPath: $0) }) { source in
                    try await copy(source, to: address, keyFile: keyFile)
                }
            } catch let exit as ExitCode {
                throw exit
            } catch let left as LeftBehind {
                Self.fail(
                    "the hub file holds what the hub on PostgreSQL does not keep yet; nothing was copied. Pass --leave-behind to copy the rest and keep these in the SQLite file only:\n\(left.list)",
                    exitCode: Self.wouldLeaveBehind)
            } catch {
                Self.fail(Self.explain(error), exitCode: Self.exitCode(of: error))
            }
        }

        private func copy(_ source: HubFileExport, to address: String, keyFile: String) async throws {
            let logger = Logger(label: "syncd.copy-to-postgres") { _ in SwiftLogNoOpLogHandler() }
            let left = try source.leftBehind()
            let list = left.map { "  \($0)" }.joined(separator: "\n")
            // Thrown, not exited here: the snapshot's folder is removed on the way out.
            if !left.isEmpty, !leaveBehind { throw LeftBehind(list: list) }
            let report = try await PostgresHubImport.copy(
                source, to: address, schema: schema, keyFile: keyFile, logger: logger, progress: Self.progress)
            if !left.isEmpty { Self.say("left in the SQLite file only (--leave-behind):\n\(list)") }
            let copied = report.tables.filter { $0.rows > 0 }.map { "\($0.rows) \($0.name)" }.joined(separator: ", ")
            print(
                "Copied hub \(source.hubID.hex) into schema \(schema): \(copied). Start it with syncd serve --postgres --hub-key \(keyFile)."
            )
            if report.tables.contains(where: { $0.name == "operators" && $0.rows > 0 }) {
                print("Console sessions were not copied: operators log in again, with the same password and second factor.")
            }
        }

        /// What the file holds that PostgreSQL does not keep, refused without --leave-behind.
        private struct LeftBehind: Error {
            let list: String
        }

        /// One line on stderr per batch of a table of more than one batch (a large feed or log).
        private static let progress: PostgresHubImport.Progress = { table, copied, total in
            guard total > 1_000 else { return }
            say("copying \(table): \(copied) of \(total)")
        }

        private static func say(_ line: String) {
            FileHandle.standardError.write(Data("syncd: \(line)\n".utf8))
        }

        static func fail(_ message: String, exitCode: ExitCode) -> Never {
            say(message)
            Foundation.exit(exitCode.rawValue)
        }

        static func exitCode(of error: any Error) -> ExitCode {
            switch error {
            case let error as HubCopyError where error.code == .targetNotEmpty: targetNotEmpty
            case is HubCopyError: ExitCode(65)
            case let error as StoreError where error.code == .replicaMissing: ExitCode(66)
            case is StoreError: ExitCode(65)
            default: HubBackendOptions.exitCode(of: error)
            }
        }

        static func explain(_ error: any Error) -> String {
            switch error {
            case let error as HubCopyError where error.code == .targetNotEmpty:
                "\(error.message) Copy into an empty schema (--postgres-schema) or a new database."
            case let error as HubCopyError where error.code == .notAHubFile:
                "\(error.message) Point --db at the hub's file (the one syncd serve --db served)."
            case let error as HubCopyError:
                "\(error.message) Nothing was copied; restore the hub file from a backup, or report the row."
            case let error as StoreError where error.code == .replicaMissing:
                "\(error.message) Point --db (or VIGIL_HUB_DB) at the stopped hub's file."
            default: HubBackendOptions.explain(error)
            }
        }
    }
}
