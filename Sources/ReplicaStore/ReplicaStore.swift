public import AtRest
public import Foundation
public import SyncEngine
package import GRDB

/// A replica on SQLite: its identity and device key, every version it holds, the current state of
/// every document, and what it knows of the network.
///
/// Every method keeps the model's invariants in one transaction. Several processes may use one
/// replica at once (the CLI while the daemon syncs): the file is in WAL mode, writers take the
/// write lock up front, and a busy replica is waited for up to ``Options/busyTimeout``.
public struct ReplicaStore: Sendable {
    /// How a store is opened.
    public struct Options: Sendable {
        /// How long to wait for another process's write before giving up.
        public var busyTimeout: TimeInterval = 15
        /// The clock, in milliseconds since 1970 (tests pin it).
        public var now: @Sendable () -> UInt64 = { UInt64(max(0, Date().timeIntervalSince1970 * 1000)) }
        /// The largest body accepted in a write.
        public var maximumBodySize = JSONBody.defaultMaximumSize
        /// Asked for the passphrase when the replica opened is encrypted (not called otherwise);
        /// without it an encrypted replica does not open (``StoreError/Code/locked``).
        public var passphrase: (@Sendable () throws -> Passphrase)?
        /// Asked first, with the data key's id, for that key unwrapped already (an unlock agent
        /// holds it); nil, or a key of another id, falls back to ``passphrase``.
        public var unlockedKey: (@Sendable (_ keyID: String) -> DataKey?)?
        /// The cost of deriving the key that wraps a new encrypted replica's data key (tests
        /// lower it; a replica keeps the parameters it was created with).
        public var keyDerivation = ScryptParameters.standard
        /// How long an attempt to unlock waits after one wrong passphrase; it doubles with each
        /// further wrong one in a row, up to 64 times this (tests lower it).
        public var unlockDelay = Duration.seconds(1)
        /// Which kind of file the caller opens or creates: a device's replica (the default) or a
        /// hub's database. A file of the other role is refused (``StoreError/Code/roleMismatch``).
        public var role = Role.device
        /// What a hub's file adds to the replica's writes (set by the hub's openers in
        /// HubStoreSQLite, with ``role`` `.hub`); ignored in the device's role.
        package var hubHooks: (any HubWriteHooks)?

        public init() {}
    }

    /// The replica file's path.
    public let path: String
    /// This replica's id when the store was opened; after a fork the replica takes a new
    /// incarnation, and ``currentReplicaID()`` reads the id its row holds now.
    public let replicaID: ReplicaID
    /// This device's public key.
    public let publicKey: PublicDeviceKey
    package let database: DatabasePool
    package let key: DeviceKey
    package let options: Options
    /// Seals and opens bodies, the device key and the credential (plaintext when not encrypted).
    package let cipher: any BodyCipher

    /// The key this replica, as a hub, makes and checks admission receipts with.
    public var admissionReceiptKey: AdmissionReceiptKey { AdmissionReceiptKey(signingKey: key.rawRepresentation) }

    /// Where `fieldcli` keeps its replica unless told otherwise: `$VIGIL_DB`, else
    /// `$XDG_DATA_HOME/vigil/replica.sqlite`, else `~/.local/share/vigil/replica.sqlite`.
    public static func defaultPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let path = environment["VIGIL_DB"], !path.isEmpty { return path }
        let dataHome = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (environment["HOME"] ?? NSHomeDirectory()) + "/.local/share"
        return dataHome + "/vigil/replica.sqlite"
    }

    /// Creates a new replica file with a new random id and device key; with `passphrase`, an
    /// encrypted one (its data key wrapped in ``dataKeyPath(forReplicaAt:)``).
    public static func create(
        at path: String, encryptingWith passphrase: Passphrase? = nil, options: Options = Options()
    ) throws -> ReplicaStore {
        try create(at: path, encryptingWith: passphrase, options: options, migratingThrough: nil)
    }

    /// ``create(at:encryptingWith:options:)`` with the migrations run through `last` only (every
    /// one when nil): tests make a file as an older Vigil left it (before roles: `v22-peer-protocol`).
    package static func create(
        at path: String, encryptingWith passphrase: Passphrase? = nil, options: Options = Options(),
        migratingThrough last: String?
    ) throws -> ReplicaStore {
        let fileManager = FileManager.default
        guard !fileManager.fileExists(atPath: path) else {
            throw StoreError(.replicaExists, "A file already exists at \(path).")
        }
        let folder = PrivateFile.parentFolder(of: path)
        do {
            try PrivateFile.createFolders(folder)
        } catch {
            throw StoreError(.readOnly, "Cannot create the folder \(folder); check that it is writable.")
        }
        let keyFile = DeviceKeyFile(replicaPath: path)
        let key = DeviceKey()
        let replicaID = ReplicaID.random()
        // Only what this call created is removed when it fails: a key file already there is kept.
        var created: [String] = []
        do {
            var cipher: any BodyCipher = PlaintextCipher()
            if let passphrase {
                guard !isEncrypted(at: path) else {
                    throw StoreError(.replicaExists, "A data key file already exists at \(dataKeyPath(forReplicaAt: path)).")
                }
                cipher = try createDataKey(forReplicaAt: path, passphrase: passphrase, options: options)
                created.append(dataKeyPath(forReplicaAt: path))
            }
            try keyFile.create(key, cipher: cipher)
            created.append(keyFile.path)
            // The file exists, 0600, before SQLite opens it; SQLite gives -wal and -shm its mode.
            try PrivateFile.createEmpty(at: path)
            created += [path, path + "-wal", path + "-shm"]
            let database = try StoreError.translating(path: path) {
                try DatabasePool(path: path, configuration: configuration(options, cipher: cipher))
            }
            try StoreError.translating(path: path) {
                try database.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA application_id = \(Schema.applicationID)")
                }
                let migrator = Schema.migrator(for: options.role, path: path)
                if let last { try migrator.migrate(database, upTo: last) } else { try migrator.migrate(database) }
                try database.write { db in
                    try db.execute(
                        sql: "INSERT INTO replica (singleton, replica_id, public_key, created_at) VALUES (1, ?, ?, ?)",
                        arguments: [replicaID.hex, key.publicKey.rawRepresentation, options.now()])
                    try db.execute(
                        sql: "INSERT INTO device_keys (replica_id, public_key) VALUES (?, ?)",
                        arguments: [replicaID.hex, key.publicKey.rawRepresentation])
                    try db.execute(sql: "UPDATE replica SET data_key_id = ?", arguments: [cipher.keyID])
                    if try db.columns(in: "replica").contains(where: { $0.name == "role" }) {
                        try db.execute(sql: "UPDATE replica SET role = ?", arguments: [options.role.rawValue])
                    }
                }
            }
            return ReplicaStore(
                path: path, replicaID: replicaID, publicKey: key.publicKey, database: database,
                key: key, options: options, cipher: cipher)
        } catch {
            for file in created { try? fileManager.removeItem(atPath: file) }
            throw error
        }
    }

    /// Opens an existing replica file; refuses a missing, foreign or corrupt one.
    public static func open(at path: String, options: Options = Options()) throws -> ReplicaStore {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.replicaMissing, "There is no replica at \(path).")
        }
        try checkIsReplica(at: path, options: options)
        let cipher = try unlock(path, options: options)
        let database = try StoreError.translating(path: path) {
            try DatabasePool(path: path, configuration: configuration(options, cipher: cipher))
        }
        let row = try StoreError.translating(path: path) { () -> (Int32, String?, Data?) in
            try database.read { db in
                let applicationID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
                guard try db.tableExists("replica") else { return (applicationID, nil, nil) }
                let row = try Row.fetchOne(db, sql: "SELECT replica_id, public_key FROM replica")
                return (applicationID, row?["replica_id"], row?["public_key"])
            }
        }
        guard row.0 == Schema.applicationID, let idText = row.1, let replicaID = ReplicaID(idText),
            let publicKeyData = row.2
        else {
            throw StoreError(.notAReplica, "\(path) is not a Vigil replica (it may be another program's database, or damaged).")
        }
        try StoreError.translating(path: path) {
            let migrator = Schema.migrator(for: options.role, path: path)
            if try database.read({ try Schema.hasBeenSuperseded($0, by: migrator) }) {
                throw StoreError(.notAReplica, "\(path) was written by a newer version of Vigil; upgrade this program to use it.")
            }
            if try !database.read({ try migrator.hasCompletedMigrations($0) }) {
                try migrator.migrate(database)
            }
            try database.read { db in
                try checkRole(db, options.role, path: path)
                try checkDataKey(db, cipher: cipher, path: path)
            }
        }
        let key = try DeviceKeyFile(replicaPath: path).load(cipher: cipher)
        guard key.publicKey.rawRepresentation == publicKeyData else {
            throw StoreError(.keyFile, "The device key file \(path).key belongs to another replica; restore the key that was created with this replica.")
        }
        return ReplicaStore(
            path: path, replicaID: replicaID, publicKey: key.publicKey, database: database, key: key,
            options: options, cipher: cipher)
    }

    static func configuration(_ options: Options, cipher: any BodyCipher = PlaintextCipher()) -> Configuration {
        var configuration = Configuration()
        configuration.busyMode = .timeout(options.busyTimeout)
        configuration.label = "vigil.replica"
        let functions = sealingFunctions(cipher)
        let onDevice = options.role != .hub
        configuration.prepareDatabase { db in
            for function in functions { db.add(function: function) }
            // What a replica deletes (forgotten documents, dropped bodies) is overwritten with
            // zeros in its pages, not left in free space for a captor to read.
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // On a device, statement journals and sorters stay in memory: on disk (in $TMPDIR or
            // /var/tmp, unlinked at once and never overwritten) they held the clear bodies an
            // `encrypt` or a history sorted by clock read through `vigil_open`. (A hub sorts
            // millions of rows building an index; its machine is not the one a captor holds.)
            if onDevice { try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        }
        return configuration
    }

    /// This file's role (checked against the file when it was opened).
    public var role: Role { options.role }

    /// The hub's additions to this file's writes: nil on a device's replica.
    var hubHooks: (any HubWriteHooks)? { options.role == .hub ? options.hubHooks : nil }

    /// Runs `body` in one write transaction that holds the write lock from its start; on a hub's
    /// file, runs the hub's ``HubWriteHooks/beforeCommit(_:key:)`` before it commits.
    package func write<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        let hooks = hubHooks
        return try StoreError.translating(path: path) {
            try database.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    try hooks?.beforeCommit(db, key: key)
                    return .commit
                }
                guard let result else { throw StoreError(.io, "A write to \(path) ended without a result.") }
                return result
            }
        }
    }

    /// Runs `body` on a consistent snapshot.
    package func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        try StoreError.translating(path: path) { try database.read(body) }
    }

    /// Checks the file with `PRAGMA integrity_check`; returns SQLite's findings, empty when sound.
    public func integrityProblems() throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: "PRAGMA integrity_check").filter { $0 != "ok" }
        }
    }
}

extension StoreError {
    /// Runs `body`, turning SQLite failures into sentences that say what to do.
    package static func translating<T>(path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as DatabaseError {
            switch error.resultCode {
            case .SQLITE_FULL:
                throw StoreError(.diskFull, "The disk holding \(path) is full; nothing was changed. Free some space and try again.")
            case .SQLITE_READONLY, .SQLITE_CANTOPEN, .SQLITE_PERM:
                throw StoreError(.readOnly, "Cannot write \(path) or its folder (read-only or no permission); nothing was changed.")
            case .SQLITE_NOTADB, .SQLITE_CORRUPT:
                throw StoreError(.notAReplica, "\(path) is not a Vigil replica or is damaged.")
            case .SQLITE_BUSY, .SQLITE_LOCKED:
                throw StoreError(.busy, "Another process kept \(path) locked for too long; try again in a moment.")
            case .SQLITE_IOERR:
                throw StoreError(.io, "Reading or writing \(path) failed at the disk (\(error.message ?? "I/O error")); nothing was changed.")
            default:
                // A message from a SQL function (a sealed value that does not open) is a sentence already.
                let message = error.message ?? "SQLite error \(error.resultCode.rawValue)"
                throw StoreError(.io, "The replica \(path) failed: \(message)\(message.hasSuffix(".") ? "" : ".")")
            }
        }
    }
}
