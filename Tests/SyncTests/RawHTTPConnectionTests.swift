import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The raw connection the hostile HTTP tests read answers with.
@Suite("Raw HTTP connection")
struct RawHTTPConnectionTests {
    /// Replays the CI run of 8a981de (and a run with a debugger attached to the test process):
    /// a signal interrupted the read of a hostile request's answer, `recv` failed with `EINTR`, and
    /// the test took it for a hub that never answered. An interrupted call is made again.
    @Test func aSignalDuringACallIsNotTheEndOfIt() {
        var calls = 0
        let result = RawHTTPConnection.uninterrupted(until: .now + .seconds(10)) {
            calls += 1
            guard calls > 2 else {
                errno = EINTR
                return -1
            }
            return 42
        }
        #expect(result == 42)
        #expect(calls == 3)
    }

    /// The retries are bounded: past the deadline the interrupted call's failure is returned.
    @Test func interruptionsStopAtTheDeadline() {
        var calls = 0
        let result = RawHTTPConnection.uninterrupted(until: .now - .seconds(1)) {
            calls += 1
            errno = EINTR
            return -1
        }
        #expect(result == -1)
        #expect(calls == 1)
    }

    /// Other failures are not retried.
    @Test func otherFailuresAreReturnedAtOnce() {
        var calls = 0
        let result = RawHTTPConnection.uninterrupted(until: .now + .seconds(10)) {
            calls += 1
            errno = ECONNRESET
            return -1
        }
        #expect(result == -1)
        #expect(calls == 1)
    }
}
