import Synchronization

/// Token buckets keyed by device: each holds up to a minute's worth of requests and refills
/// continuously. Idle buckets are forgotten, so the table stays bounded.
public final class RateLimiter: Sendable {
    /// The answer for one request.
    public enum Decision: Sendable, Equatable {
        case allowed
        /// Refused: one request's worth comes back after this many whole seconds (at least 1).
        case limited(retryAfterSeconds: Int)
    }

    private struct Bucket {
        var tokens: Double
        var updated: ContinuousClock.Instant
    }

    private struct Table {
        var buckets: [String: Bucket] = [:]
        var lastSweep: ContinuousClock.Instant
    }

    /// The rate, and the most requests in one burst.
    public let requestsPerMinute: Int
    /// The most buckets kept; beyond it full (idle) buckets are dropped first.
    let maxKeys: Int
    private let table: Mutex<Table>

    public init(requestsPerMinute: Int, maxKeys: Int = 100_000, now: ContinuousClock.Instant = .now) {
        self.requestsPerMinute = requestsPerMinute
        self.maxKeys = maxKeys
        table = Mutex(Table(lastSweep: now))
    }

    /// Says whether `key`'s bucket holds one request's worth, without taking it: a key that
    /// failed too often is refused before its request costs anything.
    public func check(_ key: String, now: ContinuousClock.Instant = .now) -> Decision {
        guard requestsPerMinute > 0 else { return .allowed }
        return decide(key, take: false, now: now)
    }

    /// Takes one request's worth from `key`'s bucket, or says how long to wait.
    public func admit(_ key: String, now: ContinuousClock.Instant = .now) -> Decision {
        guard requestsPerMinute > 0 else { return .allowed }
        return decide(key, take: true, now: now)
    }

    private func decide(_ key: String, take: Bool, now: ContinuousClock.Instant) -> Decision {
        let capacity = Double(requestsPerMinute)
        let perSecond = capacity / 60
        return table.withLock { table in
            if !take, table.buckets[key] == nil { return .allowed }
            if now - table.lastSweep > .seconds(60) || table.buckets.count >= maxKeys {
                // A bucket untouched for a minute is full again: forgetting it changes nothing.
                table.buckets = table.buckets.filter { now - $0.value.updated < .seconds(60) }
                table.lastSweep = now
                if table.buckets.count >= maxKeys { table.buckets.removeAll(keepingCapacity: true) }
            }
            var bucket = table.buckets[key] ?? Bucket(tokens: capacity, updated: now)
            let elapsed = now - bucket.updated
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            bucket.tokens = min(capacity, bucket.tokens + max(0, seconds) * perSecond)
            bucket.updated = now
            defer { table.buckets[key] = bucket }
            guard bucket.tokens >= 1 else {
                let wait = (1 - bucket.tokens) / perSecond
                return .limited(retryAfterSeconds: max(1, Int(wait.rounded(.up))))
            }
            if take { bucket.tokens -= 1 }
            return .allowed
        }
    }
}
