import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Issue 6 figure 6: 64 simulated devices at once against a release `syncd serve` process, each
/// pushing 10 new observations per exchange and pulling what is new, for a fixed number of
/// exchanges; next to the hub's `/healthz` measured the same way (same concurrency, same HTTP
/// client, same process) in the same run. The hub's memory is sampled from `/proc` meanwhile.
struct HubLoadBenchmark: Benchmark {
    let name = "hub-load"
    let estimatedSeconds = 60

    static let devices = 64
    static let versionsPerPush = 10

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The hub-load benchmark needs --syncd (the release syncd binary).")
        }
        let exchanges = context.hubExchanges
        // Every push signed beforehand: one warm-up exchange, then the timed ones.
        var corpus = try IncidentCorpus(seed: context.seed &+ 23)
        var devices: [SimulatedDevice] = []
        for _ in 0..<Self.devices {
            let (id, key) = try corpus.otherReplica()
            var batches: [[Version]] = []
            var counter: UInt64 = 0
            for _ in 0...exchanges {
                var batch: [Version] = []
                for _ in 0..<Self.versionsPerPush {
                    counter += 1
                    let (body, region) = corpus.nextReport(index: Int(counter))
                    batch.append(try key.sign(Version(
                        dot: Dot(replica: id, counter: counter), collection: corpus.collection,
                        documentID: DocumentID.generate(), partition: region, context: VersionVector(), body: body,
                        timestamp: HybridTimestamp(wallMilliseconds: 1_741_000_000_000 + counter))))
                }
                batches.append(batch)
            }
            devices.append(SimulatedDevice(id: id, key: key.publicKey, batches: batches))
        }

        let hubPath = context.path("load-hub.sqlite")
        context.removeDatabase(at: hubPath)
        _ = try ReplicaStore.create(at: hubPath)
        let tokens = try devices.map { try SyncTools.enroll(hubPath: hubPath, replica: $0.id, publicKey: $0.key) }
        let hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("load-hub.log"))
        defer { hub.stop() }
        let idle = hub.memory().resident

        // /healthz first: the same 64 concurrent clients, the same number of requests each.
        let health = try SyncTools.wait { try await Self.healthLoad(url: hub.url, devices: Self.devices, requests: exchanges + 1) }
        let afterHealth = hub.memory().resident
        context.log("healthz: \(Int(health.rate)) requests/s, p50 \(Self.ms(health.latencies.median)) ms, p99 \(Self.ms(health.latencies.percentile(99))) ms")

        // Warm-up: every device pushes its first batch and takes its checkpoint (not timed).
        let states = zip(devices, tokens).map { DeviceState(device: $0, token: $1, hub: hub.url) }
        _ = try SyncTools.wait { try await Self.syncLoad(states: states, rounds: 0...0) }
        let afterWarmUp = hub.memory().resident

        let sampler = MemorySampler(hub: hub)
        sampler.start()
        let (hubCPUBefore, clientCPUBefore) = (hub.cpuSeconds(), Self.ownCPUSeconds())
        let load = try SyncTools.wait { try await Self.syncLoad(states: states, rounds: 1...exchanges) }
        let (hubCPU, clientCPU) = (hub.cpuSeconds() - hubCPUBefore, Self.ownCPUSeconds() - clientCPUBefore)
        let samples = sampler.stop()
        let wall = Double(Self.devices * exchanges) / load.rate
        context.log("sync phase: \(String(format: "%.1f", wall)) s wall; CPU: hub \(String(format: "%.1f", hubCPU)) s, the 64 clients \(String(format: "%.1f", clientCPU)) s (of \(String(format: "%.1f", 2 * wall)) s on 2 cores)")
        let half = samples.count / 2
        let firstHalf = samples.prefix(max(half, 1)).max() ?? 0
        let secondHalf = samples.suffix(max(samples.count - half, 1)).max() ?? 0
        let peak = hub.memory().peak
        context.log("sync: \(Int(load.rate)) exchanges/s, p50 \(Self.ms(load.latencies.median)) ms, p99 \(Self.ms(load.latencies.percentile(99))) ms, \(load.pulled) versions pulled, \(load.more) answers with more; hub RSS idle \(idle >> 20) MB, peak \(peak >> 20) MB")

        let total = Self.devices * exchanges
        let setting = "\(Self.devices) devices at once, \(exchanges) exchanges each (\(total) in all), each pushing \(Self.versionsPerPush) new observations and pulling what is new"
        return [
            Figure(
                id: "hub-load-throughput", title: "hub under load: exchanges per second",
                unit: "requests/s", better: .higher,
                measured: .init(name: "POST /v1/sync through HTTPSyncTransport (AsyncHTTPClient), \(setting)", samples: Samples([load.rate]), withP90: false),
                reference: .init(name: "GET /healthz through URLSession, the same 64 clients, \(exchanges + 1) requests each", samples: Samples([health.rate]), withP90: false),
                targetRatio: 4,
                notes: [
                    "target: at least 25% of the /healthz throughput (ratio at most 4)",
                    "the hub is the release `syncd serve` process (log level info, a line per exchange); the 64 clients run in the benchmark's process on the same 2 cores",
                    "each exchange pulled \(load.pulled / max(total, 1)) versions on average (\(load.pulled) in all); \(load.more) answers said more was waiting",
                    "CPU during the timed phase (\(String(format: "%.1f", wall)) s): hub \(String(format: "%.1f", hubCPU)) s, the benchmark's 64 clients \(String(format: "%.1f", clientCPU)) s",
                ]),
            Figure(
                id: "hub-load-latency", title: "hub under load: latency of one exchange (p50, p90)",
                unit: "ms", better: .lower,
                measured: .init(name: "POST /v1/sync, client-side", samples: Samples(load.latencies.values.map { $0 * 1000 }), withP90: true),
                reference: .init(name: "GET /healthz, client-side", samples: Samples(health.latencies.values.map { $0 * 1000 }), withP90: true),
                targetRatio: nil,
                notes: ["p99: \(Self.ms(load.latencies.percentile(99))) ms next to \(Self.ms(health.latencies.percentile(99))) ms for /healthz"]),
            Figure(
                id: "hub-load-p99", title: "hub under load: 99th percentile latency of one exchange",
                unit: "ms", better: .lower,
                measured: .init(name: "POST /v1/sync p99", samples: Samples([load.latencies.percentile(99) * 1000]), withP90: false),
                reference: .init(name: "the target: 250 ms", samples: Samples([250]), withP90: false),
                targetRatio: 1, notes: []),
            Figure(
                id: "hub-load-memory", title: "hub under load: resident memory, second half of the run next to the first",
                unit: "MB", better: .lower,
                measured: .init(name: "highest VmRSS sampled in the second half", samples: Samples([Double(secondHalf) / 1_048_576]), withP90: false),
                reference: .init(name: "highest VmRSS sampled in the first half", samples: Samples([Double(firstHalf) / 1_048_576]), withP90: false),
                targetRatio: 1.1,
                notes: [
                    "flat: at most 10% more in the second half; \(samples.count) samples every 50 ms",
                    "VmRSS idle \(idle >> 20) MB, after /healthz \(afterHealth >> 20) MB, after the warm-up \(afterWarmUp >> 20) MB; peak (VmHWM) \(peak >> 20) MB",
                ]),
        ]
    }

    /// This process's CPU time (user + system) so far.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.1f", seconds * 1000) }

    struct LoadResult: Sendable {
        var rate: Double
        var latencies: Samples
        var pulled = 0
        var more = 0
    }

    /// `devices` clients at once, each `requests` sequential GETs of `/healthz` on its own session.
    static func healthLoad(url: URL, devices: Int, requests: Int) async throws -> LoadResult {
        let start = MonotonicClock.now()
        let latencies = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<devices {
                group.addTask {
                    let configuration = URLSessionConfiguration.ephemeral
                    configuration.timeoutIntervalForRequest = 60
                    configuration.urlCache = nil
                    let session = URLSession(configuration: configuration)
                    defer { session.finishTasksAndInvalidate() }
                    var times: [Double] = []
                    for _ in 0..<requests {
                        let begin = MonotonicClock.now()
                        let (_, response) = try await session.data(for: URLRequest(url: url.appendingPathComponent("healthz")))
                        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
                            throw BenchError(.verification, "GET /healthz did not answer 200.")
                        }
                        times.append(MonotonicClock.now() - begin)
                    }
                    return times
                }
            }
            var all: [Double] = []
            for try await times in group { all += times }
            return all
        }
        let seconds = MonotonicClock.now() - start
        return LoadResult(rate: Double(latencies.count) / seconds, latencies: Samples(latencies))
    }

    /// Every device at once makes its exchanges of `rounds` in turn.
    static func syncLoad(states: [DeviceState], rounds: ClosedRange<Int>) async throws -> LoadResult {
        let start = MonotonicClock.now()
        let results = try await withThrowingTaskGroup(of: (times: [Double], pulled: Int, more: Int).self) { group in
            for state in states {
                group.addTask {
                    var times: [Double] = []
                    var pulled = 0
                    var more = 0
                    for round in rounds {
                        let begin = MonotonicClock.now()
                        let response = try await state.exchange(round: round)
                        times.append(MonotonicClock.now() - begin)
                        pulled += response.versions.count
                        if response.more { more += 1 }
                    }
                    return (times, pulled, more)
                }
            }
            var all: [(times: [Double], pulled: Int, more: Int)] = []
            for try await result in group { all.append(result) }
            return all
        }
        let seconds = MonotonicClock.now() - start
        let latencies = results.flatMap(\.times)
        return LoadResult(
            rate: Double(latencies.count) / seconds, latencies: Samples(latencies),
            pulled: results.reduce(0) { $0 + $1.pulled }, more: results.reduce(0) { $0 + $1.more })
    }
}

/// A device's identity and its pre-signed pushes, one batch per exchange.
struct SimulatedDevice: Sendable {
    let id: ReplicaID
    let key: PublicDeviceKey
    let batches: [[Version]]
}

/// One simulated device's connection and checkpoint; its exchanges run one at a time.
final class DeviceState: @unchecked Sendable {
    let device: SimulatedDevice
    let transport: HTTPSyncTransport
    private var checkpoint: String?

    init(device: SimulatedDevice, token: String, hub: URL) {
        self.device = device
        transport = HTTPSyncTransport(configuration: .init(hub: hub, token: token, timeoutSeconds: 120))
    }

    /// Pushes batch `round` and pulls what is new since the last checkpoint.
    func exchange(round: Int) async throws -> SyncResponse {
        let batch = device.batches[round]
        let request = SyncRequest(
            replica: device.id, counter: batch.last?.dot.counter ?? 0, checkpoint: checkpoint, push: batch)
        let reply = try await transport.exchange(request)
        guard reply.response.rejected.isEmpty else {
            throw BenchError(.verification, "The hub rejected a pushed version: \(reply.response.rejected[0].message)")
        }
        checkpoint = reply.response.checkpoint
        return reply.response
    }
}

/// Samples a process's resident memory every 50 ms on a thread of its own.
final class MemorySampler: @unchecked Sendable {
    private let hub: HubProcess
    private let lock = NSLock()
    private var samples: [Int] = []
    private var running = true
    private let finished = DispatchSemaphore(value: 0)

    init(hub: HubProcess) { self.hub = hub }

    func start() {
        Thread.detachNewThread { [self] in
            while lock.withLock({ running }) {
                let resident = hub.memory().resident
                lock.withLock { samples.append(resident) }
                usleep(50_000)
            }
            finished.signal()
        }
    }

    /// Stops sampling; returns the samples in bytes.
    func stop() -> [Int] {
        lock.withLock { running = false }
        finished.wait()
        return lock.withLock { samples }
    }
}
