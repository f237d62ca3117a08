import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
@testable import SyncHub
import Testing

/// The hub's answer to an exchange as a pure step: scripted plans and pages, no storage; each test
/// asserts which pages it asks for and what it answers.
@Suite("Exchange answer step")
struct ExchangeAnswerTests {
    static let device = StepFixtures.a
    static let other = StepFixtures.b
    static let hub = StepFixtures.c
    static let third = StepFixtures.d
    static let receiptKey = AdmissionReceiptKey(signingKey: Data(repeating: 7, count: 32))

    static func version(_ origin: ReplicaID, _ counter: UInt64, context: VersionVector = VersionVector()) -> Version {
        StepFixtures.version(origin, counter, context: context)
    }

    static func request(
        push: [Version] = [], counter: UInt64 = 3, assumed: VersionVector? = nil, limits: PageLimits = PageLimits(),
        understoodReasons: [Rejection.Reason]? = nil
    ) -> SyncRequest {
        var request = SyncRequest(
            replica: device, counter: counter, checkpoint: nil, push: push, assumedKnowledge: assumed, limits: limits)
        request.understoodReasons = understoodReasons
        return request
    }

    static func record(grants: AccessGrants = .everything) -> DeviceRecord {
        DeviceRecord(
            replicaID: device, name: "field", publicKey: DeviceKey().publicKey, status: .active, enrolledAt: 1, grants: grants)
    }

    static let position = FeedPosition(sequence: 40, dot: Dot(replica: other, counter: 9))
    static let end = FeedPosition(sequence: 50, dot: Dot(replica: other, counter: 10))

    static func page(
        _ versions: [Version] = [], hasMore: Bool = false, restarted: Bool = false, knowledge: VersionVector = [device: 3]
    ) -> FeedPage {
        FeedPage(versions: versions, end: end, hasMore: hasMore, restarted: restarted, knowledge: knowledge)
    }

    static func answering(
        _ request: SyncRequest, device: DeviceRecord? = nil, push: HubExchange.PushOutcome = .init(),
        plan: PullPlan = PullPlan(after: position, grantsChanged: false, fingerprint: nil),
        limits: HubConfiguration.Limits = .init()
    ) -> ExchangeAnswer {
        ExchangeAnswer(
            request: request, device: device, push: push, plan: plan, hub: hub, receiptKey: receiptKey, limits: limits)
    }

    static func query(_ step: ExchangeAnswer.Step) -> PageQuery? {
        if case .read(let query) = step { return query }
        return nil
    }

    static func answer(_ step: ExchangeAnswer.Step) -> ExchangeAnswer.Answer? {
        if case .answer(let answer) = step { return answer }
        return nil
    }

    @Test("the first page goes on from the plan, bounded by the request and the hub's limits")
    func firstQuery() throws {
        var limits = HubConfiguration.Limits()
        limits.maxPageVersions = 100
        limits.maxPageBytes = 10_000
        limits.maxScannedPerPage = 700
        let pushed = [Self.version(Self.other, 4)]
        let request = Self.request(
            push: pushed, assumed: [Self.third: 2], limits: PageLimits(versions: 1_000, bytes: 500))
        let query = try #require(Self.query(Self.answering(request, limits: limits).start()))
        #expect(query.after == Self.position)
        #expect(query.through == nil)
        #expect(query.limit == 100)
        #expect(query.maxBytes == 500)
        #expect(query.maxScanned == 700)
        #expect(query.knowledgeOf == [Self.device, Self.other, Self.third])
        #expect(query.filter.reader == Self.device)
        #expect(query.filter.readerCounter == 3)
        #expect(query.filter.readScope == .everything)
        #expect(query.filter.alreadyRead == nil)
        // A request asking for nothing still gets a page of one.
        let tiny = Self.request(limits: PageLimits(versions: 0, bytes: -5))
        let bounded = try #require(Self.query(Self.answering(tiny).start()))
        #expect(bounded.limit == 1 && bounded.maxBytes == 1)
    }

    @Test("a device's read scope filters its page")
    func readScope() throws {
        let scope = try #require(Scope(text: "notes/north"))
        let device = Self.record(grants: AccessGrants(read: scope, write: .nothing))
        let query = try #require(Self.query(Self.answering(Self.request(), device: device).start()))
        #expect(query.filter.readScope == scope)
    }

    @Test("a page answers the checkpoint after it, the knowledge delta, and what to attach")
    func plainAnswer() throws {
        var answering = Self.answering(Self.request(push: [Self.version(Self.other, 4)], counter: 3))
        let pulled = [Self.version(Self.third, 1, context: [Self.other: 7])]
        let answer = try #require(
            Self.answer(answering.next(after: Self.page(pulled, hasMore: true, knowledge: [Self.device: 3, Self.other: 7, Self.third: 1]))))
        let response = answer.response
        #expect(response.hub == Self.hub)
        #expect(response.more)
        #expect(!response.checkpointReset)
        #expect(response.checkpoint == PullCheckpoint(position: Self.end, grants: nil).text)
        // The pushed origin, the device itself, and an origin a pulled context names beyond the page.
        #expect(response.knowledge == [Self.device: 3, Self.other: 7])
        #expect(response.versions.map(\.dot) == pulled.map(\.dot))
        #expect(response.versions.allSatisfy { Self.receiptKey.vouches(for: $0) })
        #expect(response.grants == nil)
        #expect(answer.attachesTrust)
        #expect(answer.ownLatest == nil)
        #expect(answer.record == nil)
        #expect(answer.facts.pulled == 1 && answer.facts.more && !answer.facts.checkpointReset)
    }

    @Test("an empty page attaches no trust material")
    func emptyPage() throws {
        var answering = Self.answering(Self.request())
        let answer = try #require(Self.answer(answering.next(after: Self.page())))
        #expect(!answer.attachesTrust)
        #expect(answer.response.knowledge == [Self.device: 3])
        #expect(!answer.response.more)
    }

    @Test("the hub holding more of the requester than its counter sends back its latest version")
    func ownLatest() throws {
        var answering = Self.answering(Self.request(counter: 3))
        let answer = try #require(Self.answer(answering.next(after: Self.page(knowledge: [Self.device: 8]))))
        #expect(answer.ownLatest == Dot(replica: Self.device, counter: 8))
    }

    @Test("a checkpoint this hub never gave out restarts the pull and says so")
    func foreignCheckpoint() throws {
        var answering = Self.answering(Self.request(), plan: .foreign(grantsChanged: false, fingerprint: nil))
        let answer = try #require(Self.answer(answering.next(after: Self.page())))
        #expect(answer.response.checkpointReset)
        #expect(answer.facts.checkpointReset)
    }

    @Test("a catch-up whose page restarted is read again from the start, as a pull of everything in scope")
    func catchUpStartsOver() throws {
        let scope = try #require(Scope(text: "notes"))
        let device = Self.record(grants: AccessGrants(read: scope, write: .nothing))
        let until = Self.position
        let north = try #require(Scope(text: "notes/north"))
        let plan = PullPlan(
            after: .start, through: until, alreadyRead: north, resendsOwn: true,
            backfill: PullCheckpoint.Backfill(until: until, previousGrants: "earlier"), grantsChanged: true,
            fingerprint: "now")
        var answering = Self.answering(Self.request(), device: device, plan: plan)
        let first = try #require(Self.query(answering.start()))
        #expect(first.through == until)
        #expect(first.filter.alreadyRead != nil)
        let again = try #require(Self.query(answering.next(after: Self.page(restarted: true))))
        #expect(again.after == .start)
        #expect(again.through == nil)
        #expect(again.filter.alreadyRead == nil)
        #expect(answering.startedOver)
        // The second page is a reset even when the storage did not restart it, and it is not read a third time.
        let answer = try #require(Self.answer(answering.next(after: Self.page([Self.version(Self.other, 1)]))))
        #expect(answer.response.checkpointReset)
        #expect(answer.response.grants == device.grants)
        #expect(answer.response.checkpoint == PullCheckpoint(position: Self.end, grants: "now").text)
        // Recorded from the start: the catch-up was dropped.
        #expect(answer.record?.pulledAfter == 0)
    }

    @Test("a catch-up that goes on answers its own checkpoint and records where the pull goes on after")
    func catchUpGoesOn() throws {
        let until = Self.position
        let plan = PullPlan(
            after: .start, through: until, alreadyRead: .nothing, resendsOwn: true,
            backfill: PullCheckpoint.Backfill(until: until, previousGrants: "earlier"), grantsChanged: true,
            fingerprint: "now")
        var answering = Self.answering(Self.request(), device: Self.record(), plan: plan)
        let answer = try #require(Self.answer(answering.next(after: Self.page(hasMore: false))))
        #expect(!answer.response.checkpointReset)
        // The catch-up is done: the pull goes on from where it was, and more follows.
        #expect(answer.response.checkpoint == PullCheckpoint(position: until, grants: "now").text)
        #expect(answer.response.more)
        #expect(answer.record?.pulledAfter == 40)
    }

    @Test("gap rejections go only to clients that understand them, in dot order")
    func gapRejections() throws {
        var push = HubExchange.PushOutcome()
        push.gaps = [Dot(replica: Self.other, counter: 6)]
        push.rejected = [
            Rejection(dot: Dot(replica: Self.third, counter: 2), reason: .invalidRecord, message: "bad", quarantined: true),
            Rejection(dot: Dot(replica: Self.device, counter: 9), reason: .badSignature, message: "bad", quarantined: true),
        ]
        var older = Self.answering(Self.request(), push: push)
        let old = try #require(Self.answer(older.next(after: Self.page())))
        #expect(old.response.rejected.map(\.reason) == [.invalidRecord, .badSignature])
        var newer = Self.answering(Self.request(understoodReasons: [.gap]), push: push)
        let new = try #require(Self.answer(newer.next(after: Self.page(knowledge: [Self.device: 3, Self.other: 4]))))
        #expect(new.response.rejected.map(\.dot) == [push.rejected[1].dot, push.gaps[0], push.rejected[0].dot])
        let gap = try #require(new.response.rejected.first { $0.reason == .gap })
        #expect(gap.heldCounter == 4)
        #expect(new.facts.rejected.count == 3)
    }

    @Test("a device gets its grants when they changed, and its exchange is recorded under its enrolled id")
    func deviceRecord() throws {
        let device = Self.record()
        var unchanged = Self.answering(Self.request(), device: device)
        #expect(try #require(Self.answer(unchanged.next(after: Self.page()))).response.grants == nil)
        var request = Self.request()
        request.replica = Self.third
        request.sentAt = 5_000
        request.pending = -3
        var changed = Self.answering(
            request, device: device, plan: PullPlan(after: Self.position, grantsChanged: true, fingerprint: nil))
        let answer = try #require(Self.answer(changed.next(after: Self.page())))
        #expect(answer.response.grants == .everything)
        let record = try #require(answer.record)
        #expect(record.replica == Self.device)
        #expect(record.pulledAfter == 40)
        #expect(record.pending == 0)
        #expect(record.skew(now: 4_000) == 1_000)
        #expect(record.skew(now: 7_000) == -2_000)
        request.pending = SyncRequest.maxPending + 5
        var huge = Self.answering(request, device: device)
        #expect(try #require(Self.answer(huge.next(after: Self.page()))).record?.pending == SyncRequest.maxPending)
    }

    @Test("the log line says what the exchange did")
    func facts() throws {
        var push = HubExchange.PushOutcome()
        push.taken = 4
        push.accepted = 3
        push.refused = 1
        push.merged = 2
        var answering = Self.answering(Self.request(), push: push)
        let answer = try #require(Self.answer(answering.next(after: Self.page([Self.version(Self.other, 1)], hasMore: true))))
        let metadata = answer.facts.metadata
        #expect(metadata["sync.peer"] == "\(Self.device.hex)")
        #expect(metadata["sync.pushed"] == "4")
        #expect(metadata["sync.accepted"] == "3")
        #expect(metadata["sync.refused"] == "1")
        #expect(metadata["sync.merged"] == "2")
        #expect(metadata["sync.pulled"] == "1")
        #expect(metadata["sync.more"] == "true")
        #expect(metadata["sync.checkpointReset"] == "false")
        #expect(answer.response.accepted == 3)
    }
}
