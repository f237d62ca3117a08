import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine

/// The everyone-reads-everything load, then the no-op load, on one hub; then the delivery floor
/// on that hub's file (see ``HubLoadBenchmark``).
struct OpenLoad {
    var health: LoadResult
    var load: LoadResult
    var noop: LoadResult
    /// Versions per second of reading and gzipping the same rows in one process.
    var floorRate: Double
    var memory: HubMemory
    var hubCPU: Double
    var clientCPU: Double

    static func run(devices: [SimulatedDevice], syncd: String, context: BenchmarkContext) throws -> OpenLoad {
        let hubPath = context.path("load-hub.sqlite")
        context.removeDatabase(at: hubPath)
        _ = try ReplicaStore.createHub(at: hubPath)
        let tokens = try devices.map { try SyncTools.enroll(hubPath: hubPath, replica: $0.id, publicKey: $0.key) }
        let hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("load-hub.log"))
        var open = try measure(devices: devices, tokens: tokens, url: hub.url, process: hub, context: context)
        hub.stop()
        let perAnswer = max(1, open.load.pulled / max(1, devices.count * context.hubExchanges))
        open.floorRate = try DeliveryFloor.rate(hubPath: hubPath, versions: open.load.pulled, perAnswer: perAnswer)
        context.log("delivery floor: \(Int(open.floorRate)) versions/s read and gzipped in pages of \(perAnswer)")
        return open
    }

    /// The phases against the hub at `url` (its devices enrolled with `tokens`), whose memory and
    /// CPU are read off `process` (the first process when several serve it); no floor.
    static func measure(
        devices: [SimulatedDevice], tokens: [String], url: URL, process hub: HubProcess, context: BenchmarkContext
    ) throws -> OpenLoad {
        let exchanges = context.hubExchanges
        var memory = HubMemory(idle: hub.memory().resident)
        let health = try SyncTools.wait { try await LoadClients.health(url: url, devices: devices.count, requests: exchanges) }
        memory.afterHealth = hub.memory().resident
        context.log("healthz: \(Int(health.rate)) requests/s, p50 \(HubLoadBenchmark.ms(health.latencies.median)) ms, p99 \(health.p99) ms")

        let states = zip(devices, tokens).map { DeviceState(device: $0, token: $1, hub: url) }
        _ = try SyncTools.wait { try await LoadClients.sync(states, rounds: 0...0) }
        memory.afterWarmUp = hub.memory().resident
        let sampler = MemorySampler(hub: hub)
        sampler.start()
        let (hubCPUBefore, clientCPUBefore) = (hub.cpuSeconds(), HubLoadBenchmark.ownCPUSeconds())
        let load = try SyncTools.wait { try await LoadClients.sync(states, rounds: 1...exchanges) }
        let (hubCPU, clientCPU) = (hub.cpuSeconds() - hubCPUBefore, HubLoadBenchmark.ownCPUSeconds() - clientCPUBefore)
        memory.take(sampler.stop(), peak: hub.memory().peak)
        context.log("sync: \(Int(load.rate)) exchanges/s, p99 \(load.p99) ms, \(load.pulled) versions pulled in \(String(format: "%.1f", load.seconds)) s, \(load.errors) errors; CPU hub \(String(format: "%.1f", hubCPU)) s, clients \(String(format: "%.1f", clientCPU)) s")

        try SyncTools.wait { try await LoadClients.drain(states) }
        let noop = try SyncTools.wait { try await LoadClients.noop(states, rounds: exchanges) }
        context.log("no-op: \(Int(noop.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(noop.latencies.median)) ms, p99 \(noop.p99) ms, \(noop.pulled) versions pulled, \(noop.errors) errors")
        return OpenLoad(
            health: health, load: load, noop: noop, floorRate: 0, memory: memory, hubCPU: hubCPU, clientCPU: clientCPU)
    }

    func figures(exchanges: Int) -> [Figure] {
        let devices = HubLoadBenchmark.devices
        let deliveryRate = Double(load.pulled) / load.seconds
        let setting = "\(devices) devices at once, \(exchanges) exchanges each, each pushing \(HubLoadBenchmark.versionsPerPush) new observations and pulling what the others pushed"
        return [
            Figure(
                id: "hub-noop-throughput", title: "hub, no-op exchanges per second next to /healthz",
                unit: "requests/s", better: .higher,
                measured: .init(name: "POST /v1/sync with nothing to push or pull, \(devices) devices at once, \(exchanges) each", samples: Samples([noop.rate]), withP90: false),
                reference: .init(name: "GET /healthz, the same \(devices) clients, one warm-up request each, then \(exchanges) each", samples: Samples([health.rate]), withP90: false),
                targetRatio: 4,
                notes: [
                    "target: at least 25% of the /healthz throughput (ratio at most 4)",
                    "errors: \(noop.errors) of \(noop.latencies.values.count + noop.errors); versions pulled: \(noop.pulled) (0 expected: every device was caught up first)",
                ]),
            Figure.p99(
                id: "hub-noop-p99", title: "hub, no-op exchange: 99th percentile latency",
                name: "POST /v1/sync no-op p99 (p50 \(HubLoadBenchmark.ms(noop.latencies.median)) ms)",
                of: noop, target: 50, targetName: "50 ms",
                notes: ["/healthz p99 in the same run: \(health.p99) ms"]),
            Figure(
                id: "hub-delivery-rate", title: "hub, versions delivered per second next to the floor",
                unit: "versions/s", better: .higher,
                measured: .init(name: "versions sent in pages, everyone reads everything: \(setting)", samples: Samples([deliveryRate]), withP90: false),
                reference: .init(name: "the floor: the same number of rows read from the hub's file in feed order and gzipped, in pages of the same size, one process, no HTTP", samples: Samples([floorRate]), withP90: false),
                targetRatio: 2,
                notes: [
                    "target: at least 50% of the floor (ratio at most 2)",
                    "\(load.pulled) versions in \(String(format: "%.1f", load.seconds)) s; \(Int(load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(load.latencies.median)) ms, p99 \(load.p99) ms; \(load.more) answers said more was waiting; errors: \(load.errors)",
                    "CPU in that phase: hub \(String(format: "%.1f", hubCPU)) s, the benchmark's \(devices) clients \(String(format: "%.1f", clientCPU)) s, of \(String(format: "%.1f", 2 * load.seconds)) s on 2 cores; the floor runs on one core with nothing beside it",
                ]),
            memory.figure,
        ]
    }
}

/// The hub's resident memory through the open load.
struct HubMemory {
    var idle: Int
    var afterHealth = 0
    var afterWarmUp = 0
    var firstHalf = 0
    var secondHalf = 0
    var peak = 0
    var samples = 0

    mutating func take(_ sampled: [Int], peak: Int) {
        let half = sampled.count / 2
        firstHalf = sampled.prefix(max(half, 1)).max() ?? 0
        secondHalf = sampled.suffix(max(sampled.count - half, 1)).max() ?? 0
        samples = sampled.count
        self.peak = peak
    }

    var figure: Figure {
        Figure(
            id: "hub-load-memory", title: "hub under load: resident memory, second half of the run next to the first",
            unit: "MB", better: .lower,
            measured: .init(name: "highest VmRSS sampled in the second half", samples: Samples([Double(secondHalf) / 1_048_576]), withP90: false),
            reference: .init(name: "highest VmRSS sampled in the first half", samples: Samples([Double(firstHalf) / 1_048_576]), withP90: false),
            targetRatio: 1.1,
            notes: [
                "flat: at most 10% more in the second half; \(samples) samples every 50 ms",
                "VmRSS idle \(idle >> 20) MB, after /healthz \(afterHealth >> 20) MB, after the warm-up \(afterWarmUp >> 20) MB; peak (VmHWM) \(peak >> 20) MB",
            ])
    }
}

/// 64 devices in 8 regions on a hub of their own, each reading its region and `warnings`.
struct ScopedLoad {
    var load: LoadResult

    static func run(devices: [SimulatedDevice], syncd: String, context: BenchmarkContext) throws -> ScopedLoad {
        let hubPath = context.path("scoped-hub.sqlite")
        context.removeDatabase(at: hubPath)
        _ = try ReplicaStore.createHub(at: hubPath)
        let tokens = try devices.map {
            try SyncTools.enroll(hubPath: hubPath, replica: $0.id, publicKey: $0.key, grants: $0.grants)
        }
        let hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("scoped-hub.log"))
        defer { hub.stop() }
        return try measure(devices: devices, tokens: tokens, url: hub.url, context: context)
    }

    /// The scoped load against the hub at `url`, its devices enrolled with `tokens`.
    static func measure(devices: [SimulatedDevice], tokens: [String], url: URL, context: BenchmarkContext) throws -> ScopedLoad {
        let states = zip(devices, tokens).map { DeviceState(device: $0, token: $1, hub: url) }
        _ = try SyncTools.wait { try await LoadClients.sync(states, rounds: 0...0) }
        let exchanges = context.hubExchanges
        let load = try SyncTools.wait { try await LoadClients.sync(states, rounds: 1...exchanges) }
        context.log("scoped: \(Int(load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(load.latencies.median)) ms, p99 \(load.p99) ms, \(load.pulled) versions pulled, \(load.errors) errors\(load.firstError.map { " (first: \($0))" } ?? "")")
        return ScopedLoad(load: load)
    }

    func figures(exchanges: Int) -> [Figure] {
        let devices = HubLoadBenchmark.devices
        let regions = HubLoadBenchmark.scopedRegions.count
        return [
            Figure.p99(
                id: "hub-scoped-p99", title: "hub, realistic load: 99th percentile latency of one exchange",
                name: "POST /v1/sync p99, \(devices) devices in \(regions) regions (read: own region and warnings; write: own region), \(exchanges) exchanges each pushing \(HubLoadBenchmark.versionsPerPush) and pulling what is new in scope",
                of: load, target: 250, targetName: "250 ms",
                notes: [
                    "errors: \(load.errors) (zero required)\(load.firstError.map { "; first: \($0)" } ?? "")",
                    "\(Int(load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(load.latencies.median)) ms; \(load.pulled) versions pulled (\(load.pulled / max(1, devices * exchanges)) per exchange); \(load.more) answers said more was waiting",
                ]),
        ]
    }
}
