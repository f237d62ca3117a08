import Foundation
import SyncClient
import SyncEngine
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// What one load phase measured, client-side.
struct LoadResult: Sendable {
    var rate: Double
    var latencies: Samples
    /// Wall time of the phase.
    var seconds: Double
    var pulled = 0
    var more = 0
    /// Exchanges that failed (transport error, an error answer, or a rejected push).
    var errors = 0
    /// The first failure's message, for the log.
    var firstError: String?

    var p99: String { HubLoadBenchmark.ms(latencies.percentile(99)) }
}

/// The simulated clients of the hub-load benchmark: each runs its requests one after another, all
/// of them at once.
enum LoadClients {
    /// `devices` clients at once, each one untimed warm-up request, then `requests` timed
    /// sequential GETs of `/healthz`, each on its own session (as the sync side has its warm-up).
    static func health(url: URL, devices: Int, requests: Int) async throws -> LoadResult {
        let sessions = (0..<devices).map { _ in Self.session() }
        defer { sessions.forEach { $0.finishTasksAndInvalidate() } }
        _ = try await timed(sessions, rounds: 0...0) { session, _ in try await Self.healthz(url, session) }
        return try await timed(sessions, rounds: 1...requests) { session, _ in try await Self.healthz(url, session) }
    }

    /// Every device at once makes its exchanges of `rounds` in turn, pushing its batch of the round.
    static func sync(_ states: [DeviceState], rounds: ClosedRange<Int>) async throws -> LoadResult {
        try await timed(states, rounds: rounds) { state, round in try await state.exchange(round: round) }
    }

    /// Every device makes its exchanges of `rounds` on a schedule instead of at once: together they
    /// start `rate` exchanges a second, evenly spaced, so each device syncs once every
    /// `states.count / rate` seconds. A latency counts from the exchange's scheduled start, so an
    /// exchange that starts late because its device's previous one ran long is counted late too.
    static func paced(_ states: [DeviceState], rounds: ClosedRange<Int>, rate: Double) async throws -> LoadResult {
        let period = Double(states.count) / rate
        return try await timed(states, rounds: rounds, schedule: { client, round in
            Double(round) * period + Double(client) / rate
        }) { state, round in try await state.exchange(round: round) }
    }

    /// Every device at once makes `rounds` exchanges that push nothing (a no-op when it is caught up).
    static func noop(_ states: [DeviceState], rounds: Int) async throws -> LoadResult {
        try await timed(states, rounds: 1...rounds) { state, _ in try await state.exchange(round: nil) }
    }

    /// Every device pulls, pushing nothing, until the hub has nothing more for it (at most 1,000
    /// exchanges each).
    static func drain(_ states: [DeviceState]) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for state in states {
                group.addTask {
                    for _ in 0..<1_000 {
                        guard try await state.exchange(round: nil).more else { break }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Runs `work` for every client at once, `rounds` times each in turn, timing each call; a
    /// call that throws counts as an error and the client goes on. With `schedule`, the client's
    /// call of its `n`th round waits until `schedule(client's index, n)` seconds after the start
    /// and is timed from then.
    private static func timed<Client: Sendable>(
        _ clients: [Client], rounds: ClosedRange<Int>,
        schedule: (@Sendable (_ client: Int, _ round: Int) -> Double)? = nil,
        _ work: @escaping @Sendable (Client, Int) async throws -> SyncResponse?
    ) async throws -> LoadResult {
        let start = MonotonicClock.now()
        let results = await withTaskGroup(of: LoadResult.self) { group in
            for (index, client) in clients.enumerated() {
                group.addTask {
                    var result = LoadResult(rate: 0, latencies: Samples([]), seconds: 0)
                    var times: [Double] = []
                    for (position, round) in rounds.enumerated() {
                        var begin = MonotonicClock.now()
                        if let due = schedule.map({ start + $0(index, position) }) {
                            if due > begin { try? await Task.sleep(for: .seconds(due - begin)) }
                            begin = due
                        }
                        do {
                            let response = try await work(client, round)
                            times.append(MonotonicClock.now() - begin)
                            result.pulled += response?.versions.count ?? 0
                            if response?.more == true { result.more += 1 }
                        } catch {
                            result.errors += 1
                            result.firstError = result.firstError ?? "\(error)"
                        }
                    }
                    result.latencies = Samples(times)
                    return result
                }
            }
            var all: [LoadResult] = []
            for await result in group { all.append(result) }
            return all
        }
        let seconds = MonotonicClock.now() - start
        let latencies = results.flatMap(\.latencies.values)
        return LoadResult(
            rate: Double(latencies.count) / seconds, latencies: Samples(latencies), seconds: seconds,
            pulled: results.reduce(0) { $0 + $1.pulled }, more: results.reduce(0) { $0 + $1.more },
            errors: results.reduce(0) { $0 + $1.errors }, firstError: results.lazy.compactMap(\.firstError).first)
    }

    private static func session() -> URLSession {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = 60
        configuration.urlCache = nil
        return URLSession(configuration: configuration)
    }

    private static func healthz(_ url: URL, _ session: URLSession) async throws -> SyncResponse? {
        let (_, response) = try await session.data(for: URLRequest(url: url.appendingPathComponent("healthz")))
        guard (response as? HTTPURLResponse)?.statusCode == 200 else {
            throw BenchError(.verification, "GET /healthz did not answer 200.")
        }
        return nil
    }
}

/// A device's identity and its pre-signed pushes, one batch per exchange.
struct SimulatedDevice: Sendable {
    let id: ReplicaID
    /// Its signing key (the pushes are signed beforehand; enrollment through a code signs with it).
    let signingKey: DeviceKey
    var key: PublicDeviceKey { signingKey.publicKey }
    /// The region it reads and writes in the scoped load; nil when it reads everything.
    let region: String?
    let batches: [[Version]]

    /// Its grants: its region's observations and every warning, or everything.
    var grants: AccessGrants {
        guard let region, let read = Scope(text: "observations/\(region),warnings"),
            let write = Scope(text: "observations/\(region)")
        else { return .everything }
        return AccessGrants(read: read, write: write)
    }
}

/// One simulated device's connection and checkpoint; its exchanges run one at a time.
final class DeviceState: @unchecked Sendable {
    let device: SimulatedDevice
    let transport: HTTPSyncTransport
    private var checkpoint: String?
    private var counter: UInt64 = 0

    init(device: SimulatedDevice, token: String, hub: URL) {
        self.device = device
        transport = HTTPSyncTransport(configuration: .init(hub: hub, token: token, timeoutSeconds: 120))
    }

    /// Pushes batch `round` (nothing when nil) and pulls what is new since the last checkpoint.
    func exchange(round: Int?) async throws -> SyncResponse {
        let batch = round.map { device.batches[$0] } ?? []
        counter = batch.last?.dot.counter ?? counter
        let request = SyncRequest(replica: device.id, counter: counter, checkpoint: checkpoint, push: batch)
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
