import CompressNIO
import Foundation
import HubStore
import HubStoreSQLite
import NIOCore
import ReplicaStore
import SyncEngine

/// What the sync benchmarks share: the `syncd` and `fieldcli` binaries, seeding replicas, running
/// `fieldcli sync` as its own process, and gzip for the byte floors.
enum SyncTools {
    /// Enrolls a device with the hub whose file is at `hubPath` (running or not: the hub reads
    /// its registry from the file), as `fieldcli enroll` would, and returns its credential.
    static func enroll(
        hubPath: String, replica: ReplicaID, publicKey: PublicDeviceKey, grants: AccessGrants = .everything
    ) throws -> String {
        let hub = try ReplicaStore.openHub(at: hubPath)
        let code = DeviceCredential.random()
        guard try hub.addEnrollmentCode(
            hash: code.hash, deviceName: "bench-\(replica.hex)", grants: grants, expiresAt: hub.now() + 3_600_000)
        else { throw BenchError(.setup, "The hub refused an enrollment code for \(replica.hex).") }
        let credential = DeviceCredential.random()
        let outcome = try hub.enrollDevice(
            codeHash: code.hash, replica: replica, publicKey: publicKey, credentialHash: credential.hash)
        guard case .enrolled = outcome else {
            throw BenchError(.setup, "The hub did not enroll \(replica.hex): \(outcome).")
        }
        return credential.text
    }

    /// Creates an empty replica at `path`, enrolled with the hub at `hubPath` and holding the
    /// hub's key pinned, as `fieldcli enroll` leaves it; returns its credential.
    static func enrolledReplica(at path: String, hubPath: String) throws -> String {
        let store = try ReplicaStore.create(at: path)
        let hub = try ReplicaStore.openHub(at: hubPath)
        try store.pinHub(hub.replicaID, key: hub.publicKey)
        return try enroll(hubPath: hubPath, replica: store.replicaID, publicKey: store.publicKey)
    }

    /// What one `fieldcli sync` process did, by its own account (`--json`) and by `wait4`.
    struct ClientRun {
        var cost: TimedProcess.Cost
        /// The client's own byte accounting (nil when the process was killed).
        var bytesSent: Int?
        var bytesReceived: Int?
        var roundTrips: Int?
        var versionsPulled: Int?
        var versionsPushed: Int?
    }

    /// Creates a hub's replica at `path` and applies `versions` in batches, as received from `peer`.
    /// Enrolls `writers` first, so that their versions verify.
    @discardableResult
    static func seed(
        at path: String, with versions: [Version], from peer: ReplicaID, writers: [(id: ReplicaID, key: DeviceKey)],
        batchSize: Int
    ) throws -> ReplicaStore {
        let store = try ReplicaStore.createHub(at: path)
        for writer in writers {
            _ = try enroll(hubPath: path, replica: writer.id, publicKey: writer.key.publicKey)
        }
        for start in stride(from: 0, to: versions.count, by: batchSize) {
            try store.apply(Array(versions[start..<min(start + batchSize, versions.count)]), from: peer)
        }
        return store
    }

    /// Runs `fieldcli sync --json` (and `extraArguments`, such as `--budget 10MB`) on the replica
    /// at `replica` against `hub`; kills it after `killAfter` seconds when given.
    static func sync(
        replica: String, hub: String, token: String, context: BenchmarkContext, killAfter: Double? = nil,
        extraArguments: [String] = []
    ) throws -> ClientRun {
        let stdout = context.path("sync.stdout")
        var process = TimedProcess(
            executable: context.fieldcli,
            arguments: ["sync", "--db", replica, "--hub", hub, "--token=\(token)", "--json", "--timeout", "60"] + extraArguments,
            environment: [:], standardErrorPath: context.path("sync.stderr"), standardOutputPath: stdout)
        process.followMemory = true
        // `--token=` form: a base64url credential may start with '-'.
        let cost = try process.run(killAfter: killAfter)
        var run = ClientRun(cost: cost)
        guard !cost.killed else { return run }
        let data = FileManager.default.contents(atPath: stdout) ?? Data()
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw BenchError(.tool, "fieldcli sync printed no JSON summary: \(String(decoding: data.prefix(300), as: UTF8.self))")
        }
        run.bytesSent = object["bytesSent"] as? Int
        run.bytesReceived = object["bytesReceived"] as? Int
        run.roundTrips = object["roundTrips"] as? Int
        run.versionsPulled = object["versionsPulled"] as? Int
        run.versionsPushed = object["versionsPushed"] as? Int
        return run
    }

    /// The size of `data` compressed with gzip at zlib's default level.
    static func gzipSize(_ data: Data) throws -> Int {
        var input = ByteBuffer(bytes: data)
        return try input.compress(with: .gzip()).readableBytes
    }

    /// The floor of a pull of `versions`: the gzip size of their bodies concatenated, plus 80
    /// bytes per version for what cannot compress (its 64-byte signature, its 16-byte id).
    static func byteFloor(of versions: [Version]) throws -> Int {
        var bodies = Data()
        bodies.reserveCapacity(versions.reduce(0) { $0 + ($1.body?.count ?? 0) })
        for version in versions { bodies.append(version.body ?? Data()) }
        return try gzipSize(bodies) + 80 * versions.count
    }

    /// Documents in the replica at `path`.
    static func documentCount(at path: String) throws -> Int {
        try ReplicaStore.open(at: path).status().documentsPerCollection.values.reduce(0, +)
    }

    /// Runs async work from the benchmark's synchronous code and waits for it.
    static func wait<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
        let box = ResultBox<T>()
        let done = DispatchSemaphore(value: 0)
        Task {
            do { box.set(.success(try await work())) } catch { box.set(.failure(error)) }
            done.signal()
        }
        done.wait()
        return try box.get()
    }
}

/// A result handed from a task to a waiting thread.
private final class ResultBox<T: Sendable>: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<T, any Error>?

    func set(_ result: Result<T, any Error>) { lock.withLock { self.result = result } }

    func get() throws -> T {
        guard let result = lock.withLock({ result }) else { throw BenchError(.setup, "Async work ended without a result.") }
        return try result.get()
    }
}
