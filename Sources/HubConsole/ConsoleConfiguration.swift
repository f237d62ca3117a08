import Foundation

/// How the console behaves: cookies, sessions, login limits, page sizes.
public struct ConsoleConfiguration: Sendable {
    /// Cookies carry `Secure` and the hub sends `Strict-Transport-Security` (the hub serves TLS).
    public var secureCookies: Bool
    /// How long a session lasts after login at most, however much it is used.
    public var sessionLifetime: Duration = .seconds(8 * 3_600)
    /// How long a session lasts without a request: an operator who leaves the console for longer
    /// logs in again.
    public var sessionIdleTimeout: Duration = .seconds(30 * 60)
    /// Login attempts one client address may make per window.
    public var loginAttemptsPerAddress = 10
    /// Login attempts against one operator name per window, from all addresses together.
    public var loginAttemptsPerName = 20
    /// Login attempts against the whole hub per window, all addresses and names together: bounds
    /// the password hashing and the audit entries a distributed guesser causes.
    public var loginAttemptsPerHub = 120
    /// The window of the login limits.
    public var loginWindow: Duration = .seconds(60)
    /// Wrong second-factor codes one operator name may be sent per ``wrongCodeWindow``, over all
    /// its logins; beyond, its codes are refused (a right one too) until the window passes. Each
    /// password login allows a few codes and the name limit a few logins a minute: without this,
    /// whoever holds an operator's password could try about 28,800 codes a day, one in ~330,000
    /// right (three steps are valid at once): about 8% a day.
    public var wrongCodesPerName = 10
    /// The window of ``wrongCodesPerName``.
    public var wrongCodeWindow: Duration = .seconds(3_600)
    /// The password hashing cost.
    public var passwordHasher: PasswordHasher = .standard
    /// Rows on one page of every list.
    public var pageSize = 25
    /// A device not seen for longer than this stands out on the fleet page.
    public var staleAfter: Duration = .seconds(7 * 86_400)
    /// How long a one-time enrollment code given out on the fleet page stays valid.
    public var enrollmentCodeLifetime: Duration = .seconds(24 * 3_600)

    public init(secureCookies: Bool) { self.secureCookies = secureCookies }
}

extension ConsoleConfiguration {
    /// ``sessionIdleTimeout`` in milliseconds.
    var idleMilliseconds: UInt64 { Self.milliseconds(sessionIdleTimeout) }
    /// ``sessionLifetime`` in milliseconds.
    var lifetimeMilliseconds: UInt64 { Self.milliseconds(sessionLifetime) }

    static func milliseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0 else { return 0 }
        return UInt64(min(seconds, Int64.max / 1_000)) * 1_000 + UInt64(max(0, attoseconds) / 1_000_000_000_000_000)
    }
}
