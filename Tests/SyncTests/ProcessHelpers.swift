import Foundation
import ReplicaStore
import Synchronization
import SyncEngine
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Where the hub behind each hub URL these tests started keeps its data, as `syncd` flags (`--db
/// PATH`, or `--postgres URL --postgres-schema NAME`), so that `sync` can enroll a replica that
/// holds no credential yet (`syncd devices add` + `fieldcli enroll`).
let knownHubBackends = Mutex<[String: [String]]>([:])

/// A `syncd serve` process and where it listens.
struct RunningHub {
    let process: ChildProcess
    let port: Int
    /// The `syncd` flags naming the hub's data: `--db PATH`, or `--postgres URL …`.
    let backend: [String]

    var url: String { "http://127.0.0.1:\(port)" }
}

/// The `--json` summary `fieldcli sync` prints (only the fields these tests read).
struct PrintedSyncSummary: Decodable, Sendable {
    var versionsPushed: Int
    var versionsPulled: Int
    var bytesSent: Int
    var bytesReceived: Int
    var roundTrips: Int
}

extension ProcessFixture {
    /// Starts `syncd serve` on `database` and waits for its "listening" line; `port` 0 lets the
    /// kernel choose.
    func startHub(database: String, port: Int = 0) async throws -> RunningHub {
        try await startHub(backend: ["--db", database], port: port)
    }

    /// Starts `syncd serve` with its data where the `syncd` flags `backend` say and waits for its
    /// "listening" line; `port` 0 lets the kernel choose.
    func startHub(backend: [String], port: Int = 0) async throws -> RunningHub {
        let child = try start("syncd", ["serve"] + backend + ["--listen", "127.0.0.1:\(port)"])
        let prefix = "syncd: listening on http://127.0.0.1:"
        let line = try await child.waitForLine(timeout: .seconds(60)) { $0.hasPrefix(prefix) }
        guard let chosen = Int(line.dropFirst(prefix.count).prefix { $0.isNumber }), chosen > 0 else {
            throw ProcessFixtureError("Cannot read a port from the hub's line: \(line)")
        }
        if port != 0, chosen != port {
            throw ProcessFixtureError("The hub listens on \(chosen), not on the requested \(port).")
        }
        let hub = RunningHub(process: child, port: chosen, backend: backend)
        knownHubBackends.withLock { $0[hub.url] = backend }
        return hub
    }

    /// Enrolls the replica at `database` with `hub` as an operator and a device would:
    /// `syncd devices add NAME --all --json` on the hub's data, then `fieldcli enroll --code`.
    func enroll(_ database: String, at hub: RunningHub) async throws {
        try await enroll(database, hubURL: hub.url, hubBackend: hub.backend)
    }

    func enroll(_ database: String, hubURL: String, hubDatabase: String) async throws {
        try await enroll(database, hubURL: hubURL, hubBackend: ["--db", hubDatabase])
    }

    func enroll(_ database: String, hubURL: String, hubBackend: [String]) async throws {
        let name = "device-\(UUID().uuidString.prefix(8))"
        let added = try await run("syncd", ["devices", "add", name, "--all", "--json"] + hubBackend)
        struct Added: Decodable { var code: String }
        guard added.exitStatus == 0, let code = try? JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code else {
            throw ProcessFixtureError("syncd devices add failed: \(added)")
        }
        let enrolled = try await fieldcli(database, ["enroll"], ["--hub", hubURL, "--code", code])
        guard enrolled.exitStatus == 0 else { throw ProcessFixtureError("fieldcli enroll failed: \(enrolled)") }
    }

    /// Whether the replica at `database` holds a credential (it was enrolled).
    func isEnrolled(_ database: String) -> Bool {
        FileManager.default.fileExists(atPath: database + ".credential")
    }

    /// Stops a hub with SIGTERM and returns how it ended (bounded).
    @discardableResult
    func stop(_ hub: RunningHub) async throws -> Termination {
        hub.process.send(signal: SIGTERM)
        return try await hub.process.waitForExit(timeout: .seconds(20))
    }

    /// Runs `fieldcli SUBCOMMAND… --db DATABASE ARGUMENTS…` (the replica flag belongs to each
    /// subcommand) to completion.
    func fieldcli(
        _ database: String, _ subcommand: [String], _ arguments: [String] = [],
        timeout: Duration = .seconds(120)
    ) async throws -> CLIResult {
        try await run("fieldcli", subcommand + ["--db", database] + arguments, timeout: timeout)
    }

    /// Creates a field replica with `fieldcli init` (`init --encrypt` under `VIGIL_TEST_ENCRYPTED=1`).
    func initReplica(_ database: String) async throws {
        let outcome = try await fieldcli(database, TemporaryReplica.encrypting ? ["init", "--encrypt"] : ["init"])
        guard outcome.exitStatus == 0 else { throw ProcessFixtureError("fieldcli init failed: \(outcome)") }
    }

    /// Writes a document with `fieldcli put` and returns its id.
    func put(_ database: String, _ collection: String, id: String? = nil, body: String) async throws -> String {
        let outcome = try await fieldcli(database, ["put", collection] + (id.map { [$0] } ?? []), ["--body", body])
        guard outcome.exitStatus == 0, let printed = outcome.output.split(separator: "\n").last else {
            throw ProcessFixtureError("fieldcli put failed: \(outcome)")
        }
        return String(printed)
    }

    /// The arguments of one `fieldcli sync` against `hub` (the replica must be enrolled:
    /// ``enroll(_:at:)``, or ``sync(_:hub:timeout:)`` which enrolls when needed).
    func syncArguments(_ database: String, hub: String) -> [String] {
        ["sync", "--db", database, "--hub", hub, "--json"]
    }

    /// Runs `fieldcli sync --json` once, enrolling the replica first when it holds no credential
    /// and the hub is one these tests started (else with a credential no hub knows).
    func sync(_ database: String, hub: String, timeout: Duration = .seconds(300)) async throws -> CLIResult {
        var arguments = syncArguments(database, hub: hub)
        if !isEnrolled(database) {
            if let backend = knownHubBackends.withLock({ $0[hub] }) {
                try await enroll(database, hubURL: hub, hubBackend: backend)
            } else {
                arguments += ["--token", "never-enrolled"]
            }
        }
        return try await run("fieldcli", arguments, timeout: timeout)
    }

    /// Runs `fieldcli sync --json`, requires exit 0, and returns its summary.
    func syncSucceeding(_ database: String, hub: String) async throws -> PrintedSyncSummary {
        let outcome = try await sync(database, hub: hub)
        guard outcome.exitStatus == 0 else { throw ProcessFixtureError("fieldcli sync failed: \(outcome)") }
        return try PrintedSyncSummary.decode(outcome)
    }

    /// A folder for bulk seeding on a memory file system (`/dev/shm`) when there is one, so that
    /// tens of thousands of single-write transactions do not each wait for the disk; inside
    /// ``directory`` otherwise. Removed with the fixture's folder when it lives there; otherwise
    /// the caller removes it (``withScratchFolder(_:)``).
    func withScratchFolder<T>(_ body: (URL) async throws -> T) async throws -> T {
        let base = FileManager.default.fileExists(atPath: "/dev/shm") ? URL(fileURLWithPath: "/dev/shm") : directory
        let folder = base.appendingPathComponent("vigil-seed-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder)
    }
}

extension PrintedSyncSummary {
    /// Decodes the summary from the JSON document `fieldcli sync --json` printed.
    static func decode(_ outcome: CLIResult) throws -> PrintedSyncSummary {
        do {
            return try JSONDecoder().decode(PrintedSyncSummary.self, from: Data(outcome.output.utf8))
        } catch {
            throw ProcessFixtureError("fieldcli sync --json printed no summary (\(error)): \(outcome)")
        }
    }
}

extension CLIResult {
    /// The exit status; nil when a signal ended the process.
    var exitStatus: Int32? { signaled ? nil : exitCode }
}

/// A replica's content in a form two replicas can be compared by: every document with the dots
/// of its siblings, every version's dot, and its knowledge.
struct ReplicaContent: Equatable {
    var documents: [DocumentKey: Set<Dot>]
    var versions: Set<Dot>
    var knowledge: VersionVector

    /// Reads `collections` of the replica at `path` (opened as a second connection).
    init(path: String, collections: [CollectionName]) throws {
        let store = try TemporaryReplica.open(at: path)
        var documents: [DocumentKey: Set<Dot>] = [:]
        var versions: Set<Dot> = []
        for collection in collections {
            var cursor: String?
            repeat {
                let page = try store.documents(in: collection, includeDeleted: true, limit: 5_000, after: cursor)
                for document in page.documents {
                    documents[document.key] = Set(document.state.siblings)
                    for stored in try store.history(of: document.key) { versions.insert(stored.version.dot) }
                }
                cursor = page.nextCursor
            } while cursor != nil
        }
        self.documents = documents
        self.versions = versions
        self.knowledge = try store.knowledge()
    }
}

/// The collection name `text`, which the test knows to be valid.
func collectionName(_ text: String) throws -> CollectionName {
    guard let name = CollectionName(text) else { throw ProcessFixtureError("'\(text)' is not a collection name.") }
    return name
}

/// Fills a new replica at `path` with `count` small documents through the library (one write
/// transaction each, like `fieldcli put`).
func seedReplica(at path: String, count: Int, collection: CollectionName) throws -> ReplicaStore {
    let store = try ReplicaStore.create(at: path)
    for index in 0..<count {
        let body = #"{"n":\#(index),"title":"observation \#(index)","severity":\#(index % 5)}"#
        try store.write(WriteIntent(key: DocumentKey(collection: collection, id: .generate()), body: Data(body.utf8)))
    }
    return store
}
