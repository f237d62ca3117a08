import ReplicaStore
import SyncEngine

/// The decisions of one sync's exchange loop, with no I/O: what to do next from what the last
/// step found. ``Synchronizer`` performs each ``Action`` (reads the replica, exchanges and
/// commits, proves a fork, takes an incarnation) and feeds back what came of it as an ``Event``;
/// the loop's rules live here, where tests drive them with scripted events.
///
/// The rules: the first round always goes (a pull); later rounds go while pages wait (`more`),
/// after a checkpoint reset, or while versions are left to push or failures to report. A push
/// whose origin the hub refused as a gap waits for a later sync from that counter on. The same
/// push answered three more times without progress stops the sync (`stalled`); a pulled page in
/// between counts as progress. A fork of this replica's own id makes it take a new incarnation,
/// at most three times in one sync. With a byte budget, each round asks for at most half of what
/// remains each way, and no round starts once less than ``Synchronizer/smallestRound`` remains.
/// The loop stops after ``Synchronizer/Configuration/maxRoundTrips``.
///
/// Pages are pipelined, one deep: when an answer says more waits, and nothing in it stops the
/// sync (a checkpoint reset, a fork of this replica, the round-trip limit, the byte budget, a push
/// or reports left over), the loop asks for the next page from the answer's checkpoint while this
/// answer is verified and applied (``Action/apply(_:)``). That request is the one the next round
/// would send if the replica reads as expected after the commit; the next round uses its answer
/// only if the request it plans is exactly that one. Otherwise, and before any other action
/// (finish, fail, a fork, a redone round), the page in flight is dropped (``Action/discardPrefetch``)
/// and nothing of it is applied. The checkpoint is saved only with a page applied, as before.
struct SyncLoop: Sendable {
    /// What the synchronizer does next.
    enum Action: Sendable {
        /// Read the replica in one snapshot: the exchange base for the hub, at most `pushVersions`
        /// versions of about `pushBytes` bytes that the hub lacks by it, and at most `reports`
        /// unreported verification failures. Answered with ``Event/read(_:)``.
        case read(pushVersions: Int, pushBytes: Int, reports: Int)
        /// Send the request (with the time it is sent and, when `countsPending`, how many versions
        /// wait beyond the push), verify the answer, and commit its outcome in one transaction.
        /// Answered with ``Event/answered(_:)``. When ``Exchange/prefetched``, the request is the one
        /// already sent ahead: wait for its answer instead of sending it again.
        case exchange(Exchange)
        /// Verify the answer and commit its outcome in one transaction; first, when the apply carries
        /// a ``Apply/prefetch`` request, send it without waiting for its answer (the page in flight).
        /// Answered with ``Event/exchanged(_:)``, or ``Event/replicaChanged`` when the commit found
        /// a new incarnation taken by another process.
        case apply(Apply)
        /// Drop the page in flight: cancel its request, apply nothing of it. Answered with
        /// ``Event/discarded(bytesSent:bytesReceived:)``, after which the loop gives the action it
        /// had decided on.
        case discardPrefetch
        /// Check that the hub's version at the fork's dot is signed by this replica's key and
        /// differs from the one held here (a failure ends the sync). Answered with ``Event/forkProven(_:)``.
        case proveFork(Fork)
        /// Bind a new incarnation at the hub and re-issue this replica's versions from the fork
        /// point under it. Answered with ``Event/incarnated(_:)``.
        case incarnate(Fork)
        /// The loop is over; the summary of its round trips.
        case finish(SyncSummary)
        /// The loop stops with this error.
        case fail(SyncClientError)
    }

    /// What came of an action.
    enum Event: Sendable {
        case read(Read)
        /// The hub's answer to the exchange, not yet verified or applied.
        case answered(TransportReply)
        case exchanged(Exchanged)
        /// The page in flight was dropped; what it cost on the wire when its answer had come
        /// (0 when it was cancelled before).
        case discarded(bytesSent: Int, bytesReceived: Int)
        /// Another process took a new incarnation while the round was in flight: nothing of the
        /// answer was applied.
        case replicaChanged
        case forkProven(Fork)
        /// The new incarnation's id.
        case incarnated(ReplicaID)
    }

    /// What a read of the replica found.
    struct Read: Sendable {
        var base: ExchangeBase
        /// The replica's id as the base holds it (else the store's).
        var replica: ReplicaID
        /// Versions the hub lacks by the base's belief.
        var batch: VersionBatch
        /// Verification failures not yet reported to the hub.
        var reports: [VerificationReport]
    }

    /// One round to carry out.
    struct Exchange: Sendable {
        /// The round's plan; its outcome is computed from the answer.
        var round: ExchangeRound
        /// The request to send: the round's, with the verification failures it reports.
        var request: SyncRequest
        /// The failures it reports, marked reported when the round commits.
        var reports: [VerificationReport]
        /// More versions wait to be pushed than this request carries: the request says how many.
        var countsPending: Bool
        /// The request was sent ahead while the previous page was applied: its answer is awaited,
        /// not sent again.
        var prefetched = false
    }

    /// An answer to verify and apply.
    struct Apply: Sendable {
        /// The round it answers.
        var exchange: Exchange
        var reply: TransportReply
        /// The request for the next page, to send before this answer is verified and applied.
        var prefetch: SyncRequest?
    }

    /// What a committed round did.
    struct Exchanged: Sendable {
        /// The replica id the round was planned for.
        var replica: ReplicaID
        /// The answering hub.
        var hub: ReplicaID
        var outcome: ExchangeRound.Outcome
        /// Versions in the answer's page, verified or not.
        var pulled: Int
        /// Rejections in the answer.
        var rejected: Int
        /// Pulled versions kept apart for failing verification.
        var keptApart: Int
        /// The pulled versions applied (the evidence of a pulled fork).
        var admitted: [Version]
        /// Pulled dots held here with another signature.
        var pulledForks: [Dot]
        /// Documents forgotten outside the read scope.
        var forgotten: Int
        var bytesSent: Int
        var bytesReceived: Int
    }

    /// A fork of this replica to deal with.
    struct Fork: Sendable, Hashable {
        /// The hub's rejection, or one made of a pulled version, with its evidence.
        var rejection: Rejection
        /// The replica id the round was planned for.
        var replica: ReplicaID
        /// The hub that reported it.
        var hub: ReplicaID
    }

    let configuration: Synchronizer.Configuration
    /// The hub's name in the replica, for error messages.
    let peer: String
    /// The round trips so far.
    private(set) var summary = SyncSummary()
    /// More versions wait at the hub.
    private(set) var more = false
    /// Incarnations taken in this sync.
    private(set) var incarnations = 0
    /// Origins the hub refused as gaps in this sync, with the lowest refused counter: their
    /// versions from there on wait for a later sync (another replica, or the origin, fills the
    /// gap), so this one does not stall on them.
    private(set) var gaps: [ReplicaID: UInt64] = [:]
    private var previousPush: [Dot] = []
    private var fruitlessRounds = 0
    /// What is left of the byte budget when the round began; nil without a budget.
    private var remaining: Int?
    private var pageLimits: PageLimits
    /// The round sent and not yet applied.
    private var current: Exchange?
    /// The request sent ahead whose answer is not taken yet.
    private(set) var inFlight: SyncRequest?
    /// The action decided on while a page was in flight, given once it is dropped.
    private var afterDiscard: Action?

    /// A fork stops the sync after this many incarnations in one run (another process may race it).
    static let maxIncarnations = 3
    /// The same push answered this many more times without progress stops the sync.
    static let maxFruitlessRounds = 3

    init(configuration: Synchronizer.Configuration, peer: String) {
        self.configuration = configuration
        self.peer = peer
        self.pageLimits = configuration.pageLimits
    }

    /// The first action of a sync.
    mutating func start() -> Action {
        beginRound()
    }

    /// The action that follows `event`.
    mutating func next(after event: Event) -> Action {
        settle(decide(after: event))
    }

    /// Drops the page in flight before any action but a read (which decides whether it is the next
    /// round's), the exchange that takes its answer, or the apply that sends it.
    private mutating func settle(_ action: Action) -> Action {
        guard inFlight != nil else { return action }
        switch action {
        case .read, .apply, .discardPrefetch:
            return action
        case .exchange(let exchange) where exchange.prefetched:
            return action
        default:
            afterDiscard = action
            return .discardPrefetch
        }
    }

    private mutating func decide(after event: Event) -> Action {
        switch event {
        case .read(let read):
            return plan(read)
        case .answered(let reply):
            guard let exchange = current else {
                return .fail(SyncClientError(.badAnswer, "The sync loop was given an answer it did not ask for."))
            }
            inFlight = prefetch(after: reply, of: exchange)
            return .apply(Apply(exchange: exchange, reply: reply, prefetch: inFlight))
        case .discarded(let sent, let received):
            inFlight = nil
            summary.bytesSent += sent
            summary.bytesReceived += received
            defer { afterDiscard = nil }
            return afterDiscard ?? beginRound()
        case .exchanged(let exchanged):
            return take(exchanged)
        case .replicaChanged:
            // The round is redone under the new id.
            summary.roundTrips += 1
            return restart()
        case .forkProven(let fork):
            guard fork.rejection.dot.replica == fork.replica, incarnations < Self.maxIncarnations else {
                return .fail(
                    SyncClientError(
                        .forked,
                        "This replica has forked at dot \(fork.rejection.dot) (it was restored from a backup or copied to another machine); its versions from there on are kept here but the hub refuses them."
                    ))
            }
            return .incarnate(fork)
        case .incarnated:
            incarnations += 1
            return restart()
        }
    }

    private mutating func beginRound() -> Action {
        guard summary.roundTrips < configuration.maxRoundTrips else { return .finish(summary) }
        remaining = configuration.remaining(after: summary)
        let bounds = configuration.bounds(remaining: remaining)
        pageLimits = bounds.page
        return .read(pushVersions: configuration.pushVersions, pushBytes: bounds.pushBytes, reports: Synchronizer.reportsPerExchange)
    }

    private mutating func plan(_ read: Read) -> Action {
        let push = read.batch.versions.filter { version in gaps[version.dot.replica].map { version.dot.counter < $0 } ?? true }
        // Saved with the page that reset the checkpoint: a cut link or a restart keeps the step.
        let sendAssumedKnowledge = read.base.peer.sendAssumedKnowledge
        if summary.roundTrips > 0 && push.isEmpty && !sendAssumedKnowledge && !more && read.reports.isEmpty {
            return .finish(summary)
        }
        if let remaining, remaining < Synchronizer.smallestRound {
            summary.budgetSpent = true
            return .finish(summary)
        }
        // A hub that takes pushed versions answers with knowledge covering them; the same push
        // answered again and again without progress means the hub will not take them.
        let pushDots = push.map(\.dot)
        fruitlessRounds = !pushDots.isEmpty && pushDots == previousPush ? fruitlessRounds + 1 : 0
        if fruitlessRounds >= Self.maxFruitlessRounds, let first = pushDots.first {
            return .fail(
                SyncClientError(
                    .stalled,
                    "The hub at \(peer) keeps refusing versions from \(first) on without saying why; they are kept here, and the hub operator should check its log."
                ))
        }
        previousPush = pushDots
        let round = ExchangeRound(
            replica: read.replica, base: read.base, push: push, limits: pageLimits,
            sendAssumedKnowledge: sendAssumedKnowledge)
        var request = round.request
        request.unverified = read.reports.isEmpty ? nil : read.reports
        var exchange = Exchange(round: round, request: request, reports: read.reports, countsPending: read.batch.hasMore)
        // The page in flight is this round's when this round asks exactly what was asked ahead.
        if let inFlight, inFlight == request, !exchange.countsPending {
            exchange.prefetched = true
            self.inFlight = nil
        }
        current = exchange
        return .exchange(exchange)
    }

    /// The request for the page after `reply`, to send while `reply` is verified and applied; nil
    /// when the answer or the loop's bounds stop the sync or change the next request: no more
    /// pages, a checkpoint reset (the next round sends the assumed knowledge), a fork of this
    /// replica (the sync takes an incarnation), a push or reports beyond this request (the next
    /// round carries them), the round-trip limit, or a byte budget with less than
    /// ``Synchronizer/smallestRound`` left. The request is the next round's as ``plan(_:)`` would
    /// make it: this one's, from the answer's checkpoint, pulling only, within the next round's
    /// bounds.
    private func prefetch(after reply: TransportReply, of exchange: Exchange) -> SyncRequest? {
        let response = reply.response
        guard configuration.prefetchPages, response.more, !response.checkpointReset, !exchange.countsPending,
            exchange.reports.count < Synchronizer.reportsPerExchange,
            !response.rejected.contains(where: { $0.reason == .fork && $0.origin == exchange.round.replica })
        else { return nil }
        var after = summary
        after.roundTrips += 1
        after.bytesSent += reply.bytesSent
        after.bytesReceived += reply.bytesReceived
        guard after.roundTrips < configuration.maxRoundTrips else { return nil }
        let remaining = configuration.remaining(after: after)
        if let remaining, remaining < Synchronizer.smallestRound { return nil }
        var request = exchange.round.request
        request.checkpoint = response.checkpoint
        request.push = []
        request.assumedKnowledge = nil
        request.unverified = nil
        request.limits = configuration.bounds(remaining: remaining).page
        return request
    }

    private mutating func take(_ exchanged: Exchanged) -> Action {
        current = nil
        summary.documentsForgotten += exchanged.forgotten
        summary.unverified += exchanged.keptApart
        summary.roundTrips += 1
        summary.bytesSent += exchanged.bytesSent
        summary.bytesReceived += exchanged.bytesReceived
        summary.versionsPushed += exchanged.outcome.pushedTaken
        summary.versionsPulled += exchanged.pulled
        summary.rejected += exchanged.rejected
        if let fork = Self.firstFork(
            of: exchanged.outcome, pulledForks: exchanged.pulledForks, page: exchanged.admitted, replica: exchanged.replica)
        {
            return .proveFork(Fork(rejection: fork, replica: exchanged.replica, hub: exchanged.hub))
        }
        if exchanged.pulled > 0 { previousPush = [] }
        gaps.merge(exchanged.outcome.gaps) { min($0, $1) }
        more = exchanged.outcome.more
        return beginRound()
    }

    /// The fork to act on: the hub's `fork` rejection, or a dot of this replica's own id that the
    /// page brought with another signature than the version held here (the other copy's version of
    /// the shared id came back, e.g. while a restored replica recovers its versions), whichever is
    /// first. The pulled version is the evidence, checked like a rejection's.
    static func firstFork(
        of outcome: ExchangeRound.Outcome, pulledForks: [Dot], page: [Version], replica: ReplicaID
    ) -> Rejection? {
        var first = outcome.fork
        for dot in pulledForks where dot.replica == replica && first.map({ dot < $0.dot }) ?? true {
            var rejection = Rejection(
                dot: dot, reason: .fork,
                message: "The hub sent \(dot) with another signature than the version held here.", quarantined: false)
            rejection.evidence = page.first { $0.dot == dot }
            first = rejection
        }
        return first
    }

    /// Goes on after the replica's id changed: another round, whatever the last one said.
    private mutating func restart() -> Action {
        more = true
        previousPush = []
        fruitlessRounds = 0
        return beginRound()
    }
}
