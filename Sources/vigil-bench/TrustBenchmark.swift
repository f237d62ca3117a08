import Foundation
import HubStore
import HubStoreSQLite
import Logging
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub

/// Issue 4's numbers: what signatures cost. The hub taking signed pushes with verification on
/// next to the same pushes with it off (in-process `HubExchange` over a fresh SQLite hub replica
/// each run), and the initial pull into an empty replica (in-process `Synchronizer` over
/// `HTTPSyncTransport`, from a release `syncd serve` process) with and without verification on
/// the pulling replica. On and off runs alternate, and which goes first swaps every round.
struct TrustBenchmark: Benchmark {
    let name = "trust"
    let estimatedSeconds = 240

    /// Devices pushing at once to the hub.
    static let devices = 8
    /// Versions per push (the client's default push size).
    static let pushSize = 1_000

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The trust benchmark needs --syncd (the release syncd binary).")
        }
        return try [hubVerification(context: context), pullVerification(syncd: syncd, context: context)]
    }

    // MARK: - Hub

    /// Timed rounds of each side: 7 by default, fewer with fewer `--runs`.
    private func rounds(_ context: BenchmarkContext) -> Int { max(3, min(7, context.runs)) }

    private func hubVerification(context: BenchmarkContext) throws -> Figure {
        // 8 devices, each with its versions signed beforehand, in pushes of 1,000.
        let perDevice = max(Self.pushSize, context.documents / 20 / Self.pushSize * Self.pushSize)
        var corpus = try IncidentCorpus(seed: context.seed &+ 31)
        let writers = try (0..<Self.devices).map { _ in try corpus.otherReplica() }
        let (versions, signing) = try MonotonicClock.measure {
            try corpus.signedVersions(count: perDevice * Self.devices, writers: writers)
        }
        let devices = writers.map { writer in
            let own = versions.filter { $0.dot.replica == writer.id }
            return PushingDevice(
                id: writer.id, key: writer.key.publicKey,
                batches: stride(from: 0, to: own.count, by: Self.pushSize).map {
                    Array(own[$0..<min($0 + Self.pushSize, own.count)])
                })
        }
        context.log("trust: signed \(versions.count) versions for \(Self.devices) devices in \(String(format: "%.1f", signing)) s")

        var on: [Double] = []
        var off: [Double] = []
        for round in 0..<rounds(context) {
            for verify in round.isMultiple(of: 2) ? [true, false] : [false, true] {
                let rate = try hubRun(devices: devices, verify: verify, round: round, context: context)
                if verify { on.append(rate) } else { off.append(rate) }
                context.log("trust: hub round \(round + 1), verification \(verify ? "on " : "off"): \(Int(rate)) versions/s")
            }
        }

        // Verification alone, on one thread, and the canonical encoding it signs.
        let sample = Array(versions.prefix(5_000))
        let keys = Dictionary(uniqueKeysWithValues: writers.map { ($0.id, $0.key.publicKey) })
        let (encoded, encoding) = MonotonicClock.measure { sample.reduce(0) { $0 + $1.canonicalEncoding.count } }
        let (valid, verifying) = MonotonicClock.measure {
            sample.count { version in keys[version.dot.replica]?.isValidSignature(of: version) ?? false }
        }
        guard valid == sample.count, encoded > 0 else {
            throw BenchError(.verification, "Only \(valid) of \(sample.count) signed versions verify.")
        }
        let oneThread = Double(sample.count) / verifying
        let encodings = Double(sample.count) / encoding
        context.log("trust: one thread verifies \(Int(oneThread)) versions/s (canonical encoding alone \(Int(encodings))/s)")

        return Figure(
            id: "trust-hub-verify", title: "the hub taking signed pushes: versions per second with signature verification",
            unit: "versions/s", better: .higher,
            measured: .init(name: "HubExchange.handle with verifySignatures on (every version checked against its origin's enrolled key)", samples: Samples(on), withP90: false),
            reference: .init(name: "the same pushes with verifySignatures off", samples: Samples(off), withP90: false),
            targetRatio: nil,
            notes: [
                "\(Self.devices) enrolled devices pushing at once, each \(perDevice) signed observations in pushes of \(Self.pushSize) (\(perDevice * Self.devices) per run), in process, into a new SQLite hub replica each run; record validation and the page answered after each push included",
                "\(rounds(context)) runs each side, alternating, which side goes first swapping every round; medians quoted",
                "Ed25519 verification alone, one thread: \(Int(oneThread)) versions/s (\(String(format: "%.0f", 1e6 / oneThread)) µs each); canonical encoding alone \(Int(encodings)) versions/s",
            ])
    }

    /// One run: a new hub replica, the devices enrolled, every device pushing its batches in turn,
    /// all devices at once. Returns versions per second.
    private func hubRun(devices: [PushingDevice], verify: Bool, round: Int, context: BenchmarkContext) throws -> Double {
        let path = context.path("trust-hub-\(round)-\(verify ? "on" : "off").sqlite")
        context.removeDatabase(at: path)
        defer { context.removeDatabase(at: path) }
        _ = try ReplicaStore.createHub(at: path)
        for device in devices { _ = try SyncTools.enroll(hubPath: path, replica: device.id, publicKey: device.key) }
        var configuration = HubConfiguration()
        configuration.verifySignatures = verify
        configuration.limits.requestsPerMinute = 0
        let backend = try HubBackend.sqlite(
            path: path, deviceEntriesPerHour: configuration.limits.deviceEntriesPerHour, logger: Self.silent)
        let hub = HubExchange(backend: backend, configuration: configuration, logger: Self.silent)
        let (taken, seconds) = try MonotonicClock.measure {
            try SyncTools.wait { try await Self.pushAll(devices, to: hub) }
        }
        let expected = devices.reduce(0) { $0 + $1.batches.reduce(0) { $0 + $1.count } }
        guard taken == expected else {
            throw BenchError(.verification, "The hub took \(taken) of \(expected) pushed versions (verification \(verify ? "on" : "off")).")
        }
        return Double(taken) / seconds
    }

    /// Every device at once pushes its batches in turn; returns the versions the hub accepted.
    private static func pushAll(_ devices: [PushingDevice], to hub: HubExchange) async throws -> Int {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for device in devices {
                group.addTask {
                    var checkpoint: String?
                    var accepted = 0
                    for batch in device.batches {
                        // A one-version page: the pushes are measured, not the pull.
                        let response = try await hub.handle(SyncRequest(
                            replica: device.id, counter: batch.last?.dot.counter ?? 0, checkpoint: checkpoint,
                            push: batch, limits: PageLimits(versions: 1, bytes: 1)))
                        guard response.rejected.isEmpty else {
                            throw BenchError(.verification, "The hub rejected a pushed version: \(response.rejected[0].message)")
                        }
                        checkpoint = response.checkpoint
                        accepted += response.accepted
                    }
                    return accepted
                }
            }
            return try await group.reduce(0, +)
        }
    }

    // MARK: - Client

    private func pullVerification(syncd: String, context: BenchmarkContext) throws -> Figure {
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        let hubPath = context.path("trust-pull-hub.sqlite")
        context.removeDatabase(at: hubPath)
        defer { context.removeDatabase(at: hubPath) }
        let seeding = try MonotonicClock.measure {
            try SyncTools.seed(
                at: hubPath, with: versions, from: peer, writers: context.corpus.writers, batchSize: context.batchSize)
        }
        context.log("trust: seeded the hub with \(versions.count) versions in \(String(format: "%.1f", seeding.seconds)) s")
        let hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("trust-pull-hub.log"))
        defer { hub.stop() }

        // One untimed pull first, so that both sides find the hub's file in the page cache.
        _ = try pull(from: hub, hubPath: hubPath, expected: versions.count, verify: true, name: "warm-up", context: context)
        var on: [Double] = []
        var off: [Double] = []
        let rounds = max(3, min(5, context.runs))
        for round in 0..<rounds {
            for verify in round.isMultiple(of: 2) ? [true, false] : [false, true] {
                let seconds = try pull(
                    from: hub, hubPath: hubPath, expected: versions.count, verify: verify, name: "\(round)", context: context)
                if verify { on.append(seconds) } else { off.append(seconds) }
                context.log("trust: pull round \(round + 1), verification \(verify ? "on " : "off"): \(String(format: "%.2f", seconds)) s")
            }
        }
        return Figure(
            id: "trust-pull-verify", title: "pulling \(versions.count) observations into an empty replica, with signature verification",
            unit: "s", better: .lower,
            measured: .init(name: "Synchronizer.run with verifySignatures on (every pulled version checked, on every core, overlapping the next page)", samples: Samples(on), withP90: false),
            reference: .init(name: "the same pull with verifySignatures off (the key directory still saved)", samples: Samples(off), withP90: false),
            targetRatio: nil,
            notes: [
                "in process: Synchronizer + HTTPSyncTransport (AsyncHTTPClient) against the release `syncd serve` on 127.0.0.1, no proxy; each pull into a new empty replica; the clock runs from Synchronizer.run to its return",
                "\(rounds) pulls each side after one untimed warm-up pull, alternating, which side goes first swapping every round; medians quoted",
                "verification off is not a user-facing option: Synchronizer.Configuration.verifySignatures exists for this measurement",
            ])
    }

    /// Pulls everything into a new enrolled replica; returns the seconds `Synchronizer.run` took.
    private func pull(
        from hub: HubProcess, hubPath: String, expected: Int, verify: Bool, name: String, context: BenchmarkContext
    ) throws -> Double {
        let replica = context.path("trust-pull-\(name)-\(verify ? "on" : "off").sqlite")
        context.removeDatabase(at: replica)
        defer { context.removeDatabase(at: replica) }
        let token = try SyncTools.enrolledReplica(at: replica, hubPath: hubPath)
        let store = try ReplicaStore.open(at: replica)
        let transport = HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 120))
        let synchronizer = Synchronizer(
            store: store, transport: transport, peer: HubCredentials.peerName(for: hub.url),
            configuration: Synchronizer.Configuration(verifySignatures: verify), logger: Self.silent)
        let (summary, seconds) = try MonotonicClock.measure { try SyncTools.wait { try await synchronizer.run() } }
        let held = try SyncTools.documentCount(at: replica)
        guard summary.versionsPulled == expected, held == expected, summary.unverified == 0 else {
            throw BenchError(
                .verification,
                "The pull brought \(summary.versionsPulled) versions (\(summary.unverified) unverified); the replica holds \(held) of \(expected).")
        }
        return seconds
    }

    private static let silent = Logger(label: "vigil-bench.trust") { _ in SwiftLogNoOpLogHandler() }
}

/// A device's identity and its signed versions, one push per batch.
private struct PushingDevice: Sendable {
    let id: ReplicaID
    let key: PublicDeviceKey
    let batches: [[Version]]
}
