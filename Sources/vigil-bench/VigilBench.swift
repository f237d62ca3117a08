import ArgumentParser
import Foundation
import GRDB
import ReplicaStore

/// `vigil-bench`: measures Vigil's figures, each next to a reference measured in the same run,
/// prints a table and writes the same figures as JSON. `scripts/bench` builds and runs it.
@main
struct VigilBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil-bench",
        abstract: "Measure Vigil next to plain SQLite references, in one run.",
        discussion: "Run through scripts/bench, which builds release binaries and finds sqlite3.")

    /// Every benchmark, in the order they run.
    static let benchmarks: [any Benchmark] = [
        LocalWriteBenchmark(), ApplyRateBenchmark(), ImportBenchmark(), SyncBenchmark(), FieldWeekBenchmark(), HubLoadBenchmark(),
        PostgresHubLoadBenchmark(), VersionGrowthBenchmark(), TrustBenchmark(), EncryptionBenchmark(), CodecBenchmark(),
    ]

    @Option(help: "The release fieldcli binary.")
    var fieldcli: String

    @Option(help: "The sqlite3 command-line tool.")
    var sqlite3 = "/usr/bin/sqlite3"

    @Option(help: "The release syncd binary (the hub of the sync, field-week, hub-load and trust benchmarks).")
    var syncd: String?

    @Option(help: "A PostgreSQL server for the hub-load-postgres benchmark: postgres://USER:PASSWORD@127.0.0.1:PORT/DB (it creates and drops schemas vigil_bench_*). Without it that benchmark is skipped.")
    var postgres: String?

    @Option(help: "The nginx binary the three-hub configuration of hub-load-postgres runs behind (default: /usr/sbin/nginx when present).")
    var nginx: String?

    @Option(help: "Where to write the figures as JSON.")
    var out: String?

    @Option(help: "Run only these benchmarks (repeatable): \(benchmarks.map(\.name).joined(separator: ", ")).")
    var only: [String] = []

    @Option(help: "Documents in the replicas (the figures are defined for 100,000).")
    var documents = 100_000

    @Option(help: "Timed runs of each command.")
    var runs = 31

    @Option(help: "Untimed runs of each command first.")
    var warmups = 3

    @Option(help: "Rounds of each throughput measurement (the median is quoted).")
    var repeats = 3

    @Option(help: "Versions per ReplicaStore.apply call.")
    var batchSize = 1000

    @Option(help: "Exchanges each of the 64 simulated devices makes in hub-load.")
    var hubExchanges = 20

    @Flag(help: "A small smoke run: 10,000 documents, few runs and repeats (figures not comparable).")
    var quick = false

    @Option(help: "Seed of the generated reports, ids and keys.")
    var seed: UInt64 = 2025

    @Option(help: "Folder for the databases (default: a new temporary folder, removed afterwards).")
    var workFolder: String?

    mutating func validate() throws {
        let known = Set(Self.benchmarks.map(\.name))
        if let unknown = only.first(where: { !known.contains($0) }) {
            throw ValidationError("Unknown benchmark '\(unknown)'; choose from \(known.sorted().joined(separator: ", ")).")
        }
        guard documents > 0, runs > 0, warmups >= 0, repeats > 0, batchSize > 0 else {
            throw ValidationError("--documents, --runs, --repeats and --batch-size must be positive, --warmups not negative.")
        }
        if quick {
            documents = min(documents, 10_000)
            runs = min(runs, 5)
            warmups = min(warmups, 1)
            repeats = 1
            hubExchanges = min(hubExchanges, 5)
        }
        for (flag, path) in [("--fieldcli", fieldcli), ("--sqlite3", sqlite3)] + (syncd.map { [("--syncd", $0)] } ?? []) where !FileManager.default.isExecutableFile(atPath: path) {
            throw ValidationError("\(flag) \(path) is not an executable file.")
        }
        guard fieldcli.hasPrefix("/"), sqlite3.hasPrefix("/"), syncd?.hasPrefix("/") ?? true else {
            throw ValidationError("Give --fieldcli, --sqlite3 and --syncd as absolute paths.")
        }
        if let out {
            let folder = PrivateFile.parentFolder(of: out)
            guard FileManager.default.isWritableFile(atPath: folder.isEmpty ? "." : folder) else {
                throw ValidationError("Cannot write --out \(out): its folder does not exist or is not writable.")
            }
        }
    }

    func run() throws {
        let folder = try workFolder ?? Self.makeTemporaryFolder()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { if workFolder == nil { try? FileManager.default.removeItem(atPath: folder) } }
        var context = BenchmarkContext(
            fieldcli: fieldcli, sqlite3: sqlite3, syncd: syncd, workFolder: folder, documents: documents, runs: runs,
            warmups: warmups, repeats: repeats, batchSize: batchSize, hubExchanges: hubExchanges, seed: seed,
            corpus: SharedCorpus(count: documents, seed: seed))

        context.postgres = postgres
        context.nginx = nginx ?? (FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") ? "/usr/sbin/nginx" : nil)
        var figures: [Figure] = []
        for benchmark in Self.benchmarks where only.isEmpty || only.contains(benchmark.name) {
            if benchmark is PostgresHubLoadBenchmark, postgres == nil {
                if only.contains(benchmark.name) { throw ValidationError("hub-load-postgres needs --postgres URL.") }
                context.log("\(benchmark.name): skipped (no --postgres)")
                continue
            }
            context.log("\(benchmark.name): starting (about \(benchmark.estimatedSeconds) s at 100,000 documents)")
            let (result, seconds) = try MonotonicClock.measure { try benchmark.run(in: context) }
            context.log("\(benchmark.name): done in \(Int(seconds)) s")
            figures += result
        }

        let report = BenchmarkReport(
            date: ISO8601DateFormatter().string(from: Date()), machine: try machine(),
            parameters: [
                "documents": "\(documents)", "runs": "\(runs)", "warmups": "\(warmups)", "repeats": "\(repeats)",
                "batch_size": "\(batchSize)", "seed": "\(seed)", "hub_exchanges": "\(hubExchanges)",
                "quick": "\(quick)",
            ],
            figures: figures)
        print(report.table)
        if let out {
            do {
                try report.json().write(to: URL(fileURLWithPath: out))
            } catch {
                throw BenchError(.output, "Cannot write the figures to \(out): \(error.localizedDescription)")
            }
            context.log("figures written to \(out)")
        }
    }

    private static func makeTemporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-bench-\(UUID().uuidString)").path
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        } catch {
            throw BenchError(.setup, "Cannot create the temporary folder \(folder): \(error.localizedDescription)")
        }
        return folder
    }

    private func machine() throws -> BenchmarkReport.Machine {
        var name = utsname()
        uname(&name)
        func text<T>(_ field: T) -> String {
            withUnsafeBytes(of: field) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        }
        let library = try DatabaseQueue().read { db in try String.fetchOne(db, sql: "SELECT sqlite_version()") } ?? "?"
        return BenchmarkReport.Machine(
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            system: "\(text(name.sysname)) \(text(name.release)) \(text(name.machine))",
            sqliteLibrary: library, sqliteTool: Self.toolVersion(sqlite3))
    }

    /// The first word of `TOOL --version`, nil when it cannot be run.
    private static func toolVersion(_ tool: String) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = ["--version"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return String(decoding: data, as: UTF8.self).split(separator: " ").first.map(String.init)
    }
}
