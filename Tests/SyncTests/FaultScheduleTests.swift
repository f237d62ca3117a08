import Foundation
import Testing
import TestSupport

/// The convergence check that sees everything (issue 11 §3): each seed is one ``FaultSchedule``
/// mixing writers and editors (with and without a base), cut links and pages of one to four
/// versions, kill -9 of clients mid-sync and of the hub, a hub or a device restored from a backup,
/// a copied replica, scope changes and two syncs of one replica at once. After a final sync every
/// invariant must hold: each replica holds the hub's state of every document in its read scope;
/// every version written is in the hub's history exactly once and no dot has two contents; no
/// replica shows a sibling another has superseded.
///
/// CI runs ``ciSeeds``. `VIGIL_FAULT_SEEDS=1000` also runs seeds 1…1000, four at a time, and
/// prints how many failed and how long it took; `VIGIL_FAULT_SEED=N` replays one seed, and
/// `VIGIL_FAULT_TRACE=1` adds each failing schedule's steps to its failure.
@Suite("Fault schedules")
struct FaultScheduleTests {
    /// Seeds that pass on today's code (8 schedules: restored hubs and devices, copies, kills, scope
    /// changes, concurrent syncs). The run of seeds 1…1000 on 5 December at e35c252 (598 s, four at
    /// a time) failed 281; the seeds below are examples of each defect it found, out of CI until fixed:
    /// - 15 (fixed, now in CI: it replays this schedule), 22, 25: a fork went unnoticed. A replica
    ///   restored from a backup (or a copy) that wrote since pushed only part of its versions (push
    ///   limit, a kill, a concurrent sync) while the answer raised its belief of what the hub holds of
    ///   its own id past the divergent dot: it never pushed that version, so the same dot had two
    ///   contents. The belief of its own entry now rises only as far as it saw its versions confirmed.
    ///   22 and 25 still fail, on other invariants (a replica missing a sibling the hub holds; a
    ///   copy's version never reaching the hub): not diagnosed yet.
    /// - 5, 47, 78: a hub restored from a backup forgets the incarnations bound since: the device is
    ///   refused as another replica for ever, and versions naming its new id stay implausible.
    /// - 3: a restored replica that writes before it has recovered all its later versions never
    ///   recovers the rest (the request's counter is its highest own version held, above the gap).
    /// - 45, 386: a version is at the hub twice (once under its dot, once re-issued).
    /// - 28, 12: see the report (superseded siblings shown; a device stalled on a gap).
    static let ciSeeds: [UInt64] = [1, 2, 4, 6, 7, 8, 9, 10, 15]

    /// The seeds of a run: `VIGIL_FAULT_SEED=N` replays one, else the CI seeds.
    static var seeds: [UInt64] {
        if let text = ProcessInfo.processInfo.environment["VIGIL_FAULT_SEED"], let seed = UInt64(text) { return [seed] }
        return ciSeeds
    }

    /// `VIGIL_FAULT_SEEDS=N`: how many seeds (1…N) the long run takes; nil without it.
    static var longRunCount: UInt64? {
        guard let text = ProcessInfo.processInfo.environment["VIGIL_FAULT_SEEDS"], let count = UInt64(text), count > 0 else {
            return nil
        }
        return min(count, 100_000)
    }

    static var tracing: Bool { ProcessInfo.processInfo.environment["VIGIL_FAULT_TRACE"] != nil }

    @Test("a seeded fault schedule converges with nothing lost, duplicated or wrongly shown", arguments: seeds)
    func converges(seed: UInt64) async throws {
        let violations = await Self.violations(seed: seed)
        #expect(violations.isEmpty, "\(violations.joined(separator: "\n"))")
    }

    /// The long run: seeds 1…`VIGIL_FAULT_SEEDS`, a few at a time (each schedule holds a handful
    /// of SQLite files open), every failing seed recorded with its violations, and one summary.
    @Test("seeds 1…VIGIL_FAULT_SEEDS converge", .enabled(if: longRunCount != nil))
    func longRun() async throws {
        let count = try #require(Self.longRunCount)
        let started = ContinuousClock.now
        var failing: [UInt64] = []
        try await withThrowingTaskGroup(of: (UInt64, [String]).self) { group in
            var next: UInt64 = 1
            for _ in 0..<4 where next <= count {
                let seed = next
                group.addTask { (seed, await Self.violations(seed: seed)) }
                next += 1
            }
            while let (seed, violations) = try await group.next() {
                if !violations.isEmpty {
                    failing.append(seed)
                    Issue.record("\(violations.joined(separator: "\n"))")
                }
                if next <= count {
                    let seed = next
                    group.addTask { (seed, await Self.violations(seed: seed)) }
                    next += 1
                }
            }
        }
        let seconds = (ContinuousClock.now - started).components.seconds
        print("fault schedules: \(count) seeds in \(seconds) s, \(failing.count) failing: \(failing.sorted())")
    }

    /// Runs one seed's schedule in a fresh folder; its violations, each line naming the seed.
    static func violations(seed: UInt64) async -> [String] {
        do {
            return try await TemporaryReplica.withFolder { folder in
                let schedule = try FaultSchedule(seed: seed, folder: folder)
                var violations: [String]
                do {
                    violations = try await schedule.run()
                } catch {
                    violations = ["the schedule itself failed: \(error)"]
                }
                if tracing && !violations.isEmpty { violations += schedule.trace }
                return violations.map { "seed \(seed): \($0)" }
            }
        } catch {
            return ["seed \(seed): the folder could not be made: \(error)"]
        }
    }
}
