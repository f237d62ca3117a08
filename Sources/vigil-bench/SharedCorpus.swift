import SyncEngine

/// The received versions every benchmark of a run uses, generated and signed once (signing
/// 100,000 versions takes seconds).
final class SharedCorpus {
    private let count: Int
    private let seed: UInt64
    private var cached: (peer: ReplicaID, versions: [Version])?

    init(count: Int, seed: UInt64) {
        self.count = count
        self.seed = seed
    }

    /// Versions of `count` distinct new documents, signed by another replica (`peer`).
    func receivedVersions(log: (String) -> Void) throws -> (peer: ReplicaID, versions: [Version]) {
        if let cached { return cached }
        var corpus = try IncidentCorpus(seed: seed)
        let other = try corpus.otherReplica()
        let (versions, seconds) = try MonotonicClock.measure {
            try corpus.signedVersions(count: count, origin: other.id, key: other.key)
        }
        let bytes = versions.reduce(0) { $0 + ($1.body?.count ?? 0) }
        log("generated and signed \(count) versions in \(String(format: "%.1f", seconds)) s (bodies: \(bytes / max(count, 1)) bytes on average)")
        cached = (other.id, versions)
        return (other.id, versions)
    }
}
