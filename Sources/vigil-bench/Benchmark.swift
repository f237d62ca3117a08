import Foundation

/// One benchmark: sets up what it needs under the run's work folder, measures, and returns its
/// figures, each next to its reference measured in the same run.
///
/// Adding a figure means adding a type conforming to this and listing it in
/// ``VigilBench/benchmarks``.
protocol Benchmark: Sendable {
    /// The name `--only` selects it by.
    var name: String { get }
    /// A rough number of seconds it takes with default parameters, shown before it starts.
    var estimatedSeconds: Int { get }
    func run(in context: BenchmarkContext) throws -> [Figure]
}

/// What every benchmark of one run shares: tools, parameters, a work folder, progress output.
struct BenchmarkContext {
    /// The release `fieldcli` binary.
    var fieldcli: String
    /// The `sqlite3` command-line tool.
    var sqlite3: String
    /// The release `syncd` binary (the hub), for the sync benchmarks.
    var syncd: String?
    /// A folder the run owns; removed at the end unless kept.
    var workFolder: String
    /// How many documents the replicas hold or receive (100,000 by default).
    var documents: Int
    /// Timed runs of each command, after ``warmups`` untimed ones.
    var runs: Int
    var warmups: Int
    /// Repetitions of throughput measurements; the median is quoted.
    var repeats: Int
    /// Versions per `apply` call.
    var batchSize: Int
    /// Exchanges each simulated device makes in the hub-load benchmark.
    var hubExchanges: Int
    /// The PostgreSQL server of the hub-load-postgres benchmark (`postgres://…`), if any.
    var postgres: String? = nil
    /// The nginx binary the three-hub configuration runs behind, if any.
    var nginx: String? = nil
    /// The seed of every generated body, id and key.
    var seed: UInt64
    /// The received versions, shared by the benchmarks that need them.
    var corpus: SharedCorpus

    /// A path inside the work folder.
    func path(_ name: String) -> String { workFolder + "/" + name }

    /// Removes a SQLite file and its companions.
    func removeDatabase(at path: String) {
        for suffix in ["", "-wal", "-shm", "-journal", ".key"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    /// A progress line on standard error, so that standard output stays the report.
    func log(_ message: String) {
        FileHandle.standardError.write(Data("[vigil-bench] \(message)\n".utf8))
    }
}
