import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Testing

/// The pure core of one round: the request it plans and what an answer changes.
@Suite("Client exchange round")
struct ClientExchangeRoundTests {
    let me = ReplicaID(String(repeating: "a", count: 32))!
    let other = ReplicaID(String(repeating: "b", count: 32))!
    let hub = ReplicaID(String(repeating: "c", count: 32))!

    func version(_ origin: ReplicaID, _ counter: UInt64) -> Version {
        Version(
            dot: Dot(replica: origin, counter: counter), collection: CollectionName("notes")!,
            documentID: DocumentID("d\(counter)")!, partition: .default, context: VersionVector(), body: Data("{}".utf8),
            timestamp: HybridTimestamp(wallMilliseconds: counter))
    }

    func round(
        believed: VersionVector, counter: UInt64 = 5, held: UInt64 = 5, push: [Version] = [], assumed: Bool = false
    ) -> ExchangeRound {
        ExchangeRound(
            replica: me,
            base: ExchangeBase(
                peer: PeerState(peer: "hub", knowledge: believed, checkpoint: "7.x"), counter: counter, heldCounter: held),
            push: push, limits: PageLimits(versions: 10, bytes: 1_000), sendAssumedKnowledge: assumed)
    }

    func response(knowledge: VersionVector, versions: [Version] = [], rejected: [Rejection] = []) -> SyncResponse {
        SyncResponse(
            hub: hub, knowledge: knowledge, accepted: 0, rejected: rejected, versions: versions, checkpoint: "9.y",
            more: false)
    }

    @Test("the request carries the checkpoint, the held counter, and the belief only when asked")
    func request() {
        let plain = round(believed: [other: 3], counter: 8, held: 5)
        #expect(plain.request.checkpoint == "7.x")
        #expect(plain.request.counter == 5)
        #expect(plain.request.assumedKnowledge == nil)
        #expect(round(believed: [other: 3], assumed: true).request.assumedKnowledge == [other: 3])
    }

    @Test("the hub's entries replace the belief, absent required entries mean zero, pulls raise it")
    func knowledge() {
        let pushed = [version(other, 4), version(other, 5)]
        let planned = round(believed: [me: 5, other: 5, hub: 2], push: pushed)
        // A restored hub holds less of `other` than believed, and nothing of this replica.
        let outcome = planned.outcome(of: response(knowledge: [other: 2], versions: [version(hub, 3)]))
        #expect(outcome.knowledge == [other: 2, hub: 3])
        #expect(outcome.pushedTaken == 0)
        #expect(outcome.checkpoint == "9.y")
        #expect(outcome.raiseCounter == nil)
    }

    @Test("a hub that holds more of this replica raises its counter; own pulled versions too")
    func counter() {
        let planned = round(believed: [me: 3], counter: 3, held: 3)
        #expect(planned.outcome(of: response(knowledge: [me: 6])).raiseCounter == 6)
        #expect(planned.outcome(of: response(knowledge: [me: 6], versions: [version(me, 7)])).raiseCounter == 7)
        #expect(planned.outcome(of: response(knowledge: [me: 3])).raiseCounter == nil)
    }

    @Test("rejections are set aside with their reason; the first fork is reported")
    func rejections() {
        let pushed = [version(me, 4), version(me, 5), version(me, 6)]
        let planned = round(believed: [me: 3], push: pushed)
        let outcome = planned.outcome(of: response(
            knowledge: [me: 5],
            rejected: [
                Rejection(dot: Dot(replica: me, counter: 4), reason: .invalidRecord, message: "too big", quarantined: true),
                Rejection(dot: Dot(replica: me, counter: 6), reason: .fork, message: "forked", quarantined: false),
            ]))
        #expect(outcome.setAside.keys.map(\.counter) == [4])
        #expect(outcome.setAside.values.first?.code == .rejectedByHub)
        #expect(outcome.setAside.values.first?.detail.contains("too big") == true)
        #expect(outcome.fork?.counter == 6)
        #expect(outcome.pushedTaken == 1)
    }

    /// Schedule (fault seed 31): a replica restored from a backup wrote dot 9 again; its push of 9
    /// met the hub's fork, but the incarnation request after it was cut. Before the fix the push
    /// counted as confirmed and 9 was never pushed again, so the fork was never dealt with.
    @Test("a pushed own version the hub did not store confirms nothing; a quarantined one does")
    func refusedPushConfirmsNothing() {
        let pushed = [version(me, 7), version(me, 8), version(me, 9)]
        let planned = round(believed: [me: 6], counter: 9, held: 9, push: pushed)
        let fork = Rejection(dot: Dot(replica: me, counter: 9), reason: .fork, message: "forked", quarantined: false)
        #expect(planned.outcome(of: response(knowledge: [me: 10], rejected: [fork])).knowledge[me] == 8)
        let gap = Rejection(dot: Dot(replica: me, counter: 8), reason: .gap, message: "gap", quarantined: false)
        #expect(planned.outcome(of: response(knowledge: [me: 7], rejected: [gap])).knowledge[me] == 7)
        let quarantined = Rejection(dot: Dot(replica: me, counter: 8), reason: .outOfScope, message: "no", quarantined: true)
        #expect(planned.outcome(of: response(knowledge: [me: 9], rejected: [quarantined])).knowledge[me] == 9)
    }

    /// Schedule (fault seed 31, the sync after): the restored replica holds 1…9 (9 written again,
    /// never pushed) and believes the hub holds 6; the page brings back its own 10. Before the fix
    /// the pulled 10 raised the belief past 9, which was then never pushed.
    @Test("a pulled own version raises the belief only once every own version held is confirmed")
    func pulledOwnVersionWaitsForUnpushedOnes() {
        let planned = round(believed: [me: 6], counter: 9, held: 9, push: [version(me, 7)])
        #expect(planned.outcome(of: response(knowledge: [me: 10], versions: [version(me, 10)])).knowledge[me] == 7)
        let caughtUp = round(believed: [me: 6], counter: 9, held: 7, push: [version(me, 7)])
        #expect(caughtUp.outcome(of: response(knowledge: [me: 10], versions: [version(me, 10)])).knowledge[me] == 10)
    }

    @Test("a fork of another origin's relayed version sets it aside and is not this replica's fork")
    func relayedForkIsSetAside() {
        let planned = round(believed: [other: 3], push: [version(other, 4)])
        let fork = Rejection(dot: Dot(replica: other, counter: 4), reason: .fork, message: "forked", quarantined: false)
        let outcome = planned.outcome(of: response(knowledge: [other: 4], rejected: [fork]))
        #expect(outcome.fork == nil)
        #expect(outcome.setAside[Dot(replica: other, counter: 4)] != nil)
    }
}
