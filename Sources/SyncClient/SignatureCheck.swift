import Foundation
import SyncEngine

/// Checks the signatures of pulled versions on every core.
enum SignatureCheck {
    /// The dots among `versions` whose signature does not verify against their origin's key in
    /// `keys` (a missing key counts as a failure), in ascending order.
    static func failures(of versions: [Version], keys: [ReplicaID: PublicDeviceKey]) async -> [Dot] {
        guard !versions.isEmpty else { return [] }
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, versions.count / 64 + 1))
        let chunk = (versions.count + workers - 1) / workers
        return await withTaskGroup(of: [Dot].self) { group in
            for start in stride(from: 0, to: versions.count, by: chunk) {
                let slice = versions[start..<min(start + chunk, versions.count)]
                group.addTask {
                    slice.filter { keys[$0.dot.replica]?.isValidSignature(of: $0) != true }.map(\.dot)
                }
            }
            var failed: [Dot] = []
            for await part in group { failed += part }
            return failed.sorted()
        }
    }
}
