import Foundation
import GRDB
import ReplicaStore
import SyncEngine

/// Issue 2 figure: applying 100,000 received versions (distinct new documents, signed by another
/// replica) into an empty replica with `ReplicaStore.apply` in batches, next to a plain SQLite
/// insert of the same columns and bytes into one table in one transaction with one reused
/// prepared statement (the floor). Repeated; the median rate is quoted.
struct ApplyRateBenchmark: Benchmark {
    let name = "apply-rate"
    let estimatedSeconds = 50

    func run(in context: BenchmarkContext) throws -> [Figure] {
        let (peer, versions) = try context.corpus.receivedVersions(log: context.log)
        var rates: [Side: [Double]] = [:]
        // The process's CPU time of each side too: the wall time of one large transaction (the
        // references) and of a hundred small ones (the apply) includes waiting for the disk.
        var cpu: [Side: [Double]] = [:]
        for round in 0..<context.repeats {
            // Rotate which side goes first so that a warming cache or page cache favours none.
            let order = Side.allCases.indices.map { Side.allCases[($0 + round) % Side.allCases.count] }
            for side in order {
                let timing = switch side {
                case .replica: try applyToReplica(versions, from: peer, context: context, round: round)
                case .plainTable: try timedInsertIntoTable(versions, context: context, round: round)
                case .replicaSchema: try insertIntoReplicaSchema(versions, from: peer, context: context, round: round)
                }
                let rate = Double(versions.count) / timing.seconds
                context.log(
                    "round \(round + 1): \(side.label) \(Int(rate)) versions/s (\(String(format: "%.2f", timing.seconds)) s, CPU \(String(format: "%.2f", timing.cpuSeconds)) s)")
                rates[side, default: []].append(rate)
                cpu[side, default: []].append(timing.cpuSeconds)
            }
        }
        let cpuMedians = Side.allCases.map { side in
            "\(side.label.trimmingCharacters(in: .whitespaces)) \(String(format: "%.2f", Samples(cpu[side] ?? []).median)) s"
        }.joined(separator: ", ")
        let replicaRates = rates[.replica] ?? []
        let floorRates = rates[.plainTable] ?? []
        let schemaRates = rates[.replicaSchema] ?? []
        return [Figure(
            id: name, title: "applying \(versions.count) received versions (new documents) into an empty replica",
            unit: "versions/s", better: .higher,
            measured: .init(name: "`ReplicaStore.apply` in batches of \(context.batchSize)", samples: Samples(replicaRates), withP90: false),
            reference: .init(name: "plain SQLite insert of the same rows, one transaction, one reused prepared statement", samples: Samples(floorRates), withP90: false),
            targetRatio: nil,
            notes: [
                "median of \(context.repeats) rounds, rotating which side goes first; a fresh file each time",
                "the floor stores the same columns and bytes (origin, counter, collection, id, partition, context text, body, clock, signature) in one table without indexes",
                "the replica also maintains its versions unique index, a documents row per version with two indexes, knowledge and the clock",
                "no target in issue 2; issue 6 holds the whole initial pull, HTTP included, to 3x this floor",
                "CPU time of the process (all its threads) in the timed part of each side, medians: \(cpuMedians); the rest of the wall time is waiting, mostly for the disk",
            ]),
            Figure(
                id: name + "-schema", title: "the same apply next to plain inserts into the replica's own tables and indexes",
                unit: "versions/s", better: .higher,
                measured: .init(name: "`ReplicaStore.apply` in batches of \(context.batchSize)", samples: Samples(replicaRates), withP90: false),
                reference: .init(name: "one raw prepared insert per version into a copy of the replica's versions table and one into its documents table, one transaction", samples: Samples(schemaRates), withP90: false),
                targetRatio: nil,
                notes: [
                    "informative: splits apply-rate's ratio into what the schema costs (this reference next to the plain floor) and what the code around it costs (this ratio)",
                    "the copy of the schema is kept in ApplyRateBenchmark.swift; update it when the replica's migrations change",
                ]),
        ]
    }

    /// The wall time and the process's CPU time (user and system, all threads) of a timed part.
    struct Timing {
        var seconds: Double
        var cpuSeconds: Double

        static func measure<T>(_ body: () throws -> T) rethrows -> (result: T, timing: Timing) {
            let cpu = HubLoadBenchmark.ownCPUSeconds()
            let (result, seconds) = try MonotonicClock.measure(body)
            return (result, Timing(seconds: seconds, cpuSeconds: HubLoadBenchmark.ownCPUSeconds() - cpu))
        }
    }

    /// The three ways of storing the same versions that are compared.
    enum Side: CaseIterable {
        case replica, plainTable, replicaSchema

        var label: String {
            switch self {
            case .replica: "ReplicaStore.apply     "
            case .plainTable: "plain insert           "
            case .replicaSchema: "insert, replica schema "
            }
        }
    }

    private func applyToReplica(_ versions: [Version], from peer: ReplicaID, context: BenchmarkContext, round: Int) throws -> Timing {
        let path = context.path("apply-\(round).sqlite")
        context.removeDatabase(at: path)
        defer { context.removeDatabase(at: path) }
        let store = try ReplicaStore.create(at: path)
        let (stored, timing) = try Timing.measure {
            var stored = 0
            for start in stride(from: 0, to: versions.count, by: context.batchSize) {
                let batch = Array(versions[start..<min(start + context.batchSize, versions.count)])
                stored += try store.apply(batch, from: peer).stored
            }
            return stored
        }
        let documents = try store.status().documentsPerCollection.values.reduce(0, +)
        guard stored == versions.count, documents == versions.count else {
            throw BenchError(
                .verification,
                "ReplicaStore.apply stored \(stored) of \(versions.count) versions and holds \(documents) documents.")
        }
        return timing
    }

    /// The versions and documents tables of the replica as its migrations leave them (v1-replica,
    /// then the versions columns and index of v7, v11, v12, v15 and v21; checked up to v22), with
    /// their indexes, filled by one raw insert each per version, the row's random feed tag
    /// included: what the schema alone costs.
    private func insertIntoReplicaSchema(_ versions: [Version], from peer: ReplicaID, context: BenchmarkContext, round: Int) throws -> Timing {
        let path = context.path("apply-schema-\(round).sqlite")
        context.removeDatabase(at: path)
        defer { context.removeDatabase(at: path) }
        let pool = try DatabasePool(path: path)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE versions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT, origin TEXT NOT NULL, counter INTEGER NOT NULL,
                    collection TEXT NOT NULL, document_id TEXT NOT NULL, partition TEXT NOT NULL,
                    context TEXT NOT NULL, body BLOB, clock_wall INTEGER NOT NULL, clock_logical INTEGER NOT NULL,
                    signature BLOB NOT NULL, received_from TEXT, set_aside_reason TEXT, feed_tag INTEGER,
                    body_dropped INTEGER NOT NULL DEFAULT 0, receipt BLOB, set_aside_code TEXT, UNIQUE (origin, counter));
                CREATE INDEX versions_by_document ON versions (collection, document_id);
                CREATE INDEX versions_set_aside ON versions (seq) WHERE set_aside_reason IS NOT NULL;
                CREATE TABLE documents (
                    collection TEXT NOT NULL, document_id TEXT NOT NULL, partition TEXT NOT NULL,
                    siblings TEXT NOT NULL, context TEXT NOT NULL, sibling_count INTEGER NOT NULL,
                    deleted INTEGER NOT NULL, updated_wall INTEGER NOT NULL,
                    PRIMARY KEY (collection, document_id)) WITHOUT ROWID;
                CREATE INDEX documents_newest ON documents (collection, updated_wall DESC, document_id DESC);
                CREATE INDEX documents_conflicted ON documents (collection, document_id) WHERE sibling_count > 1;
                """)
        }
        let timing = try Timing.measure {
            try pool.write { db in
                let insertVersion = try db.makeStatement(sql: """
                    INSERT INTO versions (origin, counter, collection, document_id, partition, context, body,
                        clock_wall, clock_logical, signature, received_from, feed_tag)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, random() & 4294967295)
                    """)
                let insertDocument = try db.makeStatement(sql: """
                    INSERT INTO documents (collection, document_id, partition, siblings, context, sibling_count,
                        deleted, updated_wall) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                for version in versions {
                    try insertVersion.execute(arguments: [
                        version.dot.replica.hex, Int64(version.dot.counter), version.collection.rawValue,
                        version.documentID.rawValue, version.partition.rawValue, version.context.compactText,
                        version.body, Int64(clamping: version.timestamp.wallMilliseconds),
                        Int64(version.timestamp.logical), version.signature, peer.hex,
                    ])
                    try insertDocument.execute(arguments: [
                        version.collection.rawValue, version.documentID.rawValue, version.partition.rawValue,
                        version.dot.description, version.history.compactText, 1, false,
                        Int64(clamping: version.timestamp.wallMilliseconds),
                    ])
                }
            }
        }.timing
        let rows = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM documents") ?? 0 }
        try pool.close()
        guard rows == versions.count else {
            throw BenchError(.verification, "The insert into the replica's schema stored \(rows) of \(versions.count) documents.")
        }
        return timing
    }

    /// The floor's wall time in seconds (``timedInsertIntoTable(_:context:round:)``).
    func insertIntoTable(_ versions: [Version], context: BenchmarkContext, round: Int) throws -> Double {
        try timedInsertIntoTable(versions, context: context, round: round).seconds
    }

    private func timedInsertIntoTable(_ versions: [Version], context: BenchmarkContext, round: Int) throws -> Timing {
        let path = context.path("apply-floor-\(round).sqlite")
        context.removeDatabase(at: path)
        defer { context.removeDatabase(at: path) }
        let pool = try DatabasePool(path: path)
        try pool.write { db in
            try db.execute(sql: """
                CREATE TABLE versions (
                    origin TEXT NOT NULL, counter INTEGER NOT NULL, collection TEXT NOT NULL,
                    document_id TEXT NOT NULL, partition TEXT NOT NULL, context TEXT NOT NULL, body BLOB,
                    clock_wall INTEGER NOT NULL, clock_logical INTEGER NOT NULL, signature BLOB NOT NULL)
                """)
        }
        let timing = try Timing.measure {
            try pool.write { db in
                let statement = try db.makeStatement(sql: "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                for version in versions {
                    try statement.execute(arguments: [
                        version.dot.replica.hex, Int64(version.dot.counter), version.collection.rawValue,
                        version.documentID.rawValue, version.partition.rawValue, version.context.compactText,
                        version.body, Int64(clamping: version.timestamp.wallMilliseconds),
                        Int64(version.timestamp.logical), version.signature,
                    ])
                }
            }
        }.timing
        let rows = try pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM versions") ?? 0 }
        try pool.close()
        guard rows == versions.count else {
            throw BenchError(.verification, "The plain insert stored \(rows) of \(versions.count) rows.")
        }
        return timing
    }
}
