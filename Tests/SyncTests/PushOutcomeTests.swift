import Foundation
import HubStore
import SyncEngine
@testable import SyncHub
import Testing

/// What a taken push comes to at the hub, decided with no I/O from the storage's report: counts,
/// gaps, rejections in dot order with the fork evidence, receipts of the pusher's admitted versions.
@Suite("Push outcome step")
struct PushOutcomeTests {
    static let pusher = StepFixtures.a
    static let other = StepFixtures.b
    static let forker = StepFixtures.d
    static let receiptKey = AdmissionReceiptKey(signingKey: Data(repeating: 9, count: 32))

    static func dot(_ replica: ReplicaID, _ counter: UInt64) -> Dot { Dot(replica: replica, counter: counter) }

    /// A push of the pusher's 1–4, the other origin's 1–3 and the forker's 5–6, and what the
    /// storage made of it.
    static let push: [Version] =
        (UInt64(1)...4).map { StepFixtures.version(pusher, $0) } + (UInt64(1)...3).map { StepFixtures.version(other, $0) }
        + (UInt64(5)...6).map { StepFixtures.version(forker, $0) }

    static var report: PushReport {
        var applied = ApplyReport()
        applied.stored = 6
        applied.setAside = [
            dot(pusher, 2): SetAsideReason(.invalidRecord, "invalid record: no region"),
            dot(other, 1): SetAsideReason(.forkedOrigin, "the hub holds another version"),
        ]
        applied.forks = [dot(forker, 5)]
        // The forker's 6 after its fork, the other's 3 as a gap, the pusher's 4 as implausible.
        applied.refused = [dot(forker, 6), dot(other, 3), dot(pusher, 4)]
        applied.implausible = [dot(pusher, 4): SetAsideReason(.implausibleContext, "names what the hub lacks")]
        return PushReport(
            applied: applied, merged: 1,
            heldAside: [dot(other, 2): SetAsideReason(.forkedOrigin, "kept apart: a forged origin")])
    }

    static let revoked = Rejection(dot: dot(StepFixtures.c, 9), reason: .revoked, message: "revoked", quarantined: false)

    @Test("the fork evidence wanted: forks and versions set aside as a forked origin's, not those held aside")
    func evidenceWanted() {
        #expect(Set(HubExchange.PushOutcome.evidenceWanted(Self.report)) == [Self.dot(Self.forker, 5), Self.dot(Self.other, 1)])
        #expect(HubExchange.PushOutcome.evidenceWanted(PushReport(applied: ApplyReport())).isEmpty)
    }

    @Test("counts, gaps, rejections in dot order with their evidence, and receipts of the pusher's admitted versions")
    func outcome() throws {
        let evidence = [StepFixtures.version(Self.forker, 5), StepFixtures.version(Self.other, 1)]
        let outcome = HubExchange.PushOutcome(
            report: Self.report, push: Self.push, pusher: Self.pusher, earlier: [Self.revoked], evidence: evidence,
            receiptKey: Self.receiptKey)
        #expect(outcome.taken == 9)
        #expect(outcome.accepted == 4)
        #expect(outcome.refused == 3)
        #expect(outcome.merged == 1)
        // Neither the forker's refusal (after its fork) nor the implausible one is a gap.
        #expect(outcome.gaps == [Self.dot(Self.other, 3)])
        #expect(
            outcome.rejected.map(\.dot) == [
                Self.dot(Self.pusher, 2), Self.dot(Self.pusher, 4), Self.dot(Self.other, 1), Self.dot(Self.other, 2),
                Self.dot(StepFixtures.c, 9), Self.dot(Self.forker, 5),
            ])
        let byDot = Dictionary(outcome.rejected.map { ($0.dot, $0) }) { first, _ in first }
        #expect(byDot[Self.dot(Self.forker, 5)]?.evidence == evidence[0])
        #expect(byDot[Self.dot(Self.other, 1)]?.evidence == evidence[1])
        #expect(byDot[Self.dot(Self.other, 2)]?.reason == .fork)
        #expect(byDot[Self.dot(Self.other, 2)]?.evidence == nil)
        #expect(byDot[Self.dot(Self.pusher, 4)]?.reason == .implausibleContext)
        #expect(byDot[Self.dot(Self.pusher, 2)]?.quarantined == true)
        // Own versions admitted: 1 and 3 (2 quarantined, 4 refused); never another origin's.
        #expect(Set(outcome.receipts.keys) == ["1", "3"])
        #expect(outcome.receipts["1"] == Self.receiptKey.receipt(for: Self.push[0]))
    }

    @Test("a push the storage took whole has no rejections but the earlier ones, and every own version a receipt")
    func clean() {
        var applied = ApplyReport()
        applied.stored = 9
        let outcome = HubExchange.PushOutcome(
            report: PushReport(applied: applied), push: Self.push, pusher: Self.pusher, earlier: [], evidence: [],
            receiptKey: Self.receiptKey)
        #expect(outcome.accepted == 9)
        #expect(outcome.rejected.isEmpty && outcome.gaps.isEmpty)
        #expect(Set(outcome.receipts.keys) == ["1", "2", "3", "4"])
    }
}
