public import Foundation
public import ReplicaStore
import AtRest
import HubStore
import HubStoreSQLite
import Synchronization

/// A temporary folder holding replicas for one test, removed when the test is done.
///
/// Replicas made here run on a pinned clock that advances by one millisecond each time it is read,
/// so timestamps are deterministic and strictly increasing.
public final class TemporaryReplica: Sendable {
    /// The folder; every replica of this instance lives in it.
    public let directory: URL
    /// The pinned clock shared by every replica made here, in milliseconds since 1970.
    public let clock: PinnedClock

    /// Creates an empty temporary folder.
    public init(startingAt milliseconds: UInt64 = 1_700_000_000_000) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-test-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        clock = PinnedClock(milliseconds)
    }

    deinit { remove() }

    /// Removes the folder and every replica in it (also done when this instance goes away).
    public func remove() { try? FileManager.default.removeItem(at: directory) }

    /// Whether replicas made here are encrypted: `VIGIL_TEST_ENCRYPTED=1` runs the suites a second
    /// time with every replica ``create(_:)`` makes encrypted under ``passphrase`` (but a hub's,
    /// named `hub…`: a hub's database stays in clear, as in production).
    public static let encrypting = ProcessInfo.processInfo.environment["VIGIL_TEST_ENCRYPTED"] == "1"
    /// The passphrase of the replicas made here when ``encrypting``.
    public static let passphrase = "a long passphrase for tests"

    /// Store options using the pinned clock and a generous busy timeout, ``unlocking(_:)``.
    public var options: ReplicaStore.Options {
        var options = ReplicaStore.Options()
        let clock = self.clock
        options.now = { clock.tick() }
        options.busyTimeout = 30
        return Self.unlocking(options)
    }

    /// Opens the replica at `path` in this process (another connection, as a second process
    /// would), with ``passphrase`` should it be encrypted; a file named `hub…` in the hub's role.
    public static func open(at path: String) throws -> ReplicaStore {
        let options = unlocking(ReplicaStore.Options())
        return isHubName(URL(fileURLWithPath: path).lastPathComponent)
            ? try ReplicaStore.openHub(at: path, options: options) : try ReplicaStore.open(at: path, options: options)
    }

    /// Whether a replica called `name` is a hub's: made and opened here in the hub's role.
    public static func isHubName(_ name: String) -> Bool { name.hasPrefix("hub") }

    /// Runs `body` with the arguments that give a `fieldcli` or `syncd` command run in this
    /// process the passphrase of the replicas made here: none when not ``encrypting``, else
    /// `--passphrase-file` and a private file holding ``passphrase``, removed afterwards.
    public static func withPassphraseArguments<T>(_ body: ([String]) async throws -> T) async throws -> T {
        guard encrypting else { return try await body([]) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-passphrase-\(UUID().uuidString)").path
        guard FileManager.default.createFile(atPath: file, contents: Data((passphrase + "\n").utf8), attributes: [.posixPermissions: 0o600])
        else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: file]) }
        defer { try? FileManager.default.removeItem(atPath: file) }
        return try await body(["--passphrase-file", file])
    }

    /// `options` that also answer the passphrase of an encrypted replica made here, with cheap key
    /// derivation and no unlock delay (tests only).
    public static func unlocking(_ options: ReplicaStore.Options) -> ReplicaStore.Options {
        var options = options
        options.passphrase = { try Passphrase(Self.passphrase) }
        options.keyDerivation = .testing
        options.unlockDelay = .zero
        return options
    }

    /// The path of the replica file called `name` in this folder.
    public func path(_ name: String) -> String {
        directory.appendingPathComponent("\(name).sqlite").path
    }

    /// Creates a new replica called `name` in this folder: a hub's (``ReplicaStore/Role/hub``, in
    /// clear) when the name starts with `hub`, else a device's.
    public func create(_ name: String = "replica") throws -> ReplicaStore {
        if Self.isHubName(name) { return try ReplicaStore.createHub(at: path(name), options: options) }
        return try ReplicaStore.create(
            at: path(name), encryptingWith: Self.encrypting ? try Passphrase(Self.passphrase) : nil, options: options)
    }

    /// The last migration of a file from before files had a role (device or hub).
    public static let lastMigrationBeforeRoles = "v22-peer-protocol"

    /// Creates a replica called `name` as Vigil made it before files had a role (migrations through
    /// ``lastMigrationBeforeRoles``): a device's then held the hub's tables too, empty. Encrypted
    /// as ``create(_:)`` would; the store returned speaks as a hub's when the name starts with `hub`.
    public func createBeforeRoles(_ name: String) throws -> ReplicaStore {
        var options = self.options
        if Self.isHubName(name) { options = options.inHubRole }
        let encrypted = Self.encrypting && !Self.isHubName(name)
        return try ReplicaStore.create(
            at: path(name), encryptingWith: encrypted ? try Passphrase(Self.passphrase) : nil, options: options,
            migratingThrough: Self.lastMigrationBeforeRoles)
    }

    /// Opens the existing replica called `name` again (a second connection, like another process),
    /// in the hub's role when the name starts with `hub`.
    public func open(_ name: String = "replica") throws -> ReplicaStore {
        Self.isHubName(name)
            ? try ReplicaStore.openHub(at: path(name), options: options) : try ReplicaStore.open(at: path(name), options: options)
    }

    /// Creates `count` replicas named `replica-0`, `replica-1`, … in this folder.
    public func create(count: Int) throws -> [ReplicaStore] {
        try (0..<count).map { try create("replica-\($0)") }
    }

    /// Runs `body` with a fresh replica in a fresh temporary folder, removed afterwards.
    @discardableResult
    public static func withReplica<T>(
        _ body: (ReplicaStore) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        return try await body(folder.create())
    }

    /// Runs `body` with a fresh hub's replica (called `hub`, in the hub's role) in a fresh temporary
    /// folder, removed afterwards.
    @discardableResult
    public static func withHub<T>(_ body: (ReplicaStore) async throws -> T) async throws -> T {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        return try await body(folder.create("hub"))
    }

    /// Runs `body` with `count` fresh replicas in one fresh temporary folder, removed afterwards:
    /// the first a hub's (called `hub`), the others devices' (`replica-1`, `replica-2`, …).
    @discardableResult
    public static func withHubAndReplicas<T>(
        _ count: Int, _ body: ([ReplicaStore]) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        let stores = try [folder.create("hub")] + (1..<max(1, count)).map { try folder.create("replica-\($0)") }
        return try await body(stores)
    }

    /// Runs `body` with `count` fresh replicas in one fresh temporary folder, removed afterwards.
    @discardableResult
    public static func withReplicas<T>(
        _ count: Int, _ body: ([ReplicaStore]) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        return try await body(folder.create(count: count))
    }

    /// Runs `body` with a fresh temporary folder, removed afterwards.
    @discardableResult
    public static func withFolder<T>(_ body: (TemporaryReplica) async throws -> T) async throws -> T {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        return try await body(folder)
    }
}

/// A clock pinned to a start time that advances one millisecond at every reading.
public final class PinnedClock: Sendable {
    private let value: Mutex<UInt64>

    public init(_ milliseconds: UInt64) { value = Mutex(milliseconds) }

    /// The current time, then advances by one millisecond.
    public func tick() -> UInt64 {
        value.withLock { now in
            defer { now += 1 }
            return now
        }
    }

    /// Moves the clock to `milliseconds` (may step backwards, like a corrected wall clock).
    public func set(_ milliseconds: UInt64) { value.withLock { $0 = milliseconds } }
}
