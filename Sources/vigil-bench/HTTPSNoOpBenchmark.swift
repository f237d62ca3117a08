import Foundation
import Logging
import SyncClient

/// The no-op sync over HTTPS (issue 14): the scenario's hub file served by a second `syncd serve`
/// with `--tls-cert`, through a counting proxy of its own, so that the TLS handshake is counted
/// on the wire as a field link carries it. Two ways to sync:
/// - cold, as `fieldcli sync` does: a new process, a new TCP connection and a full handshake;
/// - kept alive, as `syncd run` does between syncs on schedule: one process syncing again over the
///   connection its previous sync left open (``FieldDaemonConfiguration/keepAliveSeconds``), built
///   by `syncd run`'s own composition root (`buildFieldDaemon`).
///
/// The client trusts the hub through a CA file (`--ca-file`: AsyncHTTPClient's pool), and, kept
/// alive, through a pin of the hub's certificate too (`--pin`: the client's own pool of pinned
/// connections). The certificate comes from `openssl` (Debian's), a private root and a leaf for
/// 127.0.0.1.
enum HTTPSNoOpBenchmark {
    struct Syncs {
        var bytes: [Double] = []
        var seconds: [Double] = []
        /// TCP connections opened per sync.
        var connections: [Double] = []
        var parts = ""

        mutating func add(_ counts: CountingProxy.Counts, seconds: Double) {
            bytes.append(Double(counts.bytes))
            self.seconds.append(seconds)
            connections.append(Double(counts.connections))
        }

        var summary: String {
            "\(Int(Samples(bytes).median)) bytes, \(Samples(connections).median) new connection(s), "
                + String(format: "%.1f ms", Samples(seconds).median * 1000)
        }
    }

    /// The figures: cold HTTPS next to the plain no-op `plain` of the same scenario, and kept-alive
    /// HTTPS next to cold HTTPS.
    static func figures(
        scenario: Scenario, plain: SyncBenchmark.NoOp, syncd: String, context: BenchmarkContext
    ) throws -> [Figure] {
        let files = try certificates(in: context.path("https-noop"))
        let hub = try HubProcess(
            syncd: syncd, backend: ["--db", scenario.hubPath, "--tls-cert", files.leaf, "--tls-key", files.key],
            logPath: context.path("https-noop-hub.log"))
        defer { hub.stop() }
        let proxy = try CountingProxy(targetPort: hub.port)
        defer { proxy.stop() }
        let url = "https://127.0.0.1:\(proxy.port)"
        let rounds = max(3, min(context.runs, 7))
        let cold = try coldSyncs(scenario: scenario, url: url, ca: files.root, proxy: proxy, rounds: rounds, context: context)
        context.log("no-op sync over HTTPS, a new process each: \(cold.summary)")
        let kept = try keptAliveSyncs(
            scenario: scenario, url: url, trust: HubTrust(caFile: files.root), proxy: proxy, rounds: rounds)
        context.log("no-op sync over HTTPS on a kept connection (syncd run): \(kept.summary)")
        let pinned = try keptAliveSyncs(
            scenario: scenario, url: url, trust: HubTrust(pins: [files.pin]), proxy: proxy, rounds: rounds)
        context.log("no-op sync over HTTPS on a kept connection, the hub's certificate pinned (syncd run --pin): \(pinned.summary)")
        let handshake = Int(Samples(cold.bytes).median - Samples(kept.bytes).median)
        return [
            Figure(
                id: "noop-sync-https-bytes", title: "a no-op sync over HTTPS, a new connection (fieldcli sync), next to plain HTTP",
                unit: "bytes", better: .lower,
                measured: .init(name: "HTTPS, TCP and TLS 1.3 handshake included, counted by the proxy", samples: Samples(cold.bytes), withP90: false),
                reference: .init(name: "plain HTTP, the same replica and hub file", samples: Samples(plain.bytes), withP90: false),
                targetRatio: nil,
                notes: [
                    "HTTPS: \(cold.summary) (process start included); plain: \(plain.summary)",
                    "no target in issue 14; the handshake and its certificate are about \(handshake) bytes of it (cold less kept-alive)",
                ]),
            Figure(
                id: "noop-sync-https-kept-alive-bytes",
                title: "a no-op sync over HTTPS on the connection the previous sync kept (syncd run), next to a new connection",
                unit: "bytes", better: .lower,
                measured: .init(name: "kept alive: no handshake", samples: Samples(kept.bytes), withP90: false),
                reference: .init(name: "a new connection (fieldcli sync)", samples: Samples(cold.bytes), withP90: false),
                targetRatio: nil,
                notes: [
                    "kept alive: \(kept.summary) (in one process, as syncd run syncs on schedule; its sync interval + 30 s keeps the connection)",
                    "plain HTTP no-op for scale: \(Int(Samples(plain.bytes).median)) bytes",
                ]),
            Figure(
                id: "noop-sync-https-pinned-kept-alive-bytes",
                title: "a no-op sync over HTTPS on a kept connection, the hub's certificate pinned (syncd run --pin), next to a CA file",
                unit: "bytes", better: .lower,
                measured: .init(name: "pinned: the client's own pool of connections", samples: Samples(pinned.bytes), withP90: false),
                reference: .init(name: "a CA file: AsyncHTTPClient's pool", samples: Samples(kept.bytes), withP90: false),
                targetRatio: nil,
                notes: ["pinned: \(pinned.summary)", "a CA file: \(kept.summary)"]),
        ]
    }

    /// `fieldcli sync --ca-file` against `url`, one process each: one untimed warm-up, then `rounds`.
    private static func coldSyncs(
        scenario: Scenario, url: String, ca: String, proxy: CountingProxy, rounds: Int, context: BenchmarkContext
    ) throws -> Syncs {
        var syncs = Syncs()
        for round in 0...rounds {
            proxy.reset()
            let run = try SyncTools.sync(
                replica: scenario.replica, hub: url, token: scenario.token, context: context,
                extraArguments: ["--ca-file", ca])
            guard run.versionsPulled == 0, run.versionsPushed == 0 else {
                throw BenchError(.verification, "A no-op sync over HTTPS moved \(run.versionsPulled ?? -1) down and \(run.versionsPushed ?? -1) up.")
            }
            if round > 0 { syncs.add(proxy.snapshot(), seconds: run.cost.seconds) }
        }
        return syncs
    }

    /// `syncd run`'s synchronizer in this process, trusting the hub by `trust`: one sync opens the
    /// connection, then `rounds` syncs reuse it.
    private static func keptAliveSyncs(
        scenario: Scenario, url: String, trust: HubTrust, proxy: CountingProxy, rounds: Int
    ) throws -> Syncs {
        let (replica, token) = (scenario.replica, scenario.token)
        return try SyncTools.wait {
            let daemon = try buildFieldDaemon(
                configuration: FieldDaemonConfiguration(
                    replicaPath: replica, hub: url, token: token, trust: trust),
                logger: Logger(label: "vigil-bench.https-noop") { _ in SwiftLogNoOpLogHandler() })
            var syncs = Syncs()
            for round in 0...rounds {
                proxy.reset()
                let summary = try await daemon.synchronizer.run()
                guard summary.isQuiet else {
                    throw BenchError(.verification, "A kept-alive no-op sync moved \(summary.versionsPulled) down and \(summary.versionsPushed) up.")
                }
                if round > 0 { syncs.add(proxy.snapshot(), seconds: summary.seconds) }
            }
            return syncs
        }
    }

    /// A private root and a leaf for 127.0.0.1 signed by it, made with `openssl` in `folder`, and
    /// the leaf's pin (the SHA-256 of its DER, in hex).
    private static func certificates(in folder: String) throws -> (root: String, leaf: String, key: String, pin: String) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let (root, rootKey) = (folder + "/root.pem", folder + "/root.key")
        let (leaf, key, request) = (folder + "/hub.pem", folder + "/hub.key", folder + "/hub.csr")
        let extensions = folder + "/hub.ext"
        try Data("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n".utf8).write(to: URL(fileURLWithPath: extensions))
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        try openssl(["req", "-x509"] + curve + ["-days", "2", "-subj", "/CN=vigil-bench root", "-keyout", rootKey, "-out", root])
        try openssl(["req"] + curve + ["-subj", "/CN=127.0.0.1", "-keyout", key, "-out", request])
        try openssl([
            "x509", "-req", "-in", request, "-CA", root, "-CAkey", rootKey, "-CAcreateserial", "-days", "2",
            "-extfile", extensions, "-out", leaf,
        ])
        let der = folder + "/hub.der"
        try openssl(["x509", "-in", leaf, "-outform", "DER", "-out", der])
        let digest = try openssl(["dgst", "-sha256", "-r", der])
        guard let pin = digest.split(separator: " ").first.map(String.init), pin.count == 64 else {
            throw BenchError(.tool, "openssl dgst printed no SHA-256: \(digest.prefix(100))")
        }
        return (root, leaf, key, pin)
    }

    /// Runs `openssl` with `arguments`; returns what it printed on stdout.
    @discardableResult
    private static func openssl(_ arguments: [String]) throws -> String {
        let process = Process()
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = arguments
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            throw BenchError(.tool, "The HTTPS no-op needs openssl at /usr/bin/openssl (apt-get install openssl): \(error).")
        }
        let printed = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw BenchError(.tool, "openssl \(arguments.prefix(2).joined(separator: " ")) exited \(process.terminationStatus).")
        }
        return String(decoding: printed, as: UTF8.self)
    }
}
