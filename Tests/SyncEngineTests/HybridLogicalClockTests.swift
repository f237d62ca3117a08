import SyncEngine
import Testing
import TestSupport

@Suite("HybridLogicalClock")
struct HybridLogicalClockTests {
    @Test func followsTheWallClockWhenItAdvances() {
        var clock = HybridLogicalClock()
        #expect(clock.tick(now: 1000) == HybridTimestamp(wallMilliseconds: 1000, logical: 0))
        #expect(clock.tick(now: 1005) == HybridTimestamp(wallMilliseconds: 1005, logical: 0))
    }

    @Test func staysMonotonicWhenTheWallClockStandsStillOrStepsBack() {
        var clock = HybridLogicalClock()
        let first = clock.tick(now: 5000)
        let same = clock.tick(now: 5000)
        let back = clock.tick(now: 1000)
        #expect(first < same && same < back)
        #expect(back == HybridTimestamp(wallMilliseconds: 5000, logical: 2))
        #expect(clock.tick(now: 6000) == HybridTimestamp(wallMilliseconds: 6000, logical: 0))
    }

    @Test func logicalOverflowMovesToTheNextMillisecond() {
        var clock = HybridLogicalClock(last: HybridTimestamp(wallMilliseconds: 10, logical: .max))
        #expect(clock.tick(now: 10) == HybridTimestamp(wallMilliseconds: 11, logical: 0))
    }

    @Test func observeAdoptsAPlausibleLaterRemote() {
        var clock = HybridLogicalClock()
        _ = clock.tick(now: 1000)
        let remote = HybridTimestamp(wallMilliseconds: 3000, logical: 7)
        clock.observe(remote, now: 1000)
        #expect(clock.last == remote)
        #expect(clock.tick(now: 1000) > remote)
        clock.observe(HybridTimestamp(wallMilliseconds: 10), now: 1000)
        #expect(clock.last > remote, "an older remote reading never moves the clock back")
    }

    @Test func observeIgnoresAFarFutureRemote() {
        var clock = HybridLogicalClock()
        let now: UInt64 = 1_700_000_000_000
        let local = clock.tick(now: now)
        clock.observe(HybridTimestamp(wallMilliseconds: now + HybridLogicalClock.maximumForwardDrift + 1), now: now)
        #expect(clock.last == local)
        #expect(clock.tick(now: now + 1) == HybridTimestamp(wallMilliseconds: now + 1))
        let edge = HybridTimestamp(wallMilliseconds: now + HybridLogicalClock.maximumForwardDrift)
        clock.observe(edge, now: now)
        #expect(clock.last == edge)
    }

    @Test(arguments: propertySeeds)
    func readingsStrictlyIncreaseWhateverTheWallClockDoes(seed: UInt64) {
        var random = SeededGenerator(seed: seed)
        var clock = HybridLogicalClock()
        var previous = HybridTimestamp.zero
        var wall: UInt64 = 1_000_000
        for _ in 0..<2000 {
            wall = UInt64(Int64(wall) + Int64.random(in: -50...50, using: &random))
            if Bool.random(using: &random) {
                clock.observe(
                    HybridTimestamp(wallMilliseconds: wall &+ UInt64.random(in: 0...100, using: &random)), now: wall)
            }
            let reading = clock.tick(now: wall)
            #expect(reading > previous, "seed \(seed)")
            previous = reading
        }
    }
}
