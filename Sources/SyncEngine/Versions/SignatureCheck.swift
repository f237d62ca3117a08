import Dispatch
import Foundation
import Synchronization

/// Checks the signatures of many versions at once, on every core.
///
/// The work is CPU-bound (one Ed25519 verification per version), so it runs on dispatch threads,
/// never on the few cooperative threads that serve requests and drive exchanges.
public enum SignatureCheck {
    /// The dots among `versions` whose signature does not verify against their origin's key in
    /// `keys`; a version whose origin has no key there counts as failing.
    public static func failures(of versions: [Version], keys: [ReplicaID: PublicDeviceKey]) async -> Set<Dot> {
        guard !versions.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: failuresBlocking(of: versions, keys: keys))
            }
        }
    }

    /// ``failures(of:keys:)`` on the calling thread and as many others as there are cores.
    public static func failuresBlocking(of versions: [Version], keys: [ReplicaID: PublicDeviceKey]) -> Set<Dot> {
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, versions.count / 64))
        let size = (versions.count + chunks - 1) / chunks
        let found = FailureCollector()
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let slice = versions[min(chunk * size, versions.count)..<min((chunk + 1) * size, versions.count)]
            found.add(slice.filter { keys[$0.dot.replica]?.isValidSignature(of: $0) != true }.map(\.dot))
        }
        return found.dots
    }
}

/// The failing dots found by concurrent chunks.
private final class FailureCollector: Sendable {
    private let found = Mutex<Set<Dot>>([])

    func add(_ dots: [Dot]) { found.withLock { $0.formUnion(dots) } }

    var dots: Set<Dot> { found.withLock { $0 } }
}
