import Foundation
import SyncEngine

/// Issue 13 figure: `fieldcli import observations FILE` of 100,000 observations (JSON lines, the
/// bodies of the shared corpus) into an empty replica, timed from the command's start to its exit
/// (reading, checking every record, signing, writing 5,000 to a transaction), next to the apply
/// floor: a plain SQLite insert of the same rows in one transaction. Repeated; the median rate is
/// quoted. Target: at least 20,000 records/s.
struct ImportBenchmark: Benchmark {
    let name = "import"
    let estimatedSeconds = 40

    /// Issue 13's target, in records per second.
    static let targetRate = 20_000.0

    func run(in context: BenchmarkContext) throws -> [Figure] {
        let (_, versions) = try context.corpus.receivedVersions(log: context.log)
        let file = context.path("import.jsonl")
        var lines = Data()
        for version in versions {
            lines.append(version.body ?? Data("{}".utf8))
            lines.append(0x0A)
        }
        try lines.write(to: URL(fileURLWithPath: file))
        defer { try? FileManager.default.removeItem(atPath: file) }
        var rates: [Double] = []
        var floorRates: [Double] = []
        for round in 0..<context.repeats {
            let seconds = try importOnce(file, count: versions.count, context: context, round: round)
            let floor = try ApplyRateBenchmark().insertIntoTable(versions, context: context, round: round)
            rates.append(Double(versions.count) / seconds)
            floorRates.append(Double(versions.count) / floor)
            context.log(
                "round \(round + 1): fieldcli import \(Int(rates[round])) records/s (\(String(format: "%.2f", seconds)) s), plain insert \(Int(floorRates[round])) rows/s")
        }
        let floor = Samples(floorRates)
        return [Figure(
            id: name, title: "bulk import of \(versions.count) observations (JSON lines) into an empty replica",
            unit: "records/s", better: .higher,
            measured: .init(name: "`fieldcli import observations FILE`, start to exit", samples: Samples(rates), withP90: false),
            reference: .init(name: "the apply floor: plain SQLite insert of the same rows, one transaction, one reused prepared statement", samples: floor, withP90: false),
            targetRatio: floor.median / Self.targetRate,
            notes: [
                "median of \(context.repeats) rounds; a fresh replica each time",
                "the command reads the file, checks every record against the observation rules, signs every version and writes 5,000 to a transaction (the default of `--batch-size`), as `fieldcli record` would one by one",
                "target (issue 13): at least \(Int(Self.targetRate)) records/s; the target ratio is the floor's median over that rate",
            ])]
    }

    /// Runs `fieldcli import` into a new replica; returns its wall time.
    private func importOnce(_ file: String, count: Int, context: BenchmarkContext, round: Int) throws -> Double {
        let replica = context.path("import-\(round).sqlite")
        context.removeDatabase(at: replica)
        defer { context.removeDatabase(at: replica) }
        let stderr = context.path("import.stderr")
        _ = try TimedProcess(
            executable: context.fieldcli, arguments: ["init", "--db", replica], environment: [:], standardErrorPath: stderr
        ).run()
        let output = context.path("import.stdout")
        let cost = try TimedProcess(
            executable: context.fieldcli, arguments: ["import", "observations", file, "--db", replica, "--json"],
            environment: [:], standardErrorPath: stderr, standardOutputPath: output
        ).run()
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: output))) as? [String: Any]
        guard (summary?["imported"] as? Int) == count else {
            throw BenchError(.verification, "fieldcli import wrote \(summary?["imported"] ?? "nothing") of \(count) records.")
        }
        return cost.seconds
    }
}
