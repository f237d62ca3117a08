import Foundation
import ReplicaStore
import SyncEngine

/// Issue 6 figures 1 to 4, over loopback HTTP through a counting proxy, with the release
/// `syncd serve` as the hub and the release `fieldcli sync` as the client, each its own process:
/// the initial pull (time, bytes, client memory), the no-op sync (requests and bytes with 100 and
/// 100,000 documents, 10 and 1,000 writers), a small sync (10 up, 10 down) and a resumed pull.
struct SyncBenchmark: Benchmark {
    let name = "sync"
    let estimatedSeconds = 150

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The sync benchmark needs --syncd (the release syncd binary).")
        }
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        var figures: [Figure] = []

        // The hub of the initial pull: the shared versions applied straight into its file.
        let hubPath = context.path("pull-hub.sqlite")
        let seeding = try MonotonicClock.measure {
            try SyncTools.seed(
                at: hubPath, with: versions, from: peer, writers: context.corpus.writers, batchSize: context.batchSize)
        }
        context.log("seeded the hub with \(versions.count) versions in \(String(format: "%.1f", seeding.seconds)) s")
        let hub = try HubProcess(
            syncd: syncd, databasePath: hubPath, logPath: context.path("pull-hub.log"))
        defer { hub.stop() }
        let proxy = try CountingProxy(targetPort: hub.port)
        defer { proxy.stop() }
        let hubURL = "http://127.0.0.1:\(proxy.port)"

        // 1. Initial pull, next to the plain insert floor, alternating which goes first.
        var pullSeconds: [Double] = []
        var floorSeconds: [Double] = []
        var pullBytes: [Double] = []
        var clientBytes: [Double] = []
        var pullUp: [Double] = []
        var requests: [Double] = []
        var memory: [Double] = []
        var pullParts = ""
        var lastReplica = ""
        var lastToken = ""
        for round in 0..<context.repeats {
            let replica = context.path("pull-\(round).sqlite")
            context.removeDatabase(at: replica)
            let token = try SyncTools.enrolledReplica(at: replica, hubPath: hubPath)
            if round.isMultiple(of: 2) {
                floorSeconds.append(try ApplyRateBenchmark().insertIntoTable(versions, context: context, round: round))
            }
            proxy.reset()
            let run = try SyncTools.sync(replica: replica, hub: hubURL, token: token, context: context)
            let counts = proxy.snapshot()
            if !round.isMultiple(of: 2) {
                floorSeconds.append(try ApplyRateBenchmark().insertIntoTable(versions, context: context, round: round))
            }
            let held = try SyncTools.documentCount(at: replica)
            guard run.versionsPulled == versions.count, held == versions.count else {
                throw BenchError(
                    .verification, "The pull brought \(run.versionsPulled ?? -1) versions; the replica holds \(held) of \(versions.count).")
            }
            pullSeconds.append(run.cost.seconds)
            pullBytes.append(Double(counts.bytesDown))
            pullUp.append(Double(counts.bytesUp))
            pullParts = counts.parts
            clientBytes.append(Double(run.bytesReceived ?? 0))
            requests.append(Double(counts.requests))
            memory.append(Double(run.cost.maxResidentBytes) / 1_048_576)
            context.log(
                "round \(round + 1): pull \(String(format: "%.2f", run.cost.seconds)) s, \(counts.bytesDown) bytes down (client says \(run.bytesReceived ?? 0)), \(counts.bytesUp) up, \(counts.requests) requests, peak RSS \(run.cost.maxResidentBytes / 1_048_576) MB; floor \(String(format: "%.2f", floorSeconds.last ?? 0)) s")
            if !lastReplica.isEmpty { context.removeDatabase(at: lastReplica) }
            lastReplica = replica
            lastToken = token
        }
        let floorBytes = Double(try SyncTools.byteFloor(of: versions))
        let accountingNote = "client's own accounting (SyncSummary.bytesReceived): median \(Int(Samples(clientBytes).median)) bytes, \(String(format: "%+.2f", (Samples(clientBytes).median / max(Samples(pullBytes).median, 1) - 1) * 100))% from the proxy's count"
        figures.append(Figure(
            id: "initial-pull", title: "pulling \(versions.count) observations into an empty replica over loopback HTTP",
            unit: "s", better: .lower,
            measured: .init(name: "`fieldcli sync` process (spawn to exit) from `syncd serve`, through the counting proxy", samples: Samples(pullSeconds), withP90: false),
            reference: .init(name: "plain SQLite insert of the same rows, one transaction, one prepared statement (the apply-rate floor)", samples: Samples(floorSeconds), withP90: false),
            targetRatio: 3,
            notes: [
                "median of \(context.repeats) pulls, each into a new empty replica; the hub (seeded with ReplicaStore.apply in \(String(format: "%.1f", seeding.seconds)) s) runs as its own release process",
                "\(Int(Samples(requests).median)) HTTP requests per pull; \(Int(Samples(pullUp).median)) bytes sent up",
                "bodies are valid observation records (collection observations), written by \(SharedCorpus.writerCount) devices",
            ]))
        figures.append(Figure(
            id: "initial-pull-bytes", title: "bytes received for the same pull, headers included",
            unit: "bytes", better: .lower,
            measured: .init(name: "bytes from hub to client counted by the proxy", samples: Samples(pullBytes), withP90: false),
            reference: .init(name: "gzip of the bodies concatenated + 80 bytes per version (signature, id)", samples: Samples([floorBytes]), withP90: false),
            targetRatio: 1.12,
            notes: [accountingNote, "last pull by part: \(pullParts)"]))
        figures.append(Figure(
            id: "initial-pull-memory", title: "peak resident memory of the client process during the pull",
            unit: "MB", better: .lower,
            measured: .init(name: "`fieldcli sync` VmHWM (/proc/PID/status, read every 5 ms until it exits)", samples: Samples(memory), withP90: false),
            reference: .init(name: "the target: 80 MB (issue 14)", samples: Samples([80]), withP90: false),
            targetRatio: 1,
            notes: ["a limit rather than a measured reference: met when under 80 MB"]))

        // 2. No-op syncs: 100,000 documents from 10 writers (the replica just pulled), then
        // 100 documents from 10 writers and 100,000 from 1,000 writers.
        var noop: [String: NoOp] = [:]
        noop["big"] = try noOp(replica: lastReplica, token: lastToken, hubURL: hubURL, proxy: proxy, context: context)
        context.log("no-op sync, \(versions.count) documents, \(SharedCorpus.writerCount) writers: \(noop["big"]?.summary ?? "")")

        let smallScenario = try Scenario(
            name: "small", documents: 100, writers: 10, seed: context.seed &+ 7, syncd: syncd, context: context)
        defer { smallScenario.stop() }
        noop["small"] = try noOp(replica: smallScenario.replica, token: smallScenario.token, hubURL: smallScenario.url, proxy: smallScenario.proxy, context: context)
        context.log("no-op sync, 100 documents, 10 writers: \(noop["small"]?.summary ?? "")")
        // The same no-op over HTTPS: a new connection each (fieldcli sync), then kept (syncd run).
        if let small = noop["small"] {
            figures += try HTTPSNoOpBenchmark.figures(scenario: smallScenario, plain: small, syncd: syncd, context: context)
        }

        do {
            let manyWriters = try Scenario(
                name: "writers", documents: versions.count, writers: 1000, seed: context.seed &+ 11, syncd: syncd,
                context: context)
            defer { manyWriters.stop() }
            noop["writers"] = try noOp(replica: manyWriters.replica, token: manyWriters.token, hubURL: manyWriters.url, proxy: manyWriters.proxy, context: context)
            context.log("no-op sync, \(versions.count) documents, 1000 writers: \(noop["writers"]?.summary ?? "")")
        }
        if let big = noop["big"], let small = noop["small"], let writers = noop["writers"] {
            figures.append(Figure(
                id: "noop-sync-bytes", title: "a no-op sync: bytes on the wire both ways, headers included, at \(versions.count) documents",
                unit: "bytes", better: .lower,
                measured: .init(name: "up + down counted by the proxy, \(versions.count) documents, 10 writers", samples: Samples(big.bytes), withP90: false),
                reference: .init(name: "the target: 600 bytes (issue 14)", samples: Samples([600]), withP90: false),
                targetRatio: 1,
                notes: [
                    "\(big.summary)",
                    "client's own accounting: \(big.clientBytes) bytes",
                ]))
            figures.append(Figure(
                id: "noop-sync-requests", title: "a no-op sync: HTTP requests",
                unit: "requests", better: .lower,
                measured: .init(name: "requests counted by the proxy", samples: Samples(big.requests), withP90: false),
                reference: .init(name: "the target: one request", samples: Samples([1]), withP90: false),
                targetRatio: 1, notes: []))
            figures.append(Figure(
                id: "noop-sync-documents", title: "no-op sync bytes, \(versions.count) documents next to 100 documents (10 writers)",
                unit: "bytes", better: .lower,
                measured: .init(name: "\(versions.count) documents", samples: Samples(big.bytes), withP90: false),
                reference: .init(name: "100 documents", samples: Samples(small.bytes), withP90: false),
                targetRatio: 1.05, notes: ["100 documents: \(small.summary)"]))
            figures.append(Figure(
                id: "noop-sync-writers", title: "no-op sync bytes, 1,000 known writers next to 10 (\(versions.count) documents)",
                unit: "bytes", better: .lower,
                measured: .init(name: "1,000 writers", samples: Samples(writers.bytes), withP90: false),
                reference: .init(name: "10 writers", samples: Samples(big.bytes), withP90: false),
                targetRatio: 1.05, notes: ["1,000 writers: \(writers.summary)"]))
        }

        // 3. Small sync: 10 observations written here, 10 waiting at the hub from another device.
        figures += try smallSync(smallScenario, noOpSeconds: noop["small"]?.seconds ?? [], context: context)

        // 4. Resume: the same pull cut five times at random moments, then finished.
        figures.append(try resume(
            versions: versions, hubPath: hubPath, hubURL: hubURL, proxy: proxy, uninterruptedBytes: pullBytes,
            uninterruptedSeconds: Samples(pullSeconds).median, context: context))
        return figures
    }

    // MARK: - No-op

    struct NoOp {
        var bytes: [Double] = []
        var requests: [Double] = []
        var seconds: [Double] = []
        var up = 0
        var down = 0
        var clientBytes = 0
        /// The last run's bytes by part (``CountingProxy/Counts/parts``).
        var parts = ""

        var summary: String {
            "\(Int(Samples(requests).median)) request(s), \(up) bytes up + \(down) down = \(up + down) (\(parts)), \(String(format: "%.0f", Samples(seconds).median * 1000)) ms (process start included)"
        }
    }

    /// Syncs an up-to-date replica a few times; nothing moves.
    private func noOp(replica: String, token: String, hubURL: String, proxy: CountingProxy, context: BenchmarkContext) throws -> NoOp {
        var result = NoOp()
        for _ in 0..<max(3, min(context.runs, 7)) {
            proxy.reset()
            let run = try SyncTools.sync(replica: replica, hub: hubURL, token: token, context: context)
            let counts = proxy.snapshot()
            guard run.versionsPulled == 0, run.versionsPushed == 0 else {
                throw BenchError(.verification, "A no-op sync moved \(run.versionsPulled ?? -1) down and \(run.versionsPushed ?? -1) up.")
            }
            result.bytes.append(Double(counts.bytesUp + counts.bytesDown))
            result.requests.append(Double(counts.requests))
            result.seconds.append(run.cost.seconds)
            result.up = counts.bytesUp
            result.down = counts.bytesDown
            result.parts = counts.parts
            result.clientBytes = (run.bytesSent ?? 0) + (run.bytesReceived ?? 0)
        }
        return result
    }

    // MARK: - Small sync

    private func smallSync(_ scenario: Scenario, noOpSeconds: [Double], context: BenchmarkContext) throws -> [Figure] {
        // Another device, up to date, whose 10 new observations wait at the hub.
        let other = context.path("small-other.sqlite")
        context.removeDatabase(at: other)
        let otherToken = try SyncTools.enrolledReplica(at: other, hubPath: scenario.hubPath)
        _ = try SyncTools.sync(replica: other, hub: scenario.directURL, token: otherToken, context: context)
        var corpus = try IncidentCorpus(seed: context.seed &+ 13)
        var seconds: [Double] = []
        var bytes: [Double] = []
        var requests: [Double] = []
        var up = 0
        var down = 0
        var floor: [Double] = []
        var client = 0
        var parts = ""
        for round in 0..<max(3, min(context.runs, 7)) {
            var written: [Version] = []
            for (path, offset) in [(other, 0), (scenario.replica, 10)] {
                let store = try ReplicaStore.open(at: path)
                for index in 0..<10 {
                    let (body, region) = corpus.nextReport(index: 1_000_000 + round * 20 + offset + index)
                    written.append(try store.write(WriteIntent(
                        key: DocumentKey(collection: corpus.collection, id: DocumentID.generate()), partition: region, body: body)))
                }
            }
            _ = try SyncTools.sync(replica: other, hub: scenario.directURL, token: otherToken, context: context)
            scenario.proxy.reset()
            let run = try SyncTools.sync(replica: scenario.replica, hub: scenario.url, token: scenario.token, context: context)
            let counts = scenario.proxy.snapshot()
            guard run.versionsPulled == 10, run.versionsPushed == 10 else {
                throw BenchError(.verification, "The small sync pushed \(run.versionsPushed ?? -1) and pulled \(run.versionsPulled ?? -1), not 10 and 10.")
            }
            seconds.append(run.cost.seconds * 1000)
            bytes.append(Double(counts.bytesUp + counts.bytesDown))
            requests.append(Double(counts.requests))
            up = counts.bytesUp
            down = counts.bytesDown
            parts = counts.parts
            client = (run.bytesSent ?? 0) + (run.bytesReceived ?? 0)
            floor.append(Double(try SyncTools.byteFloor(of: Array(written[0..<10])) + SyncTools.byteFloor(of: Array(written[10..<20]))))
        }
        return [
            Figure(
                id: "small-sync", title: "a small sync: 10 observations pushed and 10 pulled, wall time",
                unit: "ms", better: .lower,
                measured: .init(name: "`fieldcli sync` process, spawn to exit", samples: Samples(seconds), withP90: false),
                reference: .init(name: "a no-op `fieldcli sync` of the same replica", samples: Samples(noOpSeconds.map { $0 * 1000 }), withP90: false),
                targetRatio: nil,
                notes: ["on a hub and replica of 100 documents from 10 writers; \(seconds.count) runs"]),
            Figure(
                id: "small-sync-bytes", title: "the same small sync: bytes on the wire both ways, headers included",
                unit: "bytes", better: .lower,
                measured: .init(name: "up + down counted by the proxy", samples: Samples(bytes), withP90: false),
                reference: .init(name: "gzip floor of the 10 bodies up and of the 10 down, + 80 bytes per version", samples: Samples(floor), withP90: false),
                targetRatio: 1.2,
                notes: [
                    "last run: \(Int(Samples(requests).median)) request(s), \(up) bytes up, \(down) down (\(parts)); client's own accounting \(client) bytes",
                    "the 10 bodies are gzipped separately each way, so the floor has two gzip headers and little to share",
                ]),
        ]
    }

    // MARK: - Resume

    private func resume(
        versions: [Version], hubPath: String, hubURL: String, proxy: CountingProxy, uninterruptedBytes: [Double],
        uninterruptedSeconds: Double, context: BenchmarkContext
    ) throws -> Figure {
        var generator = SplitMix64(seed: context.seed &+ 17)
        let replica = context.path("resume.sqlite")
        context.removeDatabase(at: replica)
        defer { context.removeDatabase(at: replica) }
        let token = try SyncTools.enrolledReplica(at: replica, hubPath: hubPath)
        proxy.reset()
        var cuts: [String] = []
        var held = 0
        for _ in 0..<5 {
            // A random moment within what is left of the pull (10% to 70% of the time the rest
            // would take uninterrupted, after the process's start), so that every cut lands in it.
            let fraction = 0.1 + Double(generator.next() % 600) / 1000
            let left = Double(versions.count - held) / Double(versions.count)
            let moment = 0.05 + fraction * left * uninterruptedSeconds
            let run = try SyncTools.sync(replica: replica, hub: hubURL, token: token, context: context, killAfter: moment)
            held = try SyncTools.documentCount(at: replica)
            cuts.append("\(String(format: "%.2f", run.cost.seconds)) s (\(held) held)")
        }
        let final = try SyncTools.sync(replica: replica, hub: hubURL, token: token, context: context)
        let counts = proxy.snapshot()
        held = try SyncTools.documentCount(at: replica)
        guard held == versions.count else {
            throw BenchError(.verification, "After the resumed pull the replica holds \(held) of \(versions.count) documents.")
        }
        context.log("resume: cut at \(cuts.joined(separator: ", ")); the last run pulled \(final.versionsPulled ?? -1); \(counts.bytesDown) bytes down in all")
        return Figure(
            id: "resume", title: "a pull of \(versions.count) cut five times (SIGKILL of the client), then finished: bytes received",
            unit: "bytes", better: .lower,
            measured: .init(name: "bytes from hub to client over all six runs, counted by the proxy", samples: Samples([Double(counts.bytesDown)]), withP90: false),
            reference: .init(name: "an uninterrupted pull (initial-pull-bytes)", samples: Samples(uninterruptedBytes), withP90: false),
            targetRatio: 1.2,
            notes: [
                "cuts at random moments (seeded) within what is left of the pull: killed after \(cuts.joined(separator: ", "))",
                "\(counts.requests) requests in all, \(counts.connections) connections",
            ])
    }
}

/// A hub seeded with `documents` observations from `writers` devices, running, behind a proxy,
/// and a replica that has pulled them all.
final class Scenario {
    let replica: String
    let hubPath: String
    /// The replica's credential.
    let token: String
    let hub: HubProcess
    let proxy: CountingProxy
    var url: String { "http://127.0.0.1:\(proxy.port)" }
    var directURL: String { "http://127.0.0.1:\(hub.port)" }

    init(name: String, documents: Int, writers count: Int, seed: UInt64, syncd: String, context: BenchmarkContext) throws {
        var corpus = try IncidentCorpus(seed: seed)
        let writers = try (0..<count).map { _ in try corpus.otherReplica() }
        let versions = try corpus.signedVersions(count: documents, writers: writers)
        let hubPath = context.path("\(name)-hub.sqlite")
        self.hubPath = hubPath
        try SyncTools.seed(
            at: hubPath, with: versions, from: try corpus.otherReplica().id, writers: writers, batchSize: context.batchSize)
        hub = try HubProcess(syncd: syncd, databasePath: hubPath, logPath: context.path("\(name)-hub.log"))
        proxy = try CountingProxy(targetPort: hub.port)
        replica = context.path("\(name)-replica.sqlite")
        context.removeDatabase(at: replica)
        token = try SyncTools.enrolledReplica(at: replica, hubPath: hubPath)
        // Through the proxy: the replica keeps what it knows of a hub under the hub's URL.
        let run = try SyncTools.sync(replica: replica, hub: "http://127.0.0.1:\(proxy.port)", token: token, context: context)
        guard run.versionsPulled == documents else {
            throw BenchError(.verification, "The \(name) scenario's replica pulled \(run.versionsPulled ?? -1) of \(documents).")
        }
        context.log("\(name) scenario: \(documents) documents from \(count) writers pulled in \(String(format: "%.2f", run.cost.seconds)) s, peak RSS \(run.cost.maxResidentBytes / 1_048_576) MB")
    }

    func stop() {
        proxy.stop()
        hub.stop()
    }
}
