import Foundation
import ReplicaStore
@testable import SyncClient
import SyncEngine
import Testing

/// The client's exchange loop as a pure step: scripted reads and answers, no network, no
/// database; each test asserts the actions the loop takes and where it stops.
@Suite("Sync loop step")
struct SyncLoopTests {
    static let me = StepFixtures.a
    static let other = StepFixtures.b
    static let hub = StepFixtures.c

    static func version(_ origin: ReplicaID, _ counter: UInt64) -> Version { StepFixtures.version(origin, counter) }

    /// What a read of the replica finds.
    static func read(
        push: [Version] = [], hasMore: Bool = false, reports: [VerificationReport] = [], assumed: Bool = false,
        replica: ReplicaID = me
    ) -> SyncLoop.Event {
        var peer = PeerState(peer: "hub", knowledge: [hub: 1], checkpoint: "1.x")
        peer.sendAssumedKnowledge = assumed
        return .read(
            SyncLoop.Read(
                base: ExchangeBase(peer: peer, counter: 5, heldCounter: 5, replica: replica), replica: replica,
                batch: VersionBatch(versions: push, hasMore: hasMore), reports: reports))
    }

    /// A committed round.
    static func exchanged(
        more: Bool = false, pushedTaken: Int = 0, pulled: Int = 0, gaps: [ReplicaID: UInt64] = [:], fork: Rejection? = nil,
        pulledForks: [Dot] = [], admitted: [Version] = [], bytes: Int = 100, replica: ReplicaID = me
    ) -> SyncLoop.Event {
        let outcome = ExchangeRound.Outcome(
            knowledge: [hub: 1], checkpoint: "2.x", setAside: [:], raiseCounter: nil, fork: fork, pushedTaken: pushedTaken,
            sendAssumedKnowledgeNext: false, more: more, gaps: gaps)
        return .exchanged(
            SyncLoop.Exchanged(
                replica: replica, hub: hub, outcome: outcome, pulled: pulled, rejected: 0, keptApart: 0, admitted: admitted,
                pulledForks: pulledForks, forgotten: 0, bytesSent: bytes, bytesReceived: bytes))
    }

    static func forkRejection(_ counter: UInt64) -> Rejection {
        Rejection(dot: Dot(replica: me, counter: counter), reason: .fork, message: "forked", quarantined: false)
    }

    static func loop(_ configuration: Synchronizer.Configuration = .init()) -> SyncLoop {
        SyncLoop(configuration: configuration, peer: "http://127.0.0.1:1")
    }

    /// The exchange an action plans, or nil.
    static func exchange(_ action: SyncLoop.Action) -> SyncLoop.Exchange? {
        if case .exchange(let exchange) = action { return exchange }
        return nil
    }

    static func finished(_ action: SyncLoop.Action) -> SyncSummary? {
        if case .finish(let summary) = action { return summary }
        return nil
    }

    static func failure(_ action: SyncLoop.Action) -> SyncClientError? {
        if case .fail(let error) = action { return error }
        return nil
    }

    static func isRead(_ action: SyncLoop.Action) -> Bool {
        if case .read = action { return true }
        return false
    }

    @Test("the first round always goes; a round with nothing to do after it ends the sync")
    func firstRoundThenQuiet() throws {
        var loop = Self.loop()
        #expect(Self.isRead(loop.start()))
        let first = try #require(Self.exchange(loop.next(after: Self.read())))
        #expect(first.request.push.isEmpty)
        #expect(first.request.unverified == nil)
        #expect(first.request.checkpoint == "1.x")
        #expect(Self.isRead(loop.next(after: Self.exchanged())))
        let summary = try #require(Self.finished(loop.next(after: Self.read())))
        #expect(summary.roundTrips == 1)
        #expect(summary.bytesSent == 100 && summary.bytesReceived == 100)
        #expect(!summary.budgetSpent)
    }

    @Test("pages that wait, a checkpoint reset, versions to push and failures to report each make another round")
    func reasonsToGoOn() throws {
        let report = VerificationReport(dot: Dot(replica: Self.other, counter: 2), reason: .badSignature)
        let reasons: [(more: Bool, read: SyncLoop.Event)] = [
            (true, Self.read()), (false, Self.read(assumed: true)), (false, Self.read(push: [Self.version(Self.me, 6)])),
            (false, Self.read(reports: [report])),
        ]
        for reason in reasons {
            var loop = Self.loop()
            _ = loop.start()
            _ = loop.next(after: Self.read())
            #expect(Self.isRead(loop.next(after: Self.exchanged(more: reason.more))))
            let next = try #require(Self.exchange(loop.next(after: reason.read)))
            #expect(next.request.assumedKnowledge == (reason.read.isAssumed ? [Self.hub: 1] : nil))
        }
        // The report goes with the request and is marked reported with the round.
        var loop = Self.loop()
        _ = loop.start()
        let reporting = try #require(Self.exchange(loop.next(after: Self.read(reports: [report]))))
        #expect(reporting.request.unverified == [report])
        #expect(reporting.reports == [report])
    }

    @Test("a push that waits beyond the batch makes the request count what is pending")
    func pending() throws {
        var loop = Self.loop()
        _ = loop.start()
        let exchange = try #require(Self.exchange(loop.next(after: Self.read(push: [Self.version(Self.me, 6)], hasMore: true))))
        #expect(exchange.countsPending)
        #expect(exchange.request.push.map(\.dot) == [Dot(replica: Self.me, counter: 6)])
    }

    @Test("the same push answered three more times without progress stops the sync as stalled")
    func fruitlessRounds() throws {
        var loop = Self.loop()
        _ = loop.start()
        let push = [Self.version(Self.me, 6)]
        for _ in 0..<3 {
            #expect(Self.exchange(loop.next(after: Self.read(push: push))) != nil)
            _ = loop.next(after: Self.exchanged())
        }
        let error = try #require(Self.failure(loop.next(after: Self.read(push: push))))
        #expect(error.code == .stalled)
        #expect(error.message.contains("http://127.0.0.1:1"))
        #expect(loop.summary.roundTrips == 3)
    }

    @Test("a pulled page between identical pushes is progress: the count starts again")
    func pulledPageIsProgress() {
        var loop = Self.loop()
        _ = loop.start()
        let push = [Self.version(Self.me, 6)]
        for round in 0..<8 {
            #expect(Self.exchange(loop.next(after: Self.read(push: push))) != nil, "round \(round)")
            _ = loop.next(after: Self.exchanged(pulled: round % 2 == 0 ? 1 : 0))
        }
    }

    @Test("a different push each round is progress")
    func changingPush() {
        var loop = Self.loop()
        _ = loop.start()
        for counter in UInt64(6)..<12 {
            #expect(Self.exchange(loop.next(after: Self.read(push: [Self.version(Self.me, counter)]))) != nil)
            _ = loop.next(after: Self.exchanged())
        }
    }

    @Test("an origin refused as a gap is not pushed again from that counter on in this sync")
    func gaps() throws {
        var loop = Self.loop()
        _ = loop.start()
        let pushed = [Self.version(Self.other, 5), Self.version(Self.other, 6), Self.version(Self.me, 6)]
        _ = loop.next(after: Self.read(push: pushed))
        _ = loop.next(after: Self.exchanged(gaps: [Self.other: 6]))
        #expect(loop.gaps == [Self.other: 6])
        // The lowest refused counter holds.
        let again = try #require(Self.exchange(loop.next(after: Self.read(push: pushed))))
        #expect(again.request.push.map(\.dot) == [Dot(replica: Self.other, counter: 5), Dot(replica: Self.me, counter: 6)])
        _ = loop.next(after: Self.exchanged(gaps: [Self.other: 5]))
        #expect(loop.gaps == [Self.other: 5])
        // Only gapped versions left: nothing to push, and the sync ends.
        let summary = try #require(Self.finished(loop.next(after: Self.read(push: [Self.version(Self.other, 5)]))))
        #expect(summary.roundTrips == 2)
    }

    @Test("the loop stops after the configured number of round trips")
    func maxRoundTrips() throws {
        var loop = Self.loop(.init(maxRoundTrips: 3))
        var action = loop.start()
        var rounds = 0
        while Self.isRead(action) {
            #expect(Self.exchange(loop.next(after: Self.read())) != nil)
            rounds += 1
            action = loop.next(after: Self.exchanged(more: true))
        }
        #expect(rounds == 3)
        #expect(try #require(Self.finished(action)).roundTrips == 3)
    }

    @Test("a byte budget halves each round's bounds and stops before a round it cannot pay for")
    func byteBudget() throws {
        var loop = Self.loop(.init(pageLimits: PageLimits(versions: 100, bytes: 1 << 20), pushBytes: 512 * 1024, byteBudget: 10_000))
        guard case .read(_, let pushBytes, _) = loop.start() else {
            Issue.record("the first action reads the replica")
            return
        }
        #expect(pushBytes == 5_000)
        let first = try #require(Self.exchange(loop.next(after: Self.read())))
        #expect(first.request.limits.bytes == 5_000)
        // 2 x 3,500 bytes spent: 3,000 left, half of it each way.
        guard case .read(_, let secondPush, _) = loop.next(after: Self.exchanged(more: true, bytes: 3_500)) else {
            Issue.record("another round is read")
            return
        }
        #expect(secondPush == 1_500)
        _ = loop.next(after: Self.read())
        // 1,000 left: below the smallest round.
        _ = loop.next(after: Self.exchanged(more: true, bytes: 1_000))
        let summary = try #require(Self.finished(loop.next(after: Self.read())))
        #expect(summary.budgetSpent)
        #expect(summary.roundTrips == 2)
    }

    @Test("a budget that is spent while nothing is left to do ends the sync as done, not as spent")
    func quietBeforeBudget() throws {
        var loop = Self.loop(.init(byteBudget: 3_000))
        _ = loop.start()
        _ = loop.next(after: Self.read())
        _ = loop.next(after: Self.exchanged(bytes: 1_000))
        #expect(try #require(Self.finished(loop.next(after: Self.read()))).budgetSpent == false)
    }

    @Test("a fork of this replica is proven, then an incarnation is taken and the sync goes on")
    func forkThenIncarnation() throws {
        var loop = Self.loop()
        _ = loop.start()
        _ = loop.next(after: Self.read(push: [Self.version(Self.me, 6)]))
        let fork = Self.forkRejection(4)
        guard case .proveFork(let proving) = loop.next(after: Self.exchanged(fork: fork)) else {
            Issue.record("a fork is proven first")
            return
        }
        #expect(proving.rejection == fork)
        #expect(proving.hub == Self.hub)
        guard case .incarnate(let taking) = loop.next(after: .forkProven(proving)) else {
            Issue.record("a proven fork of this replica takes an incarnation")
            return
        }
        #expect(taking.rejection.dot == Dot(replica: Self.me, counter: 4))
        #expect(Self.isRead(loop.next(after: .incarnated(Self.other))))
        #expect(loop.incarnations == 1)
        #expect(loop.more)
    }

    @Test("at most three incarnations in one sync; the fourth fork stops it")
    func incarnationLimit() throws {
        var loop = Self.loop()
        _ = loop.start()
        for taken in 0..<4 {
            _ = loop.next(after: Self.read())
            guard case .proveFork(let fork) = loop.next(after: Self.exchanged(fork: Self.forkRejection(4))) else {
                Issue.record("a fork is proven first")
                return
            }
            let decided = loop.next(after: .forkProven(fork))
            if taken < 3 {
                guard case .incarnate = decided else {
                    Issue.record("incarnation \(taken + 1) is taken")
                    return
                }
                _ = loop.next(after: .incarnated(ReplicaID.random()))
            } else {
                #expect(try #require(Self.failure(decided)).code == .forked)
            }
        }
        #expect(loop.incarnations == 3)
    }

    @Test("a fork of another id than the round's stops the sync")
    func foreignFork() throws {
        var loop = Self.loop()
        _ = loop.start()
        _ = loop.next(after: Self.read())
        let fork = SyncLoop.Fork(rejection: Self.forkRejection(4), replica: Self.other, hub: Self.hub)
        #expect(try #require(Self.failure(loop.next(after: .forkProven(fork)))).code == .forked)
    }

    @Test("a pulled version of this replica's id with another signature is a fork too, the lowest first")
    func pulledFork() {
        var loop = Self.loop()
        _ = loop.start()
        _ = loop.next(after: Self.read())
        let evidence = Self.version(Self.me, 3)
        let action = loop.next(
            after: Self.exchanged(
                pulled: 2, fork: Self.forkRejection(5), pulledForks: [Dot(replica: Self.me, counter: 3)], admitted: [evidence]))
        guard case .proveFork(let fork) = action else {
            Issue.record("the pulled fork is proven")
            return
        }
        #expect(fork.rejection.dot == evidence.dot)
        #expect(fork.rejection.evidence == evidence)
    }

    @Test("a round redone after another process took an incarnation counts and goes on")
    func replicaChanged() throws {
        var loop = Self.loop()
        _ = loop.start()
        let push = [Self.version(Self.me, 6)]
        _ = loop.next(after: Self.read(push: push))
        _ = loop.next(after: Self.exchanged())
        _ = loop.next(after: Self.read(push: push))
        _ = loop.next(after: Self.exchanged())
        _ = loop.next(after: Self.read(push: push))
        // The redo resets the fruitless count: the same push goes again three more times.
        #expect(Self.isRead(loop.next(after: .replicaChanged)))
        #expect(loop.summary.roundTrips == 3)
        #expect(loop.more)
        for _ in 0..<3 {
            #expect(Self.exchange(loop.next(after: Self.read(push: push))) != nil)
            _ = loop.next(after: Self.exchanged(more: true))
        }
        #expect(Self.failure(loop.next(after: Self.read(push: push)))?.code == .stalled)
    }

    @Test("the summary adds up the rounds")
    func summary() throws {
        var loop = Self.loop()
        _ = loop.start()
        _ = loop.next(after: Self.read(push: [Self.version(Self.me, 6)]))
        _ = loop.next(after: Self.exchanged(more: true, pushedTaken: 1, pulled: 4, bytes: 10))
        _ = loop.next(after: Self.read())
        _ = loop.next(after: Self.exchanged(pulled: 2, bytes: 20))
        let summary = try #require(Self.finished(loop.next(after: Self.read())))
        #expect(summary.roundTrips == 2)
        #expect(summary.versionsPushed == 1)
        #expect(summary.versionsPulled == 6)
        #expect(summary.bytesSent == 30)
    }
}

extension SyncLoop.Event {
    /// Whether this read found a checkpoint reset to follow.
    fileprivate var isAssumed: Bool {
        if case .read(let read) = self { return read.base.peer.sendAssumedKnowledge }
        return false
    }
}
