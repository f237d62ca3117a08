import Foundation
import Synchronization
import SyncEngine
import Records

/// Logins whose password was right and that wait for the operator's TOTP code: kept in memory
/// only (a restart asks for the password again), a few minutes each, a few tries each, at most
/// ``maxEntries`` at once (the oldest go first).
final class PendingLogins: Sendable {
    struct Pending: Sendable {
        var name: String
        var address: String
        var expiresAt: UInt64
        var failures = 0
        /// The informant key opened with the password, kept for the session the code starts.
        var informantKey: InformantPrivateKey?
    }

    static let lifetime: UInt64 = 5 * 60_000
    static let maxFailures = 5
    static let maxEntries = 1_000
    private let table = Mutex<[String: Pending]>([:])

    /// Starts a pending login of `name` from `address` at `now` (milliseconds); returns its token.
    func start(name: String, address: String, now: UInt64, informantKey: InformantPrivateKey? = nil) -> String {
        let token = ConsoleTokens.random()
        table.withLock { table in
            table = table.filter { $0.value.expiresAt > now }
            if table.count >= Self.maxEntries, let oldest = table.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                table[oldest] = nil
            }
            table[token] = Pending(name: name, address: address, expiresAt: now + Self.lifetime, informantKey: informantKey)
        }
        return token
    }

    /// The pending login of `token` from `address`, when there is one that has not expired.
    func find(_ token: String, address: String, now: UInt64) -> Pending? {
        table.withLock { table in
            guard let pending = table[token], pending.address == address, pending.expiresAt > now else { return nil }
            return pending
        }
    }

    /// Ends the pending login of `token` (the code was right, or the login is abandoned).
    func finish(_ token: String) { table.withLock { $0[token] = nil } }

    /// Counts a wrong code; after ``maxFailures`` the pending login ends. Returns whether it goes on.
    func fail(_ token: String) -> Bool {
        table.withLock { table in
            guard var pending = table[token] else { return false }
            pending.failures += 1
            table[token] = pending.failures < Self.maxFailures ? pending : nil
            return pending.failures < Self.maxFailures
        }
    }
}
