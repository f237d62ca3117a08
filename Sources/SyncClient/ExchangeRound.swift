public import ReplicaStore
public import SyncEngine

/// One round of the exchange, planned without I/O: the request to send, and what the answer
/// changes. The ``Synchronizer`` reads the replica, sends, and applies the ``Outcome`` in one
/// transaction.
public struct ExchangeRound: Sendable, Hashable {
    /// The client replica.
    public let replica: ReplicaID
    /// The replica's state when the round was planned.
    public let base: ExchangeBase
    /// The request to send.
    public let request: SyncRequest

    /// Plans a round: push `push` (versions the hub lacks by `base.peer.knowledge`), pull from the
    /// saved checkpoint. `sendAssumedKnowledge` is set for the round right after the hub reset the
    /// checkpoint (a restored hub), so that it answers every origin it holds less of than believed.
    ///
    /// The request's `counter` is the highest own version the replica holds: while a replica
    /// restored from a backup recovers its later versions (its counter is already raised), the hub
    /// keeps sending back those it lacks.
    public init(
        replica: ReplicaID, base: ExchangeBase, push: [Version], limits: PageLimits, sendAssumedKnowledge: Bool
    ) {
        self.replica = replica
        self.base = base
        var request = SyncRequest(
            replica: replica, counter: min(base.counter, base.heldCounter), checkpoint: base.peer.checkpoint,
            push: push, assumedKnowledge: sendAssumedKnowledge ? base.peer.knowledge : nil, limits: limits)
        request.understoodReasons = Rejection.Reason.added
        self.request = request
    }

    /// What an answer changes.
    public struct Outcome: Sendable, Hashable {
        /// The new belief of what the hub holds.
        public var knowledge: VersionVector
        /// The checkpoint to save with the page.
        public var checkpoint: String
        /// Pushed versions the hub rejected, to set aside, with the reason shown in status.
        public var setAside: [Dot: SetAsideReason]
        /// Raise the replica's counter to at least this, when the hub holds more of it than it knows.
        public var raiseCounter: UInt64?
        /// The first divergent dot when the hub reported this replica forked.
        public var fork: Rejection?
        /// Pushed versions the hub holds after the round and did not reject.
        public var pushedTaken: Int
        /// Their dots: own versions among them set aside as rejected earlier are taken back (a hub
        /// restored from a backup, or with wider grants now, accepted them).
        public var taken: [Dot] = []
        /// The next round must send the whole belief of the hub's knowledge.
        public var sendAssumedKnowledgeNext: Bool
        /// More versions wait at the hub.
        public var more: Bool
        /// Origins the hub refused as gaps or implausible contexts, with the lowest refused counter: not set aside, pushed
        /// again by a later sync (this one cannot fill the gap).
        public var gaps: [ReplicaID: UInt64] = [:]
    }

    /// How far the belief of the hub's entry for this replica's own id may rise: only as far as this
    /// replica has seen its own versions confirmed, so that a hub holding more (a replica restored
    /// from a backup may have written those dots again) gets the unconfirmed ones pushed and finds
    /// the fork if their contents differ. Own versions pushed confirm their dots up to the first the
    /// hub did not store (a quarantined version is stored), so a dot written again is pushed until
    /// its fork is dealt with, even if the answer that named the fork was lost. Pulled own versions
    /// (up to `ownPulled`) confirm only once every own version held without a hole is confirmed:
    /// one pulled above an unpushed one must not hide it.
    func confirmedOwnCounter(response: SyncResponse, ownPulled: UInt64) -> UInt64 {
        let notStored = Set(response.rejected.filter { Self.notStored.contains($0.reason) }.map(\.dot))
        var confirmed = base.peer.knowledge[replica]
        for version in request.push where version.dot.replica == replica {
            if notStored.contains(version.dot) { break }
            confirmed = max(confirmed, version.dot.counter)
        }
        return confirmed >= base.heldCounter ? max(confirmed, ownPulled) : confirmed
    }

    /// Rejection reasons of pushed versions the hub did not store.
    static let notStored: Set<Rejection.Reason> = [.fork, .gap, .implausibleContext]

    /// What `response` changes.
    ///
    /// The hub's knowledge entries in the answer replace the belief (a restored hub may hold less
    /// than believed, which makes the client push again from there). An entry the answer must
    /// carry (this replica, every pushed origin, every assumed origin) that is absent means 0:
    /// vectors cannot carry a zero entry. (For an assumed origin the hub holds all of, a hub that
    /// leaves the entry out only costs a push of what it already holds, ignored as duplicates.)
    /// Entries then rise with the versions just pulled.
    ///
    /// When the page was verified, the hub's word about this replica's own versions counts only as
    /// far as it proves it: `applied` are the pulled versions that passed verification, and only own
    /// versions among them, or `provenCounter` (the counter of ``SyncResponse/ownLatest`` once its
    /// signature by this replica's key checked), raise the counter. A hub claiming to hold more of
    /// this replica than it wrote (a compromised hub answering `2^63-1`) can then neither exhaust its
    /// counter nor stop it from pushing. With `applied` nil the answer is taken as it is.
    public func outcome(of response: SyncResponse, applied: [Version]? = nil, provenCounter: UInt64 = 0) -> Outcome {
        let pulled = applied ?? response.versions
        var knowledge = base.peer.knowledge
        var guaranteed = Set(request.push.map(\.dot.replica))
        guaranteed.insert(replica)
        if let assumed = request.assumedKnowledge { guaranteed.formUnion(assumed.entries.keys) }
        for origin in guaranteed { knowledge[origin] = response.knowledge[origin] }
        for (origin, counter) in response.knowledge.entries { knowledge[origin] = counter }
        let ownPulled = pulled.lazy.filter { $0.dot.replica == replica }.map(\.dot.counter).max() ?? 0
        let hubHolds = applied == nil ? max(response.knowledge[replica], ownPulled) : max(ownPulled, provenCounter)
        knowledge[replica] = min(knowledge[replica], confirmedOwnCounter(response: response, ownPulled: ownPulled))
        for version in pulled where version.dot.replica != replica { knowledge.add(version.dot) }

        var setAside: [Dot: SetAsideReason] = [:]
        var fork: Rejection?
        var gaps: [ReplicaID: UInt64] = [:]
        // A hub rejects what it was pushed; a rejection of anything else (a version pulled, or
        // one of this replica's own never pushed) would set aside what the hub never saw.
        let pushed = Set(request.push.map(\.dot))
        for rejection in response.rejected where pushed.contains(rejection.dot) {
            if rejection.reason == .fork, rejection.origin == replica {
                if fork.map({ rejection.dot < $0.dot }) ?? true { fork = rejection }
            } else if rejection.reason == .fork {
                // Another origin's version relayed from here, where the hub holds another version
                // signed at the same dot: that origin forked (a restored hub or a copied device).
                // This copy is kept but set aside; the origin's own incarnation re-issues it.
                setAside[rejection.dot] = SetAsideReason(
                    .forkedOrigin, "set aside: the hub holds another version at \(rejection.dot) (its origin forked)")
            } else if rejection.reason == .gap {
                // Not stored: the hub lacks what comes before it. Not set aside.
                gaps[rejection.origin] = min(gaps[rejection.origin] ?? rejection.counter, rejection.counter)
            } else if rejection.reason == .implausibleContext {
                // Not taken, not set aside: pushed again by a later sync, once the hub holds what it
                // names (a restored hub may lack a dependency this replica does not hold either).
                gaps[rejection.origin] = min(gaps[rejection.origin] ?? rejection.counter, rejection.counter)
            } else {
                setAside[rejection.dot] = SetAsideReason.rejected(rejection)
            }
        }
        let rejectedDots = Set(response.rejected.map(\.dot)).intersection(pushed)
        let taken = request.push.filter { !rejectedDots.contains($0.dot) && knowledge.contains($0.dot) }.map(\.dot)

        return Outcome(
            knowledge: knowledge, checkpoint: response.checkpoint, setAside: setAside,
            raiseCounter: hubHolds > base.counter ? hubHolds : nil, fork: fork, pushedTaken: taken.count, taken: taken,
            sendAssumedKnowledgeNext: response.checkpointReset, more: response.more, gaps: gaps)
    }
}
