import Foundation
import HubStore
import HubStorePostgres
import Logging
import PostgresNIO
import SyncEngine

/// The hub-load benchmark's loads on PostgreSQL (issue 12): the same 64 devices, everyone reading
/// everything then no-op, and the scoped load, against `syncd serve --postgres` with one process,
/// then with three processes on the same database behind nginx. Each load runs on a schema of its
/// own, dropped afterwards.
///
/// The machine has 2 cores: PostgreSQL, the hub processes, nginx and the 64 clients share them, so
/// three hubs are not three times one; the figures say what one configuration gives next to the
/// other and to the targets.
struct PostgresHubLoadBenchmark: Benchmark {
    let name = "hub-load-postgres"
    let estimatedSeconds = 240

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd, let address = context.postgres else {
            throw BenchError(.tool, "The hub-load-postgres benchmark needs --syncd and --postgres URL.")
        }
        var corpus = try IncidentCorpus(seed: context.seed &+ 29)
        let exchanges = context.hubExchanges
        let everyone = try HubLoadBenchmark.simulatedDevices(exchanges: exchanges, corpus: &corpus) { _ in nil }
        let scoped = try HubLoadBenchmark.simulatedDevices(exchanges: exchanges, corpus: &corpus) {
            HubLoadBenchmark.scopedRegions[$0 % HubLoadBenchmark.scopedRegions.count]
        }
        var placements = [PostgresPlacement(address: address, processes: 1, nginx: nil)]
        if let nginx = context.nginx {
            placements.append(PostgresPlacement(address: address, processes: 3, nginx: nginx))
        } else {
            context.log("hub-load-postgres: no nginx (--nginx), so the three-hub configuration is not measured")
        }
        var results: [(PostgresPlacement, OpenLoad, ScopedLoad)] = []
        for placement in placements {
            let open = try placement.serve(everyone, tag: "open", syncd: syncd, context: context) { url, process, tokens in
                try OpenLoad.measure(devices: everyone, tokens: tokens, url: url, process: process, context: context)
            }
            let scopedLoad = try placement.serve(scoped, tag: "scoped", syncd: syncd, context: context) { url, _, tokens in
                try ScopedLoad.measure(devices: scoped, tokens: tokens, url: url, context: context)
            }
            results.append((placement, open, scopedLoad))
        }
        var figures = results.flatMap { placement, open, scopedLoad in
            Self.figures(placement, open, scopedLoad, single: results.first?.1, exchanges: exchanges)
        }
        if let cluster = placements.last, cluster.processes > 1 {
            // Its own failure (the machine's file descriptors, say) must not lose the figures above.
            do {
                figures += try ThousandDevices.run(on: cluster, corpus: &corpus, syncd: syncd, context: context).figures
            } catch {
                context.log("hub-load-postgres: the 1,000-device load failed: \(error)")
            }
        }
        return figures
    }

    static func figures(
        _ placement: PostgresPlacement, _ open: OpenLoad, _ scoped: ScopedLoad, single: OpenLoad?, exchanges: Int
    ) -> [Figure] {
        let devices = HubLoadBenchmark.devices
        let id = "hub-pg\(placement.processes)"
        let label = placement.label
        let delivery = Double(open.load.pulled) / max(open.load.seconds, 1e-9)
        var figures = [
            Figure.p99(
                id: "\(id)-noop-p99", title: "\(label): no-op exchange, 99th percentile latency",
                name: "POST /v1/sync no-op p99 (p50 \(HubLoadBenchmark.ms(open.noop.latencies.median)) ms), \(devices) devices at once",
                of: open.noop, target: 50, targetName: "50 ms",
                notes: [
                    "\(Int(open.noop.rate)) no-op exchanges/s next to \(Int(open.health.rate)) GET /healthz/s through the same address (\(percent(open.noop.rate, of: open.health.rate)))",
                    "errors: \(open.noop.errors) (zero required)",
                ]),
            Figure.p99(
                id: "\(id)-scoped-p99", title: "\(label): realistic load, 99th percentile latency of one exchange",
                name: "POST /v1/sync p99, \(devices) devices in \(HubLoadBenchmark.scopedRegions.count) regions (own region and warnings), \(exchanges) exchanges each pushing \(HubLoadBenchmark.versionsPerPush)",
                of: scoped.load, target: 250, targetName: "250 ms",
                notes: [
                    "\(Int(scoped.load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(scoped.load.latencies.median)) ms; errors: \(scoped.load.errors) (zero required)\(scoped.load.firstError.map { "; first: \($0)" } ?? "")",
                ]),
        ]
        let openNotes = [
            "everyone reads everything: \(Int(open.load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(open.load.latencies.median)) ms, p99 \(open.load.p99) ms, \(open.load.pulled) versions in \(String(format: "%.1f", open.load.seconds)) s; errors: \(open.load.errors) (zero required)",
            "CPU of the first hub process \(String(format: "%.1f", open.hubCPU)) s, the clients \(String(format: "%.1f", open.clientCPU)) s, of \(String(format: "%.1f", 2 * open.load.seconds)) s on 2 cores shared with PostgreSQL\(placement.nginx == nil ? "" : " and nginx")",
        ]
        if let single, placement.processes > 1 {
            figures.append(
                Figure(
                    id: "\(id)-delivery", title: "\(label): versions delivered per second next to one hub process",
                    unit: "versions/s", better: .higher,
                    measured: .init(name: "versions sent, everyone reads everything, \(placement.processes) processes behind nginx", samples: Samples([delivery]), withP90: false),
                    reference: .init(name: "the same load on one process on PostgreSQL, no proxy", samples: Samples([Double(single.load.pulled) / max(single.load.seconds, 1e-9)]), withP90: false),
                    targetRatio: nil, notes: openNotes + ["no target: on 2 cores the processes share the same CPUs"]))
        } else {
            figures.append(
                Figure(
                    id: "\(id)-noop-throughput", title: "\(label): no-op throughput next to /healthz",
                    unit: "requests/s", better: .higher,
                    measured: .init(name: "POST /v1/sync with nothing to push or pull", samples: Samples([open.noop.rate]), withP90: false),
                    reference: .init(name: "GET /healthz, the same clients", samples: Samples([open.health.rate]), withP90: false),
                    targetRatio: 4, notes: ["target: at least 25% of /healthz (ratio at most 4)", "delivery: \(Int(delivery)) versions/s"] + openNotes))
        }
        return figures
    }

    static func percent(_ part: Double, of whole: Double) -> String {
        whole > 0 ? String(format: "%.0f%%", 100 * part / whole) : "-"
    }
}

/// Where a PostgreSQL load runs: `processes` hub processes on one schema, behind nginx when more
/// than one.
struct PostgresPlacement {
    let address: String
    let processes: Int
    let nginx: String?

    var label: String { processes == 1 ? "hub on PostgreSQL" : "\(processes) hubs on PostgreSQL behind nginx" }

    /// Enrolls `devices` in a fresh schema, starts the hub processes (and nginx), runs `body` with
    /// the address the devices use, the first process and the devices' credentials, then stops
    /// everything and drops the schema. The hub's signing key is in a hub key file of the
    /// schema's, as a hub on PostgreSQL keeps it (`--hub-key`), removed with the schema.
    func serve<Result>(
        _ devices: [SimulatedDevice], tag: String, syncd: String, context: BenchmarkContext,
        _ body: (URL, HubProcess, [String]) throws -> Result
    ) throws -> Result {
        let schema = "vigil_bench_\(tag)_\(processes)"
        let keyFile = context.path("\(schema).hub.key")
        try SyncTools.wait { try await Self.dropSchema(schema, address: address) }
        try? FileManager.default.removeItem(atPath: keyFile)
        let tokens = try SyncTools.wait {
            try await Self.enroll(devices, schema: schema, address: address, keyFile: keyFile)
        }
        defer {
            try? SyncTools.wait { try await Self.dropSchema(schema, address: address) }
            try? FileManager.default.removeItem(atPath: keyFile)
        }
        let hubs = try (0..<processes).map { index in
            try HubProcess(
                syncd: syncd, backend: ["--postgres", address, "--postgres-schema", schema, "--hub-key", keyFile],
                logPath: context.path("\(schema)-\(index).log"), logLevel: "warning")
        }
        defer { hubs.forEach { $0.stop() } }
        guard let first = hubs.first else { throw BenchError(.setup, "No hub process was started.") }
        guard let nginx, processes > 1 else { return try body(first.url, first, tokens) }
        let proxy = try NginxProcess(nginx: nginx, upstreams: hubs.map(\.port), folder: context.path("nginx-\(schema)"))
        defer { proxy.stop() }
        return try body(proxy.url, first, tokens)
    }

    private static let quiet = Logger(label: "vigil.bench.postgres") { _ in SwiftLogNoOpLogHandler() }

    /// Enrolls each device as `syncd devices add` and `fieldcli enroll` would, in the schema
    /// (creating it, its hub's key written to `keyFile`); returns their credentials.
    static func enroll(_ devices: [SimulatedDevice], schema: String, address: String, keyFile: String) async throws -> [String] {
        try await PostgresHub.withHub(address: address, schema: schema, keyFile: keyFile, logger: quiet) { hub in
            let registry = PostgresDeviceRegistry(tables: hub.tables)
            let expiry = PostgresDeviceTables.wallClock() + 3_600_000
            var tokens: [String] = []
            for device in devices {
                let code = EnrollmentCode.random()
                guard let hash = EnrollmentCode.hash(code),
                    try await hub.administration.addEnrollmentCode(
                        hash: hash, deviceName: "bench-\(device.id.hex)", grants: device.grants, expiresAt: expiry,
                        actor: "vigil-bench")
                else { throw BenchError(.setup, "The hub refused an enrollment code for \(device.id.hex).") }
                let credential = DeviceCredential.random()
                let request = try EnrollmentRequest(code: code, replica: device.id, key: device.signingKey)
                guard case .enrolled = try await registry.enroll(request, credential: credential) else {
                    throw BenchError(.setup, "The hub did not enroll \(device.id.hex).")
                }
                tokens.append(credential.text)
            }
            return tokens
        }
    }

    static func dropSchema(_ schema: String, address: String) async throws {
        let client = PostgresClient(configuration: try PostgresClient.Configuration(address: address), backgroundLogger: quiet)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: quiet)
        }
    }
}

/// nginx round-robining HTTP/1.1 over hub processes on loopback, with a configuration of its own
/// in `folder` (nothing of the system's is read or touched); stopped with SIGQUIT.
final class NginxProcess: @unchecked Sendable {
    let port: Int
    private let process = Process()

    init(nginx: String, upstreams: [Int], folder: String) throws {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        port = Int.random(in: 20_000...29_999)
        let configuration = """
            worker_processes 1;
            daemon off;
            pid \(folder)/nginx.pid;
            error_log \(folder)/error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                client_body_temp_path \(folder)/body;
                proxy_temp_path \(folder)/proxy;
                fastcgi_temp_path \(folder)/fastcgi;
                uwsgi_temp_path \(folder)/uwsgi;
                scgi_temp_path \(folder)/scgi;
                upstream hubs {
            \(upstreams.map { "        server 127.0.0.1:\($0);" }.joined(separator: "\n"))
                    keepalive 128;
                }
                server {
                    listen 127.0.0.1:\(port);
                    client_max_body_size 64m;
                    location / {
                        proxy_pass http://hubs;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_request_buffering off;
                        proxy_buffering off;
                    }
                }
            }
            """
        let path = folder + "/nginx.conf"
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: nginx)
        process.arguments = ["-p", folder, "-c", path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = MonotonicClock.now() + 10
        while MonotonicClock.now() < deadline {
            if !process.isRunning {
                throw BenchError(.tool, "nginx exited at start; see \(folder)/error.log.")
            }
            if Self.accepts(port: port) { return }
            usleep(50_000)
        }
        stop()
        throw BenchError(.tool, "nginx did not answer on 127.0.0.1:\(port) within 10 s.")
    }

    var url: URL { URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/") }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    static func accepts(port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    func stop() {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGQUIT)
        process.waitUntilExit()
    }
}

/// 1,000 simulated devices against the three hubs behind nginx (issue 12): 125 in each of 8
/// regions, each reading its region and `warnings` and pushing one observation per exchange, all
/// at once, with the first hub process's memory sampled throughout; then the same devices paced at
/// half the rate they reached all at once, each syncing in turn as field devices do.
struct ThousandDevices {
    static let count = 1_000
    /// The paced phase's exchanges per device.
    static let pacedRounds = 2
    /// The paced phase's rate, as a share of the rate reached with every device at once.
    static let pacedShare = 0.5

    var load: LoadResult
    var paced: LoadResult
    var memory: HubMemory
    var processes: Int

    static func run(
        on placement: PostgresPlacement, corpus: inout IncidentCorpus, syncd: String, context: BenchmarkContext
    ) throws -> ThousandDevices {
        let exchanges = context.hubExchanges
        let devices = try HubLoadBenchmark.simulatedDevices(
            count: count, perPush: 1, exchanges: exchanges + pacedRounds, corpus: &corpus
        ) {
            HubLoadBenchmark.scopedRegions[$0 % HubLoadBenchmark.scopedRegions.count]
        }
        return try placement.serve(devices, tag: "thousand", syncd: syncd, context: context) { url, hub, tokens in
            let states = zip(devices, tokens).map { DeviceState(device: $0, token: $1, hub: url) }
            var memory = HubMemory(idle: hub.memory().resident)
            _ = try SyncTools.wait { try await LoadClients.sync(states, rounds: 0...0) }
            memory.afterWarmUp = hub.memory().resident
            let sampler = MemorySampler(hub: hub)
            sampler.start()
            let load = try SyncTools.wait { try await LoadClients.sync(states, rounds: 1...exchanges) }
            memory.take(sampler.stop(), peak: hub.memory().peak)
            context.log("1,000 devices: \(Int(load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(load.latencies.median)) ms, p99 \(load.p99) ms, \(load.pulled) versions pulled, \(load.errors) errors\(load.firstError.map { " (first: \($0))" } ?? "")")
            let offered = load.rate * pacedShare
            let paced = try SyncTools.wait {
                try await LoadClients.paced(states, rounds: exchanges + 1...exchanges + pacedRounds, rate: offered)
            }
            context.log("1,000 devices paced at \(Int(offered))/s: p50 \(HubLoadBenchmark.ms(paced.latencies.median)) ms, p99 \(paced.p99) ms, \(paced.errors) errors")
            return ThousandDevices(load: load, paced: paced, memory: memory, processes: placement.processes)
        }
    }

    var figures: [Figure] {
        var memoryFigure = memory.figure
        memoryFigure.id = "hub-pg\(processes)-1000-memory"
        memoryFigure.title = "1,000 devices on \(processes) hubs behind nginx: first hub process's resident memory, second half next to the first"
        return [
            Figure.p99(
                id: "hub-pg\(processes)-1000-p99", title: "1,000 devices on \(processes) hubs on PostgreSQL behind nginx: 99th percentile latency of one exchange",
                name: "POST /v1/sync p99, \(Self.count) devices at once in \(HubLoadBenchmark.scopedRegions.count) regions (own region and warnings), each pushing 1 and pulling what is new in scope",
                of: load, target: 1000, targetName: "1 s",
                notes: [
                    "\(Int(load.rate)) exchanges/s, p50 \(HubLoadBenchmark.ms(load.latencies.median)) ms; \(load.pulled) versions pulled; errors: \(load.errors) (zero required)\(load.firstError.map { "; first: \($0)" } ?? "")",
                ]),
            pacedFigure,
            memoryFigure,
        ]
    }

    /// The paced phase: its p99 next to the same 1 s, at a load the hubs hold.
    private var pacedFigure: Figure {
        let offered = load.rate * Self.pacedShare
        let every = Double(Self.count) / offered
        return Figure.p99(
            id: "hub-pg\(processes)-1000-paced-p99",
            title: "1,000 devices on \(processes) hubs on PostgreSQL behind nginx, paced at half the all-at-once rate: 99th percentile latency of one exchange",
            name: "POST /v1/sync p99, \(Self.count) devices each syncing once every \(String(format: "%.0f", every)) s (\(Int(offered)) exchanges/s in all), each pushing 1 and pulling what is new in scope",
            of: paced, target: 1000, targetName: "1 s",
            notes: [
                "offered \(Int(offered)) exchanges/s, half of the \(Int(load.rate))/s reached with every device at once; reached \(Int(paced.rate))/s",
                "timed from each exchange's scheduled start; p50 \(HubLoadBenchmark.ms(paced.latencies.median)) ms; errors: \(paced.errors) (zero required)\(paced.firstError.map { "; first: \($0)" } ?? "")",
            ])
    }
}
