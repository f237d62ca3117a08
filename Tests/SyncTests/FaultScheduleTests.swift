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
    /// Seeds that pass on today's code (restored hubs and devices, copies, kills, scope changes,
    /// concurrent syncs). The run of seeds 1…1000 on 5 December at e35c252 failed 281; each seed
    /// below replays a schedule that failed before the fix named with it:
    /// - 15: a fork went unnoticed: the answer raised a restored replica's belief of its own entry
    ///   past a dot it had written again (the belief now rises only as far as it saw its versions
    ///   confirmed).
    /// - 3: a restored replica that wrote before it had recovered all its later versions never
    ///   recovered the rest (the request's counter is now the top of its own versions without a hole).
    /// - 5: a hub restored from a backup forgot an incarnation bound since, and refused the device
    ///   for ever (now 403 `unknown-incarnation`, and the device binds the id again). Since copies no
    ///   longer join hub restores in one schedule, seed 5 replays a hub restore alone; the refusal
    ///   is covered by `TrustTests` (`unknown-incarnation`).
    /// - 108, 611: a restored hub wrote a merge under a dot of its own that a merge it had lost
    ///   still held on a device (each hub process now writes under a writer id of its own); and in
    ///   611 a device's checkpoint from before the restore still matched, because the device's own
    ///   version was stored again at the same sequence, and another named grants the restored hub
    ///   never gave out: neither counted as reset, so the device never relayed the lost merge
    ///   (positions now carry a tag drawn per row; unknown grants count as a reset).
    /// - 31: the answer that named a restored replica's fork was lost (its incarnation request cut):
    ///   the pushed dot counted as confirmed and was never pushed again (a push the hub did not
    ///   store now confirms nothing, and pulled own versions only once nothing held is unconfirmed).
    /// - 157: an own version rejected (out of scope) stayed set aside after a restored hub, under
    ///   wider grants, accepted it again (own versions the hub takes are now taken back).
    /// - 189: a catch-up (wider read scope) from a checkpoint a restored hub did not give out passed
    ///   over everything under the earlier scope (it now starts over).
    /// - 130: a device with a read scope held aside for ever a version whose context named a dot
    ///   outside its scope (the hub now vouches for the dots a page's contexts name).
    /// - 208: a device relaying another origin's version to a restored hub, which refused it as an
    ///   implausible context (it names a dot neither holds), pushed it again and again and stopped
    ///   the sync as stalled (such a version now waits for a later sync, like a gap).
    /// - 45, 231: a device restored from a backup older than an incarnation it took re-issued what
    ///   that incarnation had re-issued: one report twice at the hub (the incarnation request now
    ///   names what it re-issues, and the hub's earlier re-issues take their place).
    /// - 442: a restored replica wrote before it had pulled its own later version back, then took
    ///   that version as already seen (a joined vector claims every dot up to its highest; the
    ///   merge now asks the contexts held).
    /// - 729: a copy's version refused unread after a fork was reported as the other copy's
    ///   quarantined version at that dot, set aside, and never re-issued.
    /// What still fails is in ReplicaModel.md, *Known limits*.
    static let ciSeeds: [UInt64] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 31, 45, 108, 130, 157, 189, 208, 231, 275, 442, 611, 729, 810]

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
