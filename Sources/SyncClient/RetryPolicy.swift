/// When to try an exchange again: exponential backoff with full jitter, a bounded number of
/// attempts and a ceiling on each delay. Only transient failures are retried (an unreachable
/// hub, a hub failure, a busy hub); a refusal is final.
public struct RetryPolicy: Sendable, Hashable {
    /// Attempts in all, the first included; 1 never retries.
    public var maxAttempts: Int
    /// The ceiling of the first retry's delay; each later retry doubles it.
    public var baseDelay: Duration
    /// No delay is longer than this.
    public var maxDelay: Duration

    public init(maxAttempts: Int = 4, baseDelay: Duration = .milliseconds(500), maxDelay: Duration = .seconds(8)) {
        self.maxAttempts = max(1, maxAttempts)
        self.baseDelay = max(.zero, baseDelay)
        self.maxDelay = max(.zero, maxDelay)
    }

    /// Tries once, never again.
    public static let never = RetryPolicy(maxAttempts: 1)

    /// The most a delay may be before retry number `retry` (1 for the first retry):
    /// `min(maxDelay, baseDelay * 2^(retry - 1))`.
    public func ceiling(forRetry retry: Int) -> Duration {
        let exponent = min(max(0, retry - 1), 62)
        let seconds = baseDelay.seconds * Double(UInt64(1) << UInt64(exponent))
        return min(maxDelay, .seconds(min(seconds, maxDelay.seconds)))
    }

    /// The delay before retry number `retry`: uniform between zero and ``ceiling(forRetry:)``
    /// ("full jitter", so that many clients cut off together do not come back together).
    public func delay(forRetry retry: Int, using generator: inout some RandomNumberGenerator) -> Duration {
        let ceiling = ceiling(forRetry: retry).seconds
        guard ceiling > 0 else { return .zero }
        return .seconds(Double.random(in: 0...ceiling, using: &generator))
    }

    /// Runs `operation`, retrying transient ``SyncClientError``s up to ``maxAttempts`` in all,
    /// waiting with `sleep` between attempts; `onRetry` hears of each failure that is retried.
    /// Cancellation stops the retries.
    public func run<T: Sendable>(
        sleep: @Sendable (Duration) async throws -> Void = { try await Task.sleep(for: $0) },
        onRetry: @Sendable (_ error: SyncClientError, _ delay: Duration) -> Void = { _, _ in },
        _ operation: @Sendable () async throws -> T
    ) async throws -> T {
        var generator = SystemRandomNumberGenerator()
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch let error as SyncClientError where error.isTransient && attempt < maxAttempts {
                let delay = delay(forRetry: attempt, using: &generator)
                onRetry(error, delay)
                try Task.checkCancellation()
                try await sleep(delay)
                attempt += 1
            }
        }
    }
}

extension Duration {
    /// The duration in seconds, as a floating-point number.
    var seconds: Double {
        let parts = components
        return Double(parts.seconds) + Double(parts.attoseconds) / 1e18
    }
}
