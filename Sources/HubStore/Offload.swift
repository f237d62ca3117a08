import Dispatch

/// Runs a blocking SQLite call on a dispatch thread, off Swift's cooperative pool, which must
/// never wait on a database lock.
package func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try body() }) }
    }
}
