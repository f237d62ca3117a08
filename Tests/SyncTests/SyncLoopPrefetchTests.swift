import Foundation
import ReplicaStore
@testable import SyncClient
import SyncEngine
import Testing

/// The loop's pipelined pages as a pure step (issue 14): when an answer says more waits, the
/// next page is asked for while this one is applied, and the page in flight is dropped whenever
/// the round after the apply is not the one asked ahead. Scripted answers, no network, no database.
@Suite("Sync loop prefetch step")
struct SyncLoopPrefetchTests {
    typealias Steps = SyncLoopTests
    static let me = Steps.me
    static let hub = Steps.hub

    /// A read of the replica after a page whose answer gave `checkpoint`.
    static func read(
        checkpoint: String = "1.x", reports: [VerificationReport] = [], push: [Version] = [], hasMore: Bool = false,
        replica: ReplicaID = me
    ) -> SyncLoop.Event {
        let peer = PeerState(peer: "hub", knowledge: [hub: 1], checkpoint: checkpoint)
        return .read(
            SyncLoop.Read(
                base: ExchangeBase(peer: peer, counter: 5, heldCounter: 5, replica: replica), replica: replica,
                batch: VersionBatch(versions: push, hasMore: hasMore), reports: reports))
    }

    /// The hub's answer, before it is verified or applied.
    static func answered(
        more: Bool, checkpoint: String = "2.x", reset: Bool = false, rejected: [Rejection] = [], bytes: Int = 100
    ) -> SyncLoop.Event {
        let response = SyncResponse(
            hub: hub, knowledge: [hub: 1], accepted: 0, rejected: rejected, versions: [], checkpoint: checkpoint, more: more,
            checkpointReset: reset)
        return .answered(TransportReply(response: response, bytesSent: bytes, bytesReceived: bytes))
    }

    static func apply(_ action: SyncLoop.Action) -> SyncLoop.Apply? {
        if case .apply(let apply) = action { return apply }
        return nil
    }

    static func isDiscard(_ action: SyncLoop.Action) -> Bool {
        if case .discardPrefetch = action { return true }
        return false
    }

    /// A loop that has sent its first round and got an answer with more pages from "2.x": the
    /// request for the page after it is in flight.
    static func prefetching(_ configuration: Synchronizer.Configuration = .init()) throws -> (SyncLoop, SyncRequest) {
        var loop = Steps.loop(configuration)
        _ = loop.start()
        _ = try #require(Steps.exchange(loop.next(after: read())))
        let ahead = try #require(apply(loop.next(after: answered(more: true))))
        return (loop, try #require(ahead.prefetch))
    }

    @Test("an answer with more pages asks for the next page from its checkpoint before it is applied; the next round takes that answer")
    func asksAheadAndTakesIt() throws {
        var loop = Steps.loop()
        _ = loop.start()
        let first = try #require(Steps.exchange(loop.next(after: Self.read())))
        #expect(!first.prefetched)
        let applying = try #require(Self.apply(loop.next(after: Self.answered(more: true, checkpoint: "2.x"))))
        let ahead = try #require(applying.prefetch, "the next page is asked for before this one is applied")
        #expect(ahead.checkpoint == "2.x")
        #expect(ahead.push.isEmpty && ahead.assumedKnowledge == nil && ahead.unverified == nil)
        #expect(ahead.replica == first.request.replica && ahead.counter == first.request.counter)
        #expect(ahead.limits == first.request.limits)
        // Applied: the replica now holds the answer's checkpoint, and the next round is the one asked ahead.
        #expect(Steps.isRead(loop.next(after: Steps.exchanged(more: true))))
        let second = try #require(Steps.exchange(loop.next(after: Self.read(checkpoint: "2.x"))))
        #expect(second.prefetched)
        #expect(second.request == ahead)
        #expect(loop.inFlight == nil)
        // The last page asks nothing ahead, and the sync ends without a page to drop.
        #expect(try #require(Self.apply(loop.next(after: Self.answered(more: false, checkpoint: "3.x")))).prefetch == nil)
        #expect(Steps.isRead(loop.next(after: Steps.exchanged())))
        #expect(try #require(Steps.finished(loop.next(after: Self.read(checkpoint: "3.x")))).roundTrips == 2)
    }

    @Test("with prefetching off no page is asked ahead")
    func off() throws {
        var configuration = Synchronizer.Configuration()
        configuration.prefetchPages = false
        var loop = Steps.loop(configuration)
        _ = loop.start()
        _ = loop.next(after: Self.read())
        #expect(try #require(Self.apply(loop.next(after: Self.answered(more: true)))).prefetch == nil)
        #expect(Steps.isRead(loop.next(after: Steps.exchanged(more: true))))
        #expect(try #require(Steps.exchange(loop.next(after: Self.read(checkpoint: "2.x")))).prefetched == false)
    }

    @Test("an answer that stops the sync or changes the next request asks nothing ahead")
    func stopAnswers() throws {
        let ownFork = Rejection(dot: Dot(replica: Self.me, counter: 4), reason: .fork, message: "forked", quarantined: false)
        let cases: [(name: String, configuration: Synchronizer.Configuration, read: SyncLoop.Event, answer: SyncLoop.Event)] = [
            ("no more pages", .init(), Self.read(), Self.answered(more: false)),
            ("a restart: the checkpoint was foreign and reset", .init(), Self.read(), Self.answered(more: true, reset: true)),
            ("a fork of this replica", .init(), Self.read(), Self.answered(more: true, rejected: [ownFork])),
            ("a push beyond this request", .init(), Self.read(push: [Steps.version(Self.me, 6)], hasMore: true), Self.answered(more: true)),
            ("the round-trip limit", .init(maxRoundTrips: 1), Self.read(), Self.answered(more: true)),
            ("the byte budget", .init(byteBudget: 6_000), Self.read(), Self.answered(more: true, bytes: 2_000)),
        ]
        for (name, configuration, firstRead, answer) in cases {
            var loop = Steps.loop(configuration)
            _ = loop.start()
            _ = try #require(Steps.exchange(loop.next(after: firstRead)), "\(name)")
            #expect(try #require(Self.apply(loop.next(after: answer)), "\(name)").prefetch == nil, "\(name)")
            #expect(loop.inFlight == nil, "\(name)")
        }
    }

    @Test("with a byte budget the page asked ahead has the next round's bounds, and the next round takes it")
    func budgetBounds() throws {
        let started = try Self.prefetching(.init(pageLimits: PageLimits(versions: 100, bytes: 1 << 20), byteBudget: 100_000))
        var steps = started.0
        let ahead = started.1
        // 2 x 100 bytes spent: 99,800 left, half of it each way.
        #expect(ahead.limits.bytes == 49_900)
        _ = steps.next(after: Steps.exchanged(more: true))
        #expect(try #require(Steps.exchange(steps.next(after: Self.read(checkpoint: "2.x")))).prefetched)
    }

    @Test("the page in flight is dropped, never applied, when the round after the apply asks something else")
    func dropsOnAnotherRequest() throws {
        let report = VerificationReport(dot: Dot(replica: Steps.other, counter: 2), reason: .badSignature)
        let reads: [(name: String, read: SyncLoop.Event)] = [
            ("a verification failure to report", Self.read(checkpoint: "2.x", reports: [report])),
            ("another checkpoint (another process applied a page)", Self.read(checkpoint: "9.x")),
            ("another replica id (another process took an incarnation)", Self.read(checkpoint: "2.x", replica: Steps.other)),
            ("a version written meanwhile to push", Self.read(checkpoint: "2.x", push: [Steps.version(Self.me, 6)])),
        ]
        for (name, event) in reads {
            let started = try Self.prefetching()
            var loop = started.0
            let ahead = started.1
            _ = loop.next(after: Steps.exchanged(more: true))
            #expect(Self.isDiscard(loop.next(after: event)), "\(name)")
            let fresh = try #require(Steps.exchange(loop.next(after: .discarded(bytesSent: 40, bytesReceived: 60))), "\(name)")
            #expect(!fresh.prefetched, "\(name)")
            #expect(fresh.request != ahead, "\(name)")
            #expect(loop.inFlight == nil, "\(name)")
            // What the dropped page cost counts against a budget.
            #expect(loop.summary.bytesSent == 140 && loop.summary.bytesReceived == 160, "\(name)")
        }
    }

    @Test("the page in flight is dropped before a fork found in the applied page is dealt with")
    func dropsBeforeAFork() throws {
        var (loop, _) = try Self.prefetching()
        let evidence = Steps.version(Self.me, 3)
        let found = loop.next(
            after: Steps.exchanged(more: true, pulled: 1, pulledForks: [evidence.dot], admitted: [evidence]))
        #expect(Self.isDiscard(found))
        guard case .proveFork(let fork) = loop.next(after: .discarded(bytesSent: 0, bytesReceived: 0)) else {
            Issue.record("the fork is proven once the page in flight is dropped")
            return
        }
        #expect(fork.rejection.dot == evidence.dot)
    }

    @Test("the page in flight is dropped before the sync fails")
    func dropsBeforeFailing() throws {
        var (loop, _) = try Self.prefetching()
        let push = [Steps.version(Self.me, 6)]
        // The same push answered three more times without progress: the fourth plan fails the sync.
        // Each answer asks the next page ahead, and each is dropped: the round after it pushes.
        for _ in 0..<3 {
            _ = loop.next(after: Steps.exchanged(more: true))
            #expect(Self.isDiscard(loop.next(after: Self.read(checkpoint: "2.x", push: push))))
            #expect(Steps.exchange(loop.next(after: .discarded(bytesSent: 0, bytesReceived: 0))) != nil)
            #expect(Self.apply(loop.next(after: Self.answered(more: true)))?.prefetch != nil)
        }
        _ = loop.next(after: Steps.exchanged(more: true))
        #expect(Self.isDiscard(loop.next(after: Self.read(checkpoint: "2.x", push: push))))
        #expect(Steps.failure(loop.next(after: .discarded(bytesSent: 0, bytesReceived: 0)))?.code == .stalled)
    }
}
