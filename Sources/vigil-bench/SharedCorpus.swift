import SyncEngine

/// The received versions every benchmark of a run uses, generated and signed once (signing
/// 100,000 versions takes seconds).
final class SharedCorpus {
    private let count: Int
    private let seed: UInt64
    private var cached: (peer: ReplicaID, versions: [Version])?
    /// The devices that wrote the versions, once generated.
    private(set) var writers: [(id: ReplicaID, key: DeviceKey)] = []

    /// How many field devices wrote the shared versions.
    static let writerCount = 10

    init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    /// Versions of `count` distinct new documents (valid observation records), written in turn by
    /// ``writerCount`` other replicas and signed; `peer` stands for where they were received from.
    func receivedVersions(log: (String) -> Void) throws -> (peer: ReplicaID, versions: [Version]) {
        if let cached { return cached }
        var corpus = try IncidentCorpus(seed: seed)
        let writers = try (0..<Self.writerCount).map { _ in try corpus.otherReplica() }
        let (versions, seconds) = try MonotonicClock.measure {
            try corpus.signedVersions(count: count, writers: writers)
        }
        let bytes = versions.reduce(0) { $0 + ($1.body?.count ?? 0) }
        log("generated and signed \(count) versions in \(String(format: "%.1f", seconds)) s (bodies: \(bytes / max(count, 1)) bytes on average)")
        let peer = try corpus.otherReplica().id
        cached = (peer, versions)
        self.writers = writers
        return (peer, versions)
    }
}
