import Foundation
import Synchronization

/// Counts attempts per key (a client address, an operator name) in a sliding window and refuses
/// beyond a maximum; keeps at most ``maxKeys`` keys (the oldest are forgotten first).
final class AttemptLimiter: Sendable {
    let maxAttempts: Int
    let window: Duration
    static let maxKeys = 10_000
    private let attempts = Mutex<[String: [ContinuousClock.Instant]]>([:])

    init(maxAttempts: Int, window: Duration) {
        self.maxAttempts = max(1, maxAttempts)
        self.window = window
    }

    /// Whether one more attempt of `key` would be within the limit, recording nothing; when not,
    /// how many seconds until it would.
    func check(_ key: String, now: ContinuousClock.Instant = .now) -> (admitted: Bool, retryAfter: Int) {
        attempts.withLock { table in
            let recent = (table[key] ?? []).filter { now - $0 < window }
            return recent.count < maxAttempts ? (true, 0) : (false, retryAfter(recent, now: now))
        }
    }

    /// The seconds until the oldest of `recent` (a full window of attempts) leaves the window.
    private func retryAfter(_ recent: [ContinuousClock.Instant], now: ContinuousClock.Instant) -> Int {
        let wait = recent.first.map { window - (now - $0) } ?? window
        return max(1, Int(wait.components.seconds) + 1)
    }

    /// Records an attempt of `key` and says whether it is within the limit; when not, how many
    /// seconds until it is.
    func admit(_ key: String, now: ContinuousClock.Instant = .now) -> (admitted: Bool, retryAfter: Int) {
        attempts.withLock { table in
            var recent = (table[key] ?? []).filter { now - $0 < window }
            guard recent.count < maxAttempts else {
                table[key] = recent
                return (false, retryAfter(recent, now: now))
            }
            recent.append(now)
            if table[key] == nil, table.count >= Self.maxKeys {
                let stale = table.filter { ($0.value.last.map { now - $0 } ?? window) >= window }.map(\.key)
                for old in stale { table[old] = nil }
                if table.count >= Self.maxKeys, let any = table.keys.first { table[any] = nil }
            }
            table[key] = recent
            return (true, 0)
        }
    }
}
