import Dispatch
import Foundation
import Synchronization

/// CPU-bound work over many items, on every core.
///
/// It runs on dispatch threads, never on the few cooperative threads that serve requests and
/// drive exchanges.
public enum Parallel {
    /// The non-nil results of `transform` over `items`, in the items' order.
    public static func compactMap<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ transform: @escaping @Sendable (Item) -> Result?
    ) async -> [Result] {
        guard !items.isEmpty else { return [] }
        return await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(returning: compactMapBlocking(items, transform))
            }
        }
    }

    /// ``compactMap(_:_:)`` on the calling thread and as many others as there are cores.
    public static func compactMapBlocking<Item: Sendable, Result: Sendable>(
        _ items: [Item], _ transform: @Sendable (Item) -> Result?
    ) -> [Result] {
        let chunks = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count / 64))
        let size = (items.count + chunks - 1) / chunks
        let results = Mutex<[Int: [Result]]>([:])
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let slice = items[min(chunk * size, items.count)..<min((chunk + 1) * size, items.count)]
            let found = slice.compactMap(transform)
            results.withLock { $0[chunk] = found }
        }
        return results.withLock { found in (0..<chunks).flatMap { found[$0] ?? [] } }
    }
}
