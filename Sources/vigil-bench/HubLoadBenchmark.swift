import Foundation
import ReplicaStore
import SyncClient
import SyncEngine

/// The hub under load, each figure next to its reference measured in the same run (issue 12):
/// 64 simulated devices at once against a release `syncd serve` process.
///
/// - Everyone reads everything: each device pushes 10 new observations per exchange and pulls
///   what the other 63 pushed. Gives the delivery rate (versions sent per second), next to the
///   floor of reading and gzipping the same rows in one process, and the hub's memory.
/// - No-op: the same devices, caught up, exchange with nothing new; next to `/healthz` on the
///   same hub with the same clients and the same warm-up.
/// - Scoped: 64 other devices in 8 regions on a hub of their own, each reading its own region and
///   `warnings` and writing its region, pushing 10 and pulling what is new in its scope.
struct HubLoadBenchmark: Benchmark {
    let name = "hub-load"
    let estimatedSeconds = 120

    static let devices = 64
    static let versionsPerPush = 10
    /// The regions of the scoped load: the devices are spread evenly over them.
    static let scopedRegions = Array(IncidentCorpus.regions.prefix(8))

    func run(in context: BenchmarkContext) throws -> [Figure] {
        guard let syncd = context.syncd else {
            throw BenchError(.tool, "The hub-load benchmark needs --syncd (the release syncd binary).")
        }
        var corpus = try IncidentCorpus(seed: context.seed &+ 23)
        let everyone = try Self.simulatedDevices(exchanges: context.hubExchanges, corpus: &corpus) { _ in nil }
        let open = try OpenLoad.run(devices: everyone, syncd: syncd, context: context)
        let scoped = try Self.simulatedDevices(exchanges: context.hubExchanges, corpus: &corpus) {
            Self.scopedRegions[$0 % Self.scopedRegions.count]
        }
        let scopedLoad = try ScopedLoad.run(devices: scoped, syncd: syncd, context: context)
        return open.figures(exchanges: context.hubExchanges) + scopedLoad.figures(exchanges: context.hubExchanges)
    }

    /// `count` devices (64) with their pushes of `perPush` versions (10) signed beforehand, one batch
    /// per exchange (warm-up included);
    /// `region(i)` files device `i`'s reports in one region, nil in a random one each.
    static func simulatedDevices(
        count: Int = devices, perPush: Int = versionsPerPush, exchanges: Int, corpus: inout IncidentCorpus,
        region: (Int) -> String?
    ) throws -> [SimulatedDevice] {
        var devices: [SimulatedDevice] = []
        for index in 0..<count {
            let (id, key) = try corpus.otherReplica()
            let regionCode = region(index)
            var batches: [[Version]] = []
            var counter: UInt64 = 0
            for _ in 0...exchanges {
                var batch: [Version] = []
                for _ in 0..<perPush {
                    counter += 1
                    let (body, partition) = regionCode.map { corpus.nextReport(index: Int(counter), regionCode: $0) }
                        ?? corpus.nextReport(index: Int(counter))
                    batch.append(try key.sign(Version(
                        dot: Dot(replica: id, counter: counter), collection: corpus.collection,
                        documentID: DocumentID.generate(), partition: partition, context: VersionVector(), body: body,
                        timestamp: HybridTimestamp(wallMilliseconds: 1_741_000_000_000 + counter))))
                }
                batches.append(batch)
            }
            devices.append(SimulatedDevice(id: id, signingKey: key, region: regionCode, batches: batches))
        }
        return devices
    }

    /// This process's CPU time (user + system) so far.
    static func ownCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
            + Double(usage.ru_stime.tv_usec) / 1e6
    }

    static func ms(_ seconds: Double) -> String { String(format: "%.1f", seconds * 1000) }
}
