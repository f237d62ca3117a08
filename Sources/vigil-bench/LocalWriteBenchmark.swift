import Foundation
import GRDB
import ReplicaStore
import SyncEngine

/// Issue 2 / issue 6 figure 5: one `fieldcli put` on a replica of 100,000 documents, process start
/// included, next to one `sqlite3` command-line insert into a plain table of 100,000 rows of
/// similar size. The two commands alternate (A B, then B A, ...) so that drift in the machine's
/// load falls on both alike.
struct LocalWriteBenchmark: Benchmark {
    let name = "local-write"
    let estimatedSeconds = 40

    func run(in context: BenchmarkContext) throws -> [Figure] {
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        let replicaPath = context.path("local-write.sqlite")
        let referencePath = context.path("local-write-reference.sqlite")
        context.removeDatabase(at: replicaPath)
        context.removeDatabase(at: referencePath)
        defer {
            context.removeDatabase(at: replicaPath)
            context.removeDatabase(at: referencePath)
        }

        let seeding = try MonotonicClock.measure {
            let store = try ReplicaStore.create(at: replicaPath)
            for start in stride(from: 0, to: versions.count, by: context.batchSize) {
                try store.apply(Array(versions[start..<min(start + context.batchSize, versions.count)]), from: peer)
            }
        }
        context.log("seeded the replica with \(versions.count) documents in \(String(format: "%.1f", seeding.seconds)) s")
        try seedReference(at: referencePath, with: versions)

        let total = context.warmups + context.runs
        var corpus = try IncidentCorpus(seed: context.seed &+ 1)
        let bodies = (0..<total).map { corpus.nextReport(index: versions.count + $0).body }
        let stderrPath = context.path("local-write.stderr")
        var put = (wall: [Double](), cpu: [Double]())
        var insert = (wall: [Double](), cpu: [Double]())
        context.log("timing \(context.warmups) + \(context.runs) runs of each command, interleaved")
        for (index, body) in bodies.enumerated() {
            let json = String(decoding: body, as: UTF8.self)
            let putCommand = TimedProcess(
                executable: context.fieldcli, arguments: ["put", corpus.collection.rawValue, "--body", json],
                environment: ["VIGIL_DB": replicaPath], standardErrorPath: stderrPath)
            let documentID = DocumentID.generate().rawValue
            let insertCommand = TimedProcess(
                executable: context.sqlite3,
                arguments: [
                    referencePath,
                    "INSERT INTO t (id, body) VALUES ('\(documentID)', '\(json.replacingOccurrences(of: "'", with: "''"))')",
                ],
                environment: [:], standardErrorPath: stderrPath)
            // Alternate which goes first, so that drift and cache effects fall on both alike.
            let putFirst = index.isMultiple(of: 2)
            let putCost: TimedProcess.Cost
            let insertCost: TimedProcess.Cost
            if putFirst {
                putCost = try putCommand.run()
                insertCost = try insertCommand.run()
            } else {
                insertCost = try insertCommand.run()
                putCost = try putCommand.run()
            }
            guard index >= context.warmups else { continue }
            put.wall.append(putCost.seconds * 1000)
            put.cpu.append(putCost.cpuSeconds * 1000)
            insert.wall.append(insertCost.seconds * 1000)
            insert.cpu.append(insertCost.cpuSeconds * 1000)
        }
        try? FileManager.default.removeItem(atPath: stderrPath)
        try verify(replicaPath: replicaPath, referencePath: referencePath, expected: versions.count + total)

        let putName = "`fieldcli put \(corpus.collection) --body '<report>'`"
        let insertName = "`sqlite3 FILE \"INSERT INTO t ...\"` into a plain table of \(versions.count) rows (WAL)"
        return [
            Figure(
                id: name, title: "one local write on a replica of \(versions.count) documents, process start included",
                unit: "ms", better: .lower,
                measured: .init(name: putName, samples: Samples(put.wall), withP90: true),
                reference: .init(name: insertName, samples: Samples(insert.wall), withP90: true),
                targetRatio: 3,
                notes: [
                    "wall time from spawn to exit (posix_spawn, no shell) of \(context.runs) runs of each after \(context.warmups) warm-ups, alternating which goes first",
                    "bodies: incident reports of 560-640 bytes; the replica was seeded with `ReplicaStore.apply` in \(String(format: "%.1f", seeding.seconds)) s",
                    "both files in WAL mode with SQLite's default synchronous setting: both wait for the disk's fsync, so a slow disk narrows the ratio; see local-write-cpu",
                ]),
            Figure(
                id: name + "-cpu", title: "CPU time (user + system) of the same runs, without waiting for the disk",
                unit: "ms", better: .lower,
                measured: .init(name: putName, samples: Samples(put.cpu), withP90: true),
                reference: .init(name: insertName, samples: Samples(insert.cpu), withP90: true),
                targetRatio: nil,
                notes: ["informative: what the write costs where fsync is fast (tmpfs, a battery-backed disk)"]),
        ]
    }

    /// A plain table of the same rows (document id and body) in one transaction, in WAL mode
    /// like the replica.
    private func seedReference(at path: String, with versions: [Version]) throws {
        let queue = try DatabaseQueue(path: path)
        _ = try queue.writeWithoutTransaction { db in try String.fetchOne(db, sql: "PRAGMA journal_mode = WAL") }
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE t (seq INTEGER PRIMARY KEY, id TEXT NOT NULL, body TEXT NOT NULL)")
            let statement = try db.makeStatement(sql: "INSERT INTO t (id, body) VALUES (?, ?)")
            for version in versions {
                try statement.execute(arguments: [version.documentID.rawValue, String(decoding: version.body ?? Data(), as: UTF8.self)])
            }
        }
        try queue.close()
    }

    /// Every command did what it should: one new document or row per run.
    private func verify(replicaPath: String, referencePath: String, expected: Int) throws {
        let documents = try ReplicaStore.open(at: replicaPath).status().documentsPerCollection.values.reduce(0, +)
        let queue = try DatabaseQueue(path: referencePath)
        let rows = try queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM t") ?? 0 }
        try queue.close()
        guard documents == expected, rows == expected else {
            throw BenchError(
                .verification,
                "After the runs the replica holds \(documents) documents and the table \(rows) rows; both should hold \(expected).")
        }
    }
}
