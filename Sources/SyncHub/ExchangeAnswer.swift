import HubStore
import Logging
import SyncEngine

/// What the hub answers to one exchange once its push was taken, decided with no I/O: which page
/// of the feed to read (and whether to read it again from the beginning), the knowledge delta, the
/// rejections, what to attach, and the facts recorded for operators, the metrics and the log.
/// ``HubExchange`` reads the pages it asks for and carries out the ``Answer``.
struct ExchangeAnswer: Sendable {
    /// What the exchange does next.
    enum Step: Sendable {
        /// Read this page of the feed, its versions and knowledge in one snapshot, and feed it back.
        case read(PageQuery)
        /// Carry out the answer.
        case answer(Answer)
    }

    /// The answer to send and what goes with it.
    struct Answer: Sendable {
        /// The response, before the trust material and the requester's latest version are attached.
        var response: SyncResponse
        /// The page brings versions: attach the certificates of their origins' keys (and the hub's)
        /// and the revocation notices.
        var attachesTrust: Bool
        /// The hub holds more of the requester's own id than its request's counter: the version at
        /// this dot goes back as ``SyncResponse/ownLatest``.
        var ownLatest: Dot?
        /// What is recorded of the device's exchange; nil without a device.
        var record: ExchangeRecord?
        /// What the metrics count and the log line says.
        var facts: Facts
        /// The hub's counters of origins the page's contexts name that the response vouches for
        /// only up to the page's claims (``knowledgeDelta(_:request:readsEverything:)``):
        /// ``vouchInFull(_:)`` answers those the device may read in full.
        var partialVouches = VersionVector()

        /// Answers the hub's whole counter of the partially vouched origins among `readable`
        /// (authors the device may read), as for any other device.
        mutating func vouchInFull(_ readable: Set<ReplicaID>) {
            for (origin, held) in partialVouches.entries where readable.contains(origin) {
                response.knowledge[origin] = held
            }
            partialVouches = VersionVector()
        }
    }

    /// What the device registry records of an exchange (last seen, lag, clock skew, backlog).
    struct ExchangeRecord: Sendable, Hashable {
        /// The device's enrolled id (the request may speak for a later incarnation).
        var replica: ReplicaID
        /// The feed position the pull started from (during a catch-up, where it goes on after).
        var pulledAfter: Int64
        /// The device's clock when it sent the request, in milliseconds since 1970.
        var sentAt: UInt64?
        /// Versions the device says wait to be pushed, bounded.
        var pending: Int?

        /// The device's clock ahead of the hub's (`now`, in milliseconds since 1970), if it said.
        func skew(now: UInt64) -> Int64? {
            sentAt.map { Int64(clamping: $0) &- Int64(clamping: now) }
        }
    }

    /// The figures of one exchange.
    struct Facts: Sendable, Hashable {
        var peer: ReplicaID
        /// Pushed versions left after revoked and forged ones were taken out.
        var pushed: Int
        var accepted: Int
        var rejected: [Rejection]
        var refused: Int
        var merged: Int
        var pulled: Int
        var more: Bool
        var checkpointReset: Bool

        /// The exchange's log line metadata.
        var metadata: Logger.Metadata {
            [
                "sync.peer": "\(peer.hex)", "sync.pushed": "\(pushed)", "sync.accepted": "\(accepted)",
                "sync.rejected": "\(rejected.count)", "sync.refused": "\(refused)", "sync.merged": "\(merged)",
                "sync.pulled": "\(pulled)", "sync.more": "\(more)", "sync.checkpointReset": "\(checkpointReset)",
            ]
        }
    }

    let request: SyncRequest
    /// The device the request's credential belongs to; nil for a request without one (tests and
    /// simulations), which reads everything.
    let device: DeviceRecord?
    /// The requester's grants.
    let grants: AccessGrants
    let push: HubExchange.PushOutcome
    let hub: ReplicaID
    let receiptKey: AdmissionReceiptKey
    let limits: HubConfiguration.Limits
    private(set) var plan: PullPlan
    /// The pull was made a pull of everything in scope from the start.
    private(set) var startedOver = false

    init(
        request: SyncRequest, device: DeviceRecord?, push: HubExchange.PushOutcome, plan: PullPlan, hub: ReplicaID,
        receiptKey: AdmissionReceiptKey, limits: HubConfiguration.Limits
    ) {
        self.request = request
        self.device = device
        self.grants = device?.grants ?? .everything
        self.push = push
        self.plan = plan
        self.hub = hub
        self.receiptKey = receiptKey
        self.limits = limits
    }

    /// The first page to read.
    func start() -> Step {
        .read(pageQuery())
    }

    /// What follows a page read.
    ///
    /// A page from a checkpoint this hub did not give out restarts from the beginning. A catch-up
    /// (a widened read scope) from such a checkpoint (the hub was restored from a backup) is read
    /// again as a pull of everything in scope from the start: what the device read under its
    /// earlier grants was another feed, so it passes over nothing.
    mutating func next(after page: FeedPage) -> Step {
        var page = page
        if startedOver {
            page.restarted = true
            return .answer(answer(page))
        }
        if plan.isForeign { page.restarted = true }
        if page.restarted, plan.alreadyRead != nil {
            plan.startOver()
            startedOver = true
            return .read(pageQuery())
        }
        return .answer(answer(page))
    }

    /// The page the request asks for under the plan: never the reader's own pushes back, within
    /// its read scope, with the knowledge of every pushed and assumed origin and of the reader.
    func pageQuery() -> PageQuery {
        var origins = Set(request.push.map(\.dot.replica))
        origins.insert(request.replica)
        if let assumed = request.assumedKnowledge { origins.formUnion(assumed.entries.keys) }
        return PageQuery(
            after: plan.after, through: plan.through,
            limit: min(max(1, request.limits.versions), limits.maxPageVersions),
            maxBytes: min(max(1, request.limits.bytes), limits.maxPageBytes),
            maxScanned: limits.maxScannedPerPage,
            knowledgeOf: origins,
            filter: FeedFilter(
                readScope: grants.read, alreadyRead: plan.alreadyRead, reader: request.replica,
                readerCounter: request.counter, resendsOwn: plan.resendsOwn))
    }

    /// The answer to `page`.
    func answer(_ page: FeedPage) -> Answer {
        let next = plan.checkpoint(after: page)
        var rejected = push.rejected
        if !push.gaps.isEmpty, request.understoodReasons?.prefix(16).contains(.gap) == true {
            rejected += Self.gapRejections(push.gaps, held: page.knowledge)
            rejected.sort { $0.dot < $1.dot }
        }
        let knowledge = Self.knowledgeDelta(page, request: request, readsEverything: grants.read == .everything)
        var response = SyncResponse(
            hub: hub, knowledge: knowledge.delta,
            accepted: push.accepted, rejected: rejected, versions: page.versions.map(receiptKey.withReceipt),
            checkpoint: next.text, more: next.more, checkpointReset: page.restarted)
        if !push.receipts.isEmpty { response.receipts = push.receipts }
        // The device's grants, when they changed since its checkpoint: it forgets what it may no longer read.
        if device != nil, plan.grantsChanged || page.restarted { response.grants = grants }
        let held = page.knowledge[request.replica]
        let pulledAfter = plan.backfill?.until ?? plan.after
        return Answer(
            response: response, attachesTrust: !page.versions.isEmpty,
            ownLatest: held > request.counter ? Dot(replica: request.replica, counter: held) : nil,
            record: device.map { device in
                ExchangeRecord(
                    replica: device.replicaID, pulledAfter: max(0, pulledAfter.sequence), sentAt: request.sentAt,
                    pending: request.pending.map { min(max(0, $0), SyncRequest.maxPending) })
            },
            facts: Facts(
                peer: request.replica, pushed: push.taken, accepted: push.accepted, rejected: rejected,
                refused: push.refused, merged: push.merged, pulled: page.versions.count, more: page.hasMore,
                checkpointReset: page.restarted),
            partialVouches: knowledge.partialVouches)
    }

    /// The entries of the hub's knowledge the client must update: every pushed origin, the
    /// client's own id, and every assumed origin (the protocol requires those the hub holds less
    /// of; answering all of them spares the client re-pushing what the hub holds). An entry absent
    /// from the delta while its origin was pushed or assumed means the hub holds nothing of it:
    /// vectors carry no zero entries. The request's assumed and pushed origins are those the
    /// device may learn the counters of: ``HubExchange`` drops the others before this step sees
    /// them (``HubExchange/answerable(_:push:from:)``).
    ///
    /// It also vouches for the dots the page's contexts name beyond the page itself: a device with
    /// a read scope never holds versions outside it, and admits a pulled version only when what
    /// its context names is held there, in the page, or vouched for by the hub. For an origin that
    /// authors a version of the page, or to a device that reads everything (`readsEverything`),
    /// the vouch is the hub's whole counter; for any other, only the highest counter the page's
    /// contexts claim (what the admission needs, and what the device reads in those contexts
    /// anyway), and the hub's counter goes to `partialVouches`: a context may name an author
    /// outside the device's read scope, whose counter (how active that observer is) it must not
    /// learn, so ``HubExchange`` answers in full only the authors the device may read.
    static func knowledgeDelta(
        _ page: FeedPage, request: SyncRequest, readsEverything: Bool
    ) -> (delta: VersionVector, partialVouches: VersionVector) {
        let knowledge = page.knowledge
        var delta = VersionVector()
        var inPage = VersionVector()
        for version in page.versions { inPage.add(version.dot) }
        var claims = VersionVector()
        for version in page.versions {
            for (origin, claimed) in version.context.entries where claimed > inPage[origin] {
                claims[origin] = max(claims[origin], claimed)
            }
        }
        var answered = Set(request.push.map(\.dot.replica))
        answered.insert(request.replica)
        if let assumed = request.assumedKnowledge { answered.formUnion(assumed.entries.keys) }
        for origin in answered { delta[origin] = knowledge[origin] }
        var partialVouches = VersionVector()
        for (origin, claimed) in claims.entries where !answered.contains(origin) {
            if readsEverything || inPage[origin] > 0 || claimed >= knowledge[origin] {
                delta[origin] = knowledge[origin]
            } else {
                delta[origin] = claimed
                partialVouches[origin] = knowledge[origin]
            }
        }
        return (delta, partialVouches)
    }

    /// The rejections of pushed versions refused as gaps (`held`: the hub's knowledge after the
    /// push). Older clients set aside a reason they do not know, so only clients that list `gap`
    /// get them; the others learn where to push from by the knowledge delta alone.
    static func gapRejections(_ gaps: [Dot], held: VersionVector) -> [Rejection] {
        gaps.map { dot in
            var rejection = Rejection(
                dot: dot, reason: .gap,
                message: "Not stored: the hub holds replica \(dot.replica.short) only up to counter \(held[dot.replica]); its versions from \(held[dot.replica] + 1) on are needed first.",
                quarantined: false)
            rejection.heldCounter = held[dot.replica]
            return rejection
        }
    }
}
