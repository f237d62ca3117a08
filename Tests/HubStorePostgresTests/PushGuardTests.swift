import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import Synchronization
import SyncEngine
import Testing

/// The guards a push takes instead of holding the feed's lock from its first statement to its
/// commit (``PostgresGuards``; Docs/HubPostgres.md, "Lock order"): pushes of different origins to
/// different documents run at once, and each guard still does the job the feed's lock did. Each
/// test replays one schedule with a pause inside the first push's transaction (held, so the
/// schedule does not depend on the machine's load), and each has a negative control that switches
/// the guard off (``PushGuards``) and sees the proof fail.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct PushGuardTests {
    typealias F = MergeFixtures

    // MARK: Pushes of different origins to different documents overlap

    @Test func pushesOfDifferentOriginsToDifferentDocumentsRunAtOnce() async throws {
        // Replays: push A (origin a, document a1) is inside its transaction, its decisions made and
        // its guards held, and pauses 1.5 s before its last statement; push B (origin b, document
        // b1) is taken meanwhile through another hub process. B commits while A waits.
        let race = try await overlap(guards: .all) { a, b in
            (try FeedFixtures.version(a, 1), try FeedFixtures.version(b, 1))
        }
        print("pushes overlap (guards): \(race)")
        #expect(race.secondFinishedFirst, "B waited for A: \(race)")
        #expect(race.reports.map(\.applied.stored) == [1, 1])
    }

    @Test func withTheFeedsLockOverTheWholePushTheSecondWaits() async throws {
        // The negative control: the feed's lock taken first and held over the whole push (the
        // code before this change): B waits for A's commit.
        let race = try await overlap(guards: PushGuards(feedLockOverWholePush: true)) { a, b in
            (try FeedFixtures.version(a, 1), try FeedFixtures.version(b, 1))
        }
        print("pushes overlap (feed lock over the whole push, negative control): \(race)")
        #expect(race.secondWaitedForFirst, "B did not wait for A: \(race)")
        #expect(race.reports.map(\.applied.stored) == [1, 1])
    }

    // MARK: Pushes to one document are merged as serial ones

    @Test func concurrentPushesToOneDocumentMergeAsSerialOnes() async throws {
        // Replays: a situation is held; A's edit of its risk level is inside its push, paused
        // before its last statement, when B's edit of its title is pushed through another hub
        // process. B waits for A's document guard, then reads A's edit and merges the two, as it
        // would had it come after A's commit.
        let race = try await sameDocumentRace(guards: .all)
        #expect(race.secondWaitedForFirst, "B did not wait for A's document: \(race)")
        #expect(race.reports.map(\.merged) == [0, 1])
        #expect(race.leftInConflict == 0)
    }

    @Test func withoutTheDocumentGuardAConflictIsLeft() async throws {
        // The negative control: without the documents' guards B reads the document before A
        // commits, neither push sees the other's edit, and the conflict is left unmerged. (B
        // still ends after A: its upsert of the document's state waits for A's row of
        // `document_states`, after it decided; PostgresDocumentStatesTests proves the state.)
        let race = try await sameDocumentRace(guards: PushGuards(documents: false))
        #expect(race.reports.map(\.merged) == [0, 0])
        #expect(race.leftInConflict == 1)
    }

    // MARK: Revocations and dots (the origins' guards)

    @Test func aRevocationRacingAPushNeverLetsAVersionAboveTheHorizonIn() async throws {
        // Replays: a device's push of 3 and 4 has read what decides it (no horizon) and stored,
        // and pauses before it commits, when the device is revoked through another hub process.
        // The revocation waits for the push's origin guard, so its horizon covers 3 and 4.
        let race = try await revocationRace(guards: .all)
        #expect(race.stored == 2)
        #expect(race.horizon == 4)
        #expect(race.heldAboveHorizon == [], "held above the horizon \(race.horizon): \(race.heldAboveHorizon)")
    }

    @Test func withoutTheOriginGuardAPushCommitsAboveTheHorizon() async throws {
        // The negative control: a push that takes no origin guard does not hold the revocation
        // back; the revocation reads the knowledge without 3 and 4 (horizon 2), and the push
        // then commits them above it.
        let race = try await revocationRace(guards: PushGuards(origins: false))
        #expect(race.horizon == 2)
        #expect(race.heldAboveHorizon == [3, 4])
    }

    @Test func twoHubProcessesTakingOneDotDecideItOnce() async throws {
        // Replays: a seized device signs two versions of each of its dots 1 to 4 (of other
        // documents) and pushes them through two hub processes at once. The second push waits
        // for the first's origin guard, then finds the dots held with other signatures: a fork,
        // told, and nothing more stored; no push fails.
        let race = try await sameDotsRace(guards: .all)
        #expect(race.failures == 0, "\(race)")
        #expect(race.stored == 4)
        #expect(race.forks == 1)
    }

    @Test func withoutTheOriginGuardTwoHubProcessesDecideOneDotTwice() async throws {
        // The negative control: both decide to store the same dots; the later insert fails
        // (a unique violation), and the fork is never told.
        let race = try await sameDotsRace(guards: PushGuards(origins: false))
        #expect(race.failures == 1, "\(race)")
        #expect(race.stored == 4)
        #expect(race.forks == 0)
    }

    // MARK: The merge writer's counters

    @Test func twoMergesOfOneProcessAtOnceDrawTwoCounters() async throws {
        // Replays: one hub process merges a conflict on s2 and, while that push pauses before its
        // last statement (its merge's counter drawn, 2), merges another on s3. The second waits for
        // the writer's guard and draws 3.
        let race = try await mergeWriterRace(guards: .all)
        #expect(race.failures == 0, "\(race)")
        #expect(race.merged == 2)
        #expect(race.counters == [1, 2, 3])
    }

    @Test func withoutTheMergeWritersGuardTwoMergesDrawOneCounter() async throws {
        // The negative control: both draw counter 2; the later insert fails (a unique violation).
        let race = try await mergeWriterRace(guards: PushGuards(mergeWriter: false))
        #expect(race.failures == 1, "\(race)")
        #expect(race.counters == [1, 2])
    }

    // MARK: Eight writers on different documents (a debug-build indication, not a benchmark)

    @Test func eightWritersOnDifferentDocumentsStoreEverything() async throws {
        // Eight hub processes, each taking 15 pushes of 4 observations of an origin of its own at
        // once: every version is stored and known. The rate is printed, with the feed's lock held
        // over the whole push (the code before this change) beside it.
        for guards in [PushGuards.all, PushGuards(feedLockOverWholePush: true)] {
            let (stored, seconds) = try await eightWriters(guards: guards)
            #expect(stored == 8 * 15 * 4)
            let mode = guards.feedLockOverWholePush ? "feed lock over the whole push" : "guards"
            print(
                "eight writers (\(mode)): \(8 * 15) pushes in \(String(format: "%.2f", seconds)) s, "
                    + "\(String(format: "%.0f", Double(8 * 15) / seconds)) pushes/s")
        }
    }

    // MARK: Schedules

    struct Race: CustomStringConvertible {
        var reports: [PushReport] = []
        var secondFinishedFirst = false
        var secondTook: Duration = .zero
        var leftInConflict = 0

        /// Whether B took most of A's 1.5 s pause, so waited for A (its own statements take
        /// milliseconds). Not "B finished after A": both processes of these tests resume their
        /// pushes on one thread (`FeedLockExecutor`), and on a loaded machine A's last step after
        /// its commit could run after B's whole push (seen once in CI, B taking 1.57 s).
        var secondWaitedForFirst: Bool { secondTook >= .seconds(1) }

        var description: String {
            "second finished first: \(secondFinishedFirst), took \(secondTook), stored \(reports.map(\.applied.stored)), merged \(reports.map(\.merged))"
        }
    }

    /// Takes A's push (`versions`' first) through a first hub process that pauses it 1.5 s before
    /// its last statement, and once it is there B's (the second) through a second one.
    private func overlap(
        guards: PushGuards, _ versions: (ReplicaID, ReplicaID) throws -> (Version, Version)
    ) async throws -> Race {
        try await Self.withTables(2) { tables, _ in
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let (first, second) = try versions(a, b)
            return try await Self.race(
                tables, guards: guards, first: PushPlan(versions: [first], pusher: a, policy: .inOrder),
                second: PushPlan(versions: [second], pusher: b, policy: .inOrder))
        }
    }

    /// A situation held, then A's edit (risk level) paused inside its push and B's (title) pushed
    /// meanwhile through another hub process.
    private func sameDocumentRace(guards: PushGuards) async throws -> Race {
        try await Self.withTables(2) { tables, _ in
            let (a, b) = (ReplicaID.random(), ReplicaID.random())
            let base = try F.version(a, 1, F.situation)
            let seen = VersionVector([a: 1])
            let editA = try F.version(a, 2, F.edited([F.critical]), seen: seen)
            let editB = try F.version(b, 1, F.edited([F.retitled]), seen: seen)
            let setup = try PostgresHubStorage(tables: tables[1])
            #expect(try await setup.take(PushPlan(versions: [base], pusher: a, policy: .inOrder)).applied.stored == 1)
            var race = try await Self.race(
                tables, guards: guards, first: PushPlan(versions: [editA], pusher: a, policy: .inOrder),
                second: PushPlan(versions: [editB], pusher: b, policy: .inOrder))
            let held = try await setup.feed.page(after: .start, limit: 100, maxBytes: 1 << 22).versions
            race.leftInConflict = DocumentState(merging: held.filter { $0.key == base.key }).isConflicted ? 1 : 0
            return race
        }
    }

    /// The schedule of the races above: A through the first of `tables`, paused at its last
    /// statement; B through the second once A is there. Both connect before.
    private static func race(
        _ tables: [PostgresDeviceTables], guards: PushGuards, first: PushPlan, second: PushPlan
    ) async throws -> Race {
        let hold = Hold(for: .milliseconds(1_500))
        let hubA = try PostgresHubStorage(
            tables: tables[0], commitOrder: .serialized, guards: guards, beforeFeedLock: hold.pause)
        let hubB = try PostgresHubStorage(tables: tables[1], commitOrder: .serialized, guards: guards)
        for hub in [hubA, hubB] { _ = try await hub.counts() }
        hold.arm()
        let clock = ContinuousClock()
        async let firstTaken = Self.timed { try await hubA.take(first) }
        try await hold.waitUntilHeld()
        let started = clock.now
        let (reportB, endB) = try await Self.timed { try await hubB.take(second) }
        let (reportA, endA) = try await firstTaken
        return Race(reports: [reportA, reportB], secondFinishedFirst: endB < endA, secondTook: endB - started)
    }

    private static func timed<T>(_ body: () async throws -> T) async throws -> (T, ContinuousClock.Instant) {
        let result = try await body()
        return (result, ContinuousClock.now)
    }

    /// A device enrolled, 1 and 2 pushed; its push of 3 and 4 pauses 1.5 s before it commits
    /// (after its last statement), and the device is revoked through another hub process
    /// meanwhile. Returns what the push stored, the horizon and the counters held above it.
    private func revocationRace(guards: PushGuards) async throws -> (
        stored: Int, horizon: Int64, heldAboveHorizon: [UInt64]
    ) {
        try await Self.withTables(2) { tables, schema in
            let hold = Hold(for: .milliseconds(1_500))
            let hubA = try PostgresHubStorage(
                tables: tables[0], commitOrder: .serialized, guards: guards, beforeCommit: hold.pause)
            let hubB = PostgresDeviceAdministration(tables: tables[1])
            let registry = PostgresDeviceRegistry(tables: tables[1])
            let tablet = try await SeizedTablet(administration: hubB, registry: registry, storage: hubA)
            let (device, policy, before) = (tablet.device, tablet.policy, tablet.held)
            hold.arm()
            let after = try PushFixtures.versions(device.replica, 3...4)
            async let pushed = hubA.take(PushPlan(versions: after, pusher: device.replica, policy: policy))
            try await hold.waitUntilHeld()
            guard case .revoked = try await hubB.revokeDevice("seized-tablet", actor: "test") else {
                Issue.record("seized-tablet was not revoked")
                return (0, 0, [])
            }
            let stored = try await pushed.applied.stored
            let rows = try await tables[1].client.query(
                "SELECT horizon FROM \(unescaped: schema).revocations WHERE replica_id = \(device.replica.hex)",
                logger: PostgresTestDatabase.quiet)
            var horizon: Int64 = -1
            for try await value in rows.decode(Int64.self) { horizon = value }
            let held = try await hubA.versions(at: (before + after).map(\.dot)).map(\.dot.counter)
            return (stored, horizon, held.filter { Int64($0) > horizon }.sorted())
        }
    }

    /// One device's push of 1 to 4 and another of 1 to 4 signed again for other documents (a fork,
    /// so that the two pushes share no document guard) taken by two hub processes at once, the
    /// first pausing before its last statement until the second is done. Returns what the two
    /// stored, the forks they told, and how many failed.
    private func sameDotsRace(guards: PushGuards) async throws -> (stored: Int, forks: Int, failures: Int) {
        try await Self.withTables(2) { tables, _ in
            let hold = Hold(for: .milliseconds(1_500))
            let hubA = try PostgresHubStorage(
                tables: tables[0], commitOrder: .serialized, guards: guards, beforeFeedLock: hold.pause)
            let hubB = try PostgresHubStorage(tables: tables[1], commitOrder: .serialized, guards: guards)
            for hub in [hubA, hubB] { _ = try await hub.counts() }
            let origin = ReplicaID.random()
            let push = PushPlan(versions: try PushFixtures.versions(origin, 1...4), pusher: origin, policy: .inOrder)
            let forked = PushPlan(
                versions: try (1...4).map { try PushFixtures.version(origin, UInt64($0), document: "fork-\($0)") },
                pusher: origin, policy: .inOrder)
            hold.arm()
            async let first = Self.outcome { try await hubA.take(push) }
            try await hold.waitUntilHeld()
            let second = await Self.outcome { try await hubB.take(forked) }
            let reports = [await first, second].compactMap { $0 }
            return (
                reports.map(\.applied.stored).reduce(0, +), reports.map(\.applied.forks.count).reduce(0, +),
                2 - reports.count
            )
        }
    }

    /// One hub process: s1, s2 and s3 held, a conflict on s1 merged (counter 1), A's edits of s2 and
    /// s3 held; then B's edit of s2 pushed, pausing before its last statement (its merge's
    /// counter drawn), and C's of s3 meanwhile. Returns the merges reported, the pushes that
    /// failed and the writer's counters held.
    private func mergeWriterRace(guards: PushGuards) async throws -> (merged: Int, failures: Int, counters: [UInt64]) {
        try await Self.withTables(1) { tables, _ in
            let hold = Hold(for: .milliseconds(1_500))
            let hub = try PostgresHubStorage(
                tables: tables[0], commitOrder: .serialized, guards: guards, beforeFeedLock: hold.pause)
            let (a, b, c) = (ReplicaID.random(), ReplicaID.random(), ReplicaID.random())
            let bases = try (1...3).map { try F.version(a, UInt64($0), F.situation, document: "s\($0)") }
            let seen = (1...3).map { VersionVector([a: UInt64($0)]) }
            let editsA = try (1...3).map {
                try F.version(a, UInt64(3 + $0), F.edited([F.critical]), document: "s\($0)", seen: seen[$0 - 1])
            }
            func push(_ versions: [Version]) async throws -> PushReport {
                try await hub.take(PushPlan(versions: versions, pusher: versions[0].dot.replica, policy: .inOrder))
            }
            _ = try await push(bases + editsA)
            let serial = try await push([try F.version(b, 1, F.edited([F.retitled]), document: "s1", seen: seen[0])])
            #expect(serial.merged == 1)
            let editB = try F.version(b, 2, F.edited([F.retitled]), document: "s2", seen: seen[1])
            let editC = try F.version(c, 1, F.edited([F.retitled]), document: "s3", seen: seen[2])
            // Two connections open before the race: the second push must not wait for a first login
            // (a SCRAM login under CI's load) past the first push's pause.
            async let one = hub.counts()
            async let two = hub.counts()
            _ = try await (one, two)
            hold.arm()
            async let first = Self.outcome { try await push([editB]) }
            try await hold.waitUntilHeld()
            let second = await Self.outcome { try await push([editC]) }
            let reports = [await first, second].compactMap { $0 }
            let writer = hub.mergeWriter.id
            let held = try await hub.feed.page(after: .start, limit: 100, maxBytes: 1 << 22).versions
            return (
                reports.map(\.merged).reduce(0, +), 2 - reports.count,
                held.filter { $0.dot.replica == writer }.map(\.dot.counter).sorted()
            )
        }
    }

    /// Eight hub processes, each pushing 15 pushes of 4 observations of its own origin at once;
    /// returns how many versions the feed holds and how long the pushes took.
    private func eightWriters(guards: PushGuards) async throws -> (stored: Int, seconds: Double) {
        try await Self.withTables(8) { tables, _ in
            let hubs = try tables.map { try PostgresHubStorage(tables: $0, commitOrder: .serialized, guards: guards) }
            for hub in hubs { _ = try await hub.counts() }
            let started = ContinuousClock.now
            try await withThrowingTaskGroup(of: Void.self) { group in
                for hub in hubs {
                    group.addTask {
                        let origin = ReplicaID.random()
                        for push in 0..<15 {
                            let first = UInt64(push * 4) + 1
                            let versions = try PushFixtures.versions(origin, first...(first + 3))
                            let report = try await hub.take(
                                PushPlan(versions: versions, pusher: origin, policy: .inOrder))
                            #expect(report.applied.stored == 4)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let elapsed = ContinuousClock.now - started
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let held = try await hubs[0].feed.page(after: .start, limit: 1_000, maxBytes: 1 << 24).versions
            return (held.count, seconds)
        }
    }

    /// The report of `body`, or nil when it threw (a push that failed).
    private static func outcome(_ body: () async throws -> PushReport) async -> PushReport? {
        try? await body()
    }

    /// `count` device tables of one hub (one id and key) over one fresh schema, each with a client
    /// of its own (as separate hub processes have).
    private static func withTables<Result>(
        _ count: Int, _ body: ([PostgresDeviceTables], String) async throws -> Result
    ) async throws -> Result {
        try await PostgresTestDatabase.withClients(count) { clients, schema in
            let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
            let tables = try clients.map {
                try PostgresDeviceTables(
                    client: $0, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet)
            }
            return try await body(tables, schema)
        }
    }
}

/// A pause for the first push that reaches it once armed: it holds that push `held`, and tells
/// the test it is there.
final class Hold: Sendable {
    private struct State {
        var armed = false
        var held = false
    }

    private let state = Mutex(State())
    private let duration: Duration

    init(for duration: Duration) { self.duration = duration }

    /// From now on, the first push to reach the pause is held.
    func arm() { state.withLock { $0.armed = true } }

    /// The hook: holds the first push after ``arm()``; lets every other one through.
    var pause: @Sendable () async throws -> Void {
        { [self] in
            let first = state.withLock { state in
                guard state.armed, !state.held else { return false }
                state.held = true
                return true
            }
            if first { try await Task.sleep(for: duration) }
        }
    }

    /// Waits until a push is held (at most 20 s).
    func waitUntilHeld() async throws {
        for _ in 0..<4_000 {
            if state.withLock({ $0.held }) { return }
            try await Task.sleep(for: .milliseconds(5))
        }
        Issue.record("no push reached the pause within 20 s")
    }
}
