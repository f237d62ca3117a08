import Foundation
import GRDB
import ReplicaStore
import SyncEngine

/// Issue 6 figure 7: the causal metadata (a version's context) on the wire and on disk per
/// version, for one document edited in turn by 2, 10 and 1,000 writers. Each writer's edit
/// supersedes everything seen, so once every writer has written, a context holds one entry per
/// writer. Measured on the versions of the second pass, next to the version's body.
struct VersionGrowthBenchmark: Benchmark {
    let name = "version-growth"
    let estimatedSeconds = 10

    func run(in context: BenchmarkContext) throws -> [Figure] {
        var figures: [Figure] = []
        for writerCount in [2, 10, 1000] {
            var corpus = try IncidentCorpus(seed: context.seed &+ UInt64(writerCount))
            let writers = try (0..<writerCount).map { _ in try corpus.otherReplica() }
            let documentID = DocumentID.generate()
            let (firstBody, region) = corpus.nextReport(index: 0)
            var history = VersionVector()
            var counters = [UInt64](repeating: 0, count: writerCount)
            var versions: [Version] = []
            for edit in 0..<(2 * writerCount) {
                let writer = edit % writerCount
                counters[writer] += 1
                let dot = Dot(replica: writers[writer].id, counter: counters[writer])
                let version = try writers[writer].key.sign(Version(
                    dot: dot, collection: corpus.collection, documentID: documentID, partition: region,
                    context: history, body: firstBody,
                    timestamp: HybridTimestamp(wallMilliseconds: 1_741_000_000_000 + UInt64(edit))))
                versions.append(version)
                history.add(dot)
            }
            let measured = Array(versions[writerCount...])
            let encoder = JSONEncoder()
            let wire = try measured.map { Double(try encoder.encode($0.context).count) }
            let disk = measured.map { Double($0.context.compactText.utf8.count) }
            // On the compressed wire: a page of these versions gzipped, next to the same page
            // with empty contexts.
            let page = try encoder.encode(measured)
            let bare = try encoder.encode(measured.map { version -> Version in
                var copy = version
                copy.context = VersionVector()
                return copy
            })
            let gzipPerVersion = Double(try SyncTools.gzipSize(page) - SyncTools.gzipSize(bare)) / Double(measured.count)
            // On disk, as the replica keeps them: apply all versions to a fresh replica.
            let path = context.path("growth-\(writerCount).sqlite")
            context.removeDatabase(at: path)
            defer { context.removeDatabase(at: path) }
            let store = try ReplicaStore.create(at: path)
            for start in stride(from: 0, to: versions.count, by: context.batchSize) {
                try store.apply(Array(versions[start..<min(start + context.batchSize, versions.count)]), from: writers[0].id)
            }
            let queue = try DatabaseQueue(path: path)
            let stored = try queue.read { db in
                try Double.fetchOne(
                    db, sql: "SELECT avg(length(context)) FROM versions WHERE seq > (SELECT min(seq) + ? FROM versions)",
                    arguments: [writerCount - 1]) ?? 0
            }
            try queue.close()
            let bodySize = Double(firstBody.count)
            context.log("\(writerCount) writers: context \(Int(Samples(wire).median)) bytes JSON, \(Int(Samples(disk).median)) compact, \(Int(gzipPerVersion)) gzipped, \(Int(stored)) stored")
            figures.append(Figure(
                id: "version-growth-wire-\(writerCount)", title: "causal metadata per version on the wire, one document edited in turn by \(writerCount) writers",
                unit: "bytes", better: .lower,
                measured: .init(name: "the context's JSON in a version (uncompressed)", samples: Samples(wire), withP90: false),
                reference: .init(name: "the version's body", samples: Samples([bodySize]), withP90: false),
                targetRatio: nil,
                notes: [
                    "gzipped in a page of \(measured.count) such versions: \(String(format: "%.0f", gzipPerVersion)) bytes per version more than with empty contexts",
                    "measured on the second pass, when each context holds one entry per writer",
                ]))
            figures.append(Figure(
                id: "version-growth-disk-\(writerCount)", title: "causal metadata per version on disk, \(writerCount) writers",
                unit: "bytes", better: .lower,
                measured: .init(name: "versions.context as stored by ReplicaStore.apply (compactText)", samples: Samples([stored]), withP90: false),
                reference: .init(name: "the version's body", samples: Samples([bodySize]), withP90: false),
                targetRatio: nil,
                notes: ["compactText computed directly: median \(Int(Samples(disk).median)) bytes; the document row keeps one more such text (its history)"]))
        }
        return figures
    }
}
