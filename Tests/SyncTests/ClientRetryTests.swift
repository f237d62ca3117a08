import SyncClient
import Synchronization
import Testing
import TestSupport

@Suite("Client retry and schedule")
struct ClientRetryTests {
    @Test("ceilings double up to the maximum, and delays stay under them", arguments: propertySeeds)
    func delays(seed: UInt64) {
        let policy = RetryPolicy(maxAttempts: 8, baseDelay: .milliseconds(500), maxDelay: .seconds(8))
        #expect((1...7).map { policy.ceiling(forRetry: $0) } == [
            .milliseconds(500), .seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8),
        ])
        var random = SeededGenerator(seed: seed)
        for retry in 1...7 {
            let delay = policy.delay(forRetry: retry, using: &random)
            #expect(delay >= .zero && delay <= policy.ceiling(forRetry: retry))
        }
    }

    @Test("transient failures are retried up to the bound, with the delays slept")
    func retriesTransient() async throws {
        let policy = RetryPolicy(maxAttempts: 4, baseDelay: .milliseconds(100), maxDelay: .milliseconds(300))
        let calls = Mutex(0)
        let slept = Mutex<[Duration]>([])
        let error = await #expect(throws: SyncClientError.self) {
            try await policy.run(sleep: { delay in slept.withLock { $0.append(delay) } }) { () async throws -> Int in
                calls.withLock { $0 += 1 }
                throw SyncClientError(.unreachable, "down")
            }
        }
        #expect(error?.code == .unreachable)
        #expect(calls.withLock { $0 } == 4)
        let delays = slept.withLock { $0 }
        #expect(delays.count == 3)
        #expect(zip(delays, [1, 2, 3]).allSatisfy { $0 <= policy.ceiling(forRetry: $1) })
    }

    @Test("refusals are never retried; a later success is returned")
    func refusalsAreFinal() async throws {
        let calls = Mutex(0)
        await #expect(throws: SyncClientError.self) {
            try await RetryPolicy().run(sleep: { _ in }) { () async throws -> Int in
                calls.withLock { $0 += 1 }
                throw SyncClientError(.unauthorized, "no", httpStatus: 401)
            }
        }
        #expect(calls.withLock { $0 } == 1)
        let attempts = Mutex(0)
        let value = try await RetryPolicy().run(sleep: { _ in }) { () async throws -> Int in
            let attempt = attempts.withLock { $0 += 1; return $0 }
            if attempt < 3 { throw SyncClientError(.hubError, "busy", httpStatus: 503) }
            return 7
        }
        #expect(value == 7)
    }

    @Test("the daemon's schedule: at once, on writes, on the interval, backing off while the hub fails")
    func schedule() {
        let clock = ContinuousClock()
        let start = clock.now
        var random = SeededGenerator(seed: 1)
        var schedule = SyncSchedule(
            configuration: .init(interval: .seconds(60), initialBackoff: .seconds(1), maxBackoff: .seconds(60), writeProbeGap: .seconds(5)),
            now: start)
        #expect(schedule.isDue(at: start))
        schedule.recordSuccess(at: start, counter: 3)
        #expect(!schedule.isDue(at: start + .seconds(59)))
        #expect(schedule.isDue(at: start + .seconds(60)))
        schedule.observe(counter: 4, at: start + .seconds(2))
        #expect(schedule.isDue(at: start + .seconds(2)))

        var now = start + .seconds(3)
        var previous = Duration.zero
        for failure in 1...8 {
            schedule.recordFailure(at: now, using: &random)
            let wait = schedule.nextDue - now
            let ceiling = min(Duration.seconds(60), .seconds(1) * (1 << (failure - 1)))
            #expect(wait >= ceiling / 2 && wait <= ceiling)
            #expect(failure < 3 || wait >= previous / 2)
            previous = wait
            now = schedule.nextDue
        }
        // A local write while the hub is down brings the probe to the gap after the last attempt.
        schedule.recordFailure(at: now, using: &random)
        #expect(schedule.nextDue - now >= .seconds(30))
        schedule.observe(counter: 5, at: now + .seconds(1))
        #expect(schedule.nextDue == now + .seconds(5))
        #expect(!schedule.isDue(at: now + .seconds(4)))
        schedule.recordSuccess(at: now + .seconds(5), counter: 5)
        #expect(schedule.failures == 0)
    }

    /// Replays a review's finding: `syncd run` against a hub that redirects, or whose answers
    /// are too large, or that the device does not trust. Each attempt failed the same way and was
    /// made again every minute at most (about 1,440 a day, each sending a push or reading up to
    /// 32 MiB on a paid link). A lasting failure now backs off up to an hour, and local writes do
    /// not bring it forward; a passing one still tops out at a minute.
    @Test func lastingFailuresBackOffToAnHourAndWritesDoNotHurryThem() {
        let clock = ContinuousClock()
        var now = clock.now
        var random = SeededGenerator(seed: 2)
        var schedule = SyncSchedule(configuration: .init(), now: now)
        for _ in 1...14 {
            schedule.recordFailure(at: now, lasting: true, using: &random)
            now = schedule.nextDue
        }
        schedule.recordFailure(at: now, lasting: true, using: &random)
        #expect(schedule.nextDue - now >= .seconds(1_800) && schedule.nextDue - now <= .seconds(3_600))
        let due = schedule.nextDue
        schedule.observe(counter: 1, at: now)
        schedule.observe(counter: 2, at: now + .seconds(1))
        #expect(schedule.nextDue == due, "a local write does not hurry a lasting failure's probe")
        schedule.recordFailure(at: now, using: &random)
        #expect(schedule.nextDue - now <= .seconds(60), "a passing failure tops out at a minute")
    }
}
