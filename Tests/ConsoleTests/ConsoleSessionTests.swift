import Foundation
import HubConsole
import HubStore
import ReplicaStore
import Testing
import TestSupport

/// Sessions end after the idle timeout without a request, and at their lifetime however much
/// they are used; the hub's clock is moved by hand, nothing sleeps.
@Suite("Console sessions")
struct ConsoleSessionTests {
    static let start: UInt64 = 1_800_000_000_000
    static let minute: UInt64 = 60_000

    /// A console with a 30-minute idle timeout and a 2-hour lifetime.
    static func configuration() -> ConsoleConfiguration {
        var configuration = ConsoleHub.testConfiguration()
        configuration.sessionIdleTimeout = .seconds(30 * 60)
        configuration.sessionLifetime = .seconds(2 * 3_600)
        return configuration
    }

    /// Each request keeps the session for another 30 minutes; 31 minutes without one end it: the
    /// page sends to the login page and a form is refused; logging in again works.
    @Test(arguments: ConsoleBackend.enabled)
    func aSessionUnusedForLongerThanTheIdleTimeoutEnds(_ backend: ConsoleBackend) async throws {
        let clock = PinnedClock(Self.start)
        try await ConsoleHub.with(backend, console: Self.configuration(), clock: clock) { hub in
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "amina", role: .admin)
            clock.set(Self.start + 29 * Self.minute)
            let page = try await browser.get("/console/fleet")
            #expect(page.status == 200, "29 minutes after login the session still works")
            clock.set(Self.start + 58 * Self.minute)
            #expect(try await browser.get("/console/fleet").status == 200, "the request at 29 minutes kept it for 30 more")
            clock.set(Self.start + 89 * Self.minute)
            let idle = try await browser.get("/console/fleet")
            #expect(idle.status == 303 && idle.location == "/console/login", "31 minutes unused: back to the login page")
            let form = try await browser.post("/console/fleet/enroll", [("csrf", page.csrf ?? ""), ("name", "x"), ("read", "*"), ("write", "*")])
            #expect(form.status == 401)
            #expect(try await browser.logIn("amina", ConsoleSecurityTests.password).status == 303, "logging in again works")
        }
    }

    /// A session used every 20 minutes still ends at its lifetime (2 hours here).
    @Test(arguments: ConsoleBackend.enabled)
    func aSessionInUseEndsAtItsLifetime(_ backend: ConsoleBackend) async throws {
        let clock = PinnedClock(Self.start)
        try await ConsoleHub.with(backend, console: Self.configuration(), clock: clock) { hub in
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "amina", role: .viewer)
            for step in UInt64(1)...5 {
                clock.set(Self.start + step * 20 * Self.minute)
                #expect(try await browser.get("/console/audit").status == 200, "in use at \(step * 20) minutes")
            }
            clock.set(Self.start + 121 * Self.minute)
            let ended = try await browser.get("/console/audit")
            #expect(ended.status == 303 && ended.location == "/console/login", "used 20 minutes ago, but 2 hours old")
        }
    }
}
