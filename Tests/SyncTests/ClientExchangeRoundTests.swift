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
        #expect(outcome.setAside.values.first?.contains("too big") == true)
        #expect(outcome.fork?.counter == 6)
        #expect(outcome.pushedTaken == 1)
    }
}
