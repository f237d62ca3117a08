import ArgumentParser
import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import ReplicaStore
import SyncHub

/// Where the hub keeps its data, for the commands that run on either backend (`serve`, `devices`):
/// its SQLite file (the default) or a PostgreSQL database that several `syncd serve` processes share.
struct HubBackendOptions: ParsableArguments {
    @Option(
        name: .long,
        help: "The hub's replica file; serve and devices create it when missing (default: $VIGIL_HUB_DB, else hub.sqlite).")
    var db: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Keep the hub in PostgreSQL instead of a file: postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE (default: $VIGIL_HUB_POSTGRES; prefer it, so the password stays out of the process list).",
            valueName: "url"))
    var postgres: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "The PostgreSQL schema holding the hub's tables, created if missing (default: $VIGIL_HUB_POSTGRES_SCHEMA, else public).",
            valueName: "name"))
    var postgresSchema: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "With --postgres: the file (mode 0600) that keeps the hub's signing key, the database holding only its public half; required on a new database, whose first process writes it; an older database's key is moved here (default: $VIGIL_HUB_KEY_FILE). Give every hub process the same file.",
            valueName: "path"))
    var hubKey: String?

    /// The hub's data: a file, or a PostgreSQL database and schema with the hub key file, when
    /// its signing key is kept apart from the database.
    enum Location {
        case sqlite(path: String)
        case postgres(address: String, schema: String, keyFile: String?)
    }

    private static let environment = ProcessInfo.processInfo.environment

    /// The PostgreSQL address given by flag or environment; nil for the SQLite file.
    private var postgresAddress: String? {
        (postgres ?? Self.environment["VIGIL_HUB_POSTGRES"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The hub key file given by flag or environment.
    private var hubKeyFile: String? {
        (hubKey ?? Self.environment["VIGIL_HUB_KEY_FILE"]).flatMap { $0.isEmpty ? nil : $0 }
    }

    private var schema: String {
        (postgresSchema ?? Self.environment["VIGIL_HUB_POSTGRES_SCHEMA"]).flatMap { $0.isEmpty ? nil : $0 } ?? "public"
    }

    func validate() throws {
        if db != nil && postgres != nil {
            throw ValidationError("--db and --postgres each name where the hub lives; give one of them.")
        }
        guard let address = postgresAddress, db == nil else {
            if postgresSchema != nil { throw ValidationError("--postgres-schema goes with --postgres (or VIGIL_HUB_POSTGRES).") }
            if hubKey != nil {
                throw ValidationError("--hub-key goes with --postgres (or VIGIL_HUB_POSTGRES); a hub file keeps its key beside it (FILE.key).")
            }
            return
        }
        do {
            _ = try PostgresHub.checked(address: address, schema: schema)
        } catch let error as PostgresStoreError {
            throw ValidationError("\(error.message) Check --postgres, --postgres-schema or their VIGIL_HUB_POSTGRES variables.")
        }
    }

    /// Where the hub lives: `--db` wins over the PostgreSQL environment, which wins over the
    /// default file of `configuration`.
    func location(_ configuration: HubConfiguration) -> Location {
        if let db { return .sqlite(path: db) }
        if let address = postgresAddress { return .postgres(address: address, schema: schema, keyFile: hubKeyFile) }
        return .sqlite(path: configuration.databasePath)
    }

    /// Runs `body` with the operator's administration of the hub's devices; exits with one
    /// sentence when the hub's database cannot be opened.
    func withAdministration<Result>(_ body: (DeviceAdministration) async throws -> Result) async -> Result {
        let logger = Logger(label: "syncd.devices") { _ in SwiftLogNoOpLogHandler() }
        do {
            switch location(HubConfiguration.fromEnvironment()) {
            case .sqlite(let path):
                // Creates the hub replica when there is none yet.
                let store = try SQLiteHubStorage.openOrCreate(path: path, logger: logger).store
                return try await body(DeviceAdministration(storage: SQLiteDeviceAdministration(store: store)))
            case .postgres(let address, let schema, let keyFile):
                return try await PostgresHub.withHub(address: address, schema: schema, keyFile: keyFile, logger: logger) { hub in
                    try await body(DeviceAdministration(storage: hub.administration))
                }
            }
        } catch {
            Syncd.Devices.fail(Self.explain(error), exitCode: Self.exitCode(of: error))
        }
    }

    /// Runs `body` with the hub's operators and informant key (`syncd operators`, `syncd
    /// informant-key`), on its SQLite file (created when missing) or its PostgreSQL schema; exits
    /// with one sentence when the hub's database cannot be opened or a step fails (an `ExitCode`
    /// thrown by `body` is passed on).
    func withOperators<Result>(_ body: (any OperatorDirectory) async throws -> Result) async throws -> Result {
        let logger = Logger(label: "syncd.operators") { _ in SwiftLogNoOpLogHandler() }
        do {
            switch location(HubConfiguration.fromEnvironment()) {
            case .sqlite(let path):
                let store = try SQLiteHubStorage.openOrCreate(path: path, logger: logger).store
                return try await body(SQLiteOperatorDirectory(store: store))
            case .postgres(let address, let schema, let keyFile):
                return try await PostgresHub.withHub(address: address, schema: schema, keyFile: keyFile, logger: logger) { hub in
                    try await body(hub.operators)
                }
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            Syncd.Devices.fail(Self.explain(error), exitCode: Self.exitCode(of: error))
        }
    }

    /// Runs `body` with the operator's reading of the hub's audit log (`syncd audit`); exits with
    /// one sentence when the hub's database cannot be opened or read. Never creates a SQLite hub.
    func withAuditLog<Result>(_ body: (AuditAdministration) async throws -> Result) async -> Result {
        let logger = Logger(label: "syncd.audit") { _ in SwiftLogNoOpLogHandler() }
        do {
            switch location(HubConfiguration.fromEnvironment()) {
            case .sqlite(let path):
                let audit: AuditAdministration
                do {
                    // A missing database is an error: an audit never creates a hub.
                    audit = AuditAdministration(log: SQLiteHubAuditLog(store: try ReplicaStore.openHub(at: path)))
                } catch let error as StoreError where error.code == .replicaMissing {
                    throw DeviceAdministrationError(
                        "There is no hub database at \(path); point --db (or VIGIL_HUB_DB) at the hub's replica file.")
                }
                return try await body(audit)
            case .postgres(let address, let schema, let keyFile):
                return try await PostgresHub.withHub(address: address, schema: schema, keyFile: keyFile, logger: logger) { hub in
                    try await body(AuditAdministration(log: hub.auditLog))
                }
            }
        } catch {
            Syncd.Devices.fail(Self.explain(error), exitCode: Self.exitCode(of: error))
        }
    }

    /// The exit code of a failure to open or use the hub's database: 69 when its server cannot be
    /// reached or its TLS certificate is refused, else 1.
    static func exitCode(of error: any Error) -> ExitCode {
        guard let code = (error as? PostgresStoreError)?.code else { return ExitCode(1) }
        switch code {
        case .unreachable, .tlsRefused: return ExitCode(69)
        case .hubKeyApart, .hubKeyMismatch, .hubKeyFile: return ExitCode(76)
        default: return ExitCode(1)
        }
    }

    /// One sentence for a failure to open or use the hub's database.
    static func explain(_ error: any Error) -> String {
        switch error {
        case let error as DeviceAdministrationError: error.messageWithAdvice
        case let error as ConsoleError: error.message
        case let error as TLSFilesError where error.file == .certificate: "\(error.message) Check --tls-cert (or VIGIL_HUB_TLS_CERT)."
        case let error as TLSFilesError: "\(error.message) Check --tls-key (or VIGIL_HUB_TLS_KEY)."
        case let error as PostgresStoreError where error.code == .unreachable:
            "\(error.message) Check that it runs and that the user, password and database in --postgres (or VIGIL_HUB_POSTGRES) are right."
        case let error as PostgresStoreError where error.code == .tlsRefused:
            "\(error.message) Check sslmode and sslrootcert in --postgres (or VIGIL_HUB_POSTGRES); Docs/OperatorsGuide.md, PostgreSQL, says how."
        case let error as PostgresStoreError where error.code == .hubKeyApart:
            "\(error.message) Pass --hub-key (or VIGIL_HUB_KEY_FILE) with the path of the hub key file every hub process of this database uses (on a new database, the first process writes it there)."
        case let error as PostgresStoreError where error.code == .hubKeyMismatch:
            "\(error.message) Copy the hub key file from a machine whose hub process starts, and point --hub-key (or VIGIL_HUB_KEY_FILE) at it."
        case let error as PostgresStoreError where error.code == .hubKeyFile:
            "\(error.message) Check --hub-key (or VIGIL_HUB_KEY_FILE); the file must be the owner's alone (chmod 600)."
        case let error as PostgresStoreError: error.message
        case let error as StoreError where error.code == .roleMismatch:
            "\(error.message) Point --db (or VIGIL_HUB_DB) at the hub's own database; a device's replica is used with fieldcli and syncd run."
        case let error as StoreError: error.message
        default: PostgresStoreError.serverMessage(of: error) ?? "the command failed: \(error)"
        }
    }
}

extension DeviceAdministrationError {
    /// The message followed by the command that lists what the operator may have meant.
    var messageWithAdvice: String {
        switch kind {
        case .unknownDevice: message + " `syncd devices list` shows them."
        case .unknownCode: message + " `syncd devices codes list` shows them."
        case .other: message
        }
    }
}
