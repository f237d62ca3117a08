import Foundation
import Synchronization
public import Logging
public import ReplicaStore
public import SyncEngine

/// The exchange loop of one replica with its hub: push what the hub lacks, pull pages until
/// nothing is left, each page applied in one transaction with its checkpoint.
///
/// Every step is a transaction of its own and idempotent, so a cut link costs at most the page in
/// flight, and two syncs of one replica at once (a retry while the first still runs) are safe:
/// the hub ignores duplicates, re-applying a page changes nothing, and a belief or checkpoint that
/// goes back only makes the next round push or pull again.
public struct Synchronizer: Sendable {
    /// Bounds of the loop.
    public struct Configuration: Sendable, Hashable {
        /// How large a pulled page may be.
        public var pageLimits: PageLimits
        /// At most this many versions in one push.
        public var pushVersions: Int
        /// About this many bytes of versions in one push.
        public var pushBytes: Int
        /// The loop stops after this many round trips (a later sync continues).
        public var maxRoundTrips: Int
        /// Retries of one round trip.
        public var retry: RetryPolicy
        /// Whether pulled versions are checked against their origins' keys. Off only to measure
        /// what verification costs (vigil-bench); never a user-facing option.
        public var verifySignatures: Bool
        /// The most bytes the sync may move on the wire, both ways (a paid link); nil for no bound.
        /// Documents go first, attachments with what is left; no round trip or chunk starts once
        /// it is spent, and each round asks for at most half of what remains each way.
        public var byteBudget: Int?
        /// Whether the next page is asked for while one is verified and applied (one page in
        /// flight ahead; see ``SyncLoop``). Off only to measure what pipelining gains, and in tests.
        package var prefetchPages = true

        public init(
            pageLimits: PageLimits = PageLimits(), pushVersions: Int = 1_000, pushBytes: Int = 512 * 1024,
            maxRoundTrips: Int = 10_000, retry: RetryPolicy = RetryPolicy(), verifySignatures: Bool = true,
            byteBudget: Int? = nil
        ) {
            self.pageLimits = pageLimits
            self.pushVersions = max(1, pushVersions)
            self.pushBytes = max(1, pushBytes)
            self.maxRoundTrips = max(1, maxRoundTrips)
            self.retry = retry
            self.verifySignatures = verifySignatures
            self.byteBudget = byteBudget.map { max(0, $0) }
        }

        /// What is left of the budget after `summary`'s bytes; nil without a budget.
        func remaining(after summary: SyncSummary) -> Int? {
            byteBudget.map { max(0, $0 - summary.bytesSent - summary.bytesReceived) }
        }

        /// The push and page bounds of the next round: at most half of what remains each way.
        func bounds(remaining: Int?) -> (pushBytes: Int, page: PageLimits) {
            guard let remaining else { return (pushBytes, pageLimits) }
            var page = pageLimits
            page.bytes = max(1, min(page.bytes, remaining / 2))
            return (max(1, min(pushBytes, remaining / 2)), page)
        }
    }

    public let store: ReplicaStore
    public let transport: any SyncTransport
    /// The name the hub is kept under in the replica (its URL).
    public let peer: String
    public let configuration: Configuration
    let logger: Logger
    /// Called with each answer before it is verified and applied (after the next page was asked
    /// for, when it is); a throw fails the sync there, as a failed apply would. For tests.
    package var beforeApplying: (@Sendable (SyncResponse) async throws -> Void)?

    public init(
        store: ReplicaStore, transport: any SyncTransport, peer: String, configuration: Configuration = Configuration(),
        logger: Logger
    ) {
        self.store = store
        self.transport = transport
        self.peer = peer
        self.configuration = configuration
        self.logger = logger
    }

    /// This synchronizer with a byte budget of `bytes` (``Configuration/byteBudget``).
    public func withByteBudget(_ bytes: Int?) -> Synchronizer {
        var configuration = self.configuration
        configuration.byteBudget = bytes.map { max(0, $0) }
        var budgeted = Synchronizer(store: store, transport: transport, peer: peer, configuration: configuration, logger: logger)
        budgeted.beforeApplying = beforeApplying
        return budgeted
    }

    /// Exchanges until nothing is left to push or pull (or ``Configuration/maxRoundTrips``).
    ///
    /// Throws ``SyncClientError`` (the hub or the link failed; the failure is also kept as the
    /// peer's last error for status) or ``StoreError``. Progress is reported after each round trip.
    @discardableResult
    public func run(progress: (@Sendable (SyncProgress) -> Void)? = nil) async throws -> SyncSummary {
        let started = ContinuousClock.now
        var summary = SyncSummary()
        do {
            try await loop(summary: &summary, progress: progress)
            try await transferAttachments(summary: &summary)
            await fetchInformantKey()
        } catch let error as SyncClientError {
            let message = error.message
            try? store.updatePeer(store.peerName(forHubAt: peer)) { $0.lastError = message }
            summary.seconds = (ContinuousClock.now - started).seconds
            throw error
        }
        summary.seconds = (ContinuousClock.now - started).seconds
        return summary
    }

    /// Performs what ``SyncLoop`` decides, one action at a time, and feeds back what came of it.
    ///
    /// The page asked for ahead (at most one) is its own task, so that dropping it cancels it
    /// alone (a task group's `cancelAll()` would also cancel every page asked ahead later). It is
    /// cancelled and awaited on every way out of the loop: a drop, a failure, a cancellation of
    /// the sync (also while its answer is awaited); nothing of it is applied unless a round takes it.
    private func loop(summary: inout SyncSummary, progress: (@Sendable (SyncProgress) -> Void)?) async throws {
        var steps = SyncLoop(configuration: configuration, peer: peer)
        var action = steps.start()
        var ahead: Task<TransportReply, any Error>?
        do {
            while true {
                switch action {
                case .read(let pushVersions, let pushBytes, let reports):
                    try Task.checkCancellation()
                    action = steps.next(after: .read(try read(pushVersions: pushVersions, pushBytes: pushBytes, reports: reports)))
                case .exchange(let exchange):
                    let reply: TransportReply
                    if exchange.prefetched, let asked = ahead {
                        ahead = nil
                        reply = try await withTaskCancellationHandler { try await asked.value } onCancel: { asked.cancel() }
                    } else {
                        reply = try await send(exchange)
                    }
                    action = steps.next(after: .answered(reply))
                case .apply(let apply):
                    if let prefetch = apply.prefetch {
                        let synchronizer = self
                        ahead = Task { try await synchronizer.send(prefetch, countingPending: false, knowledge: VersionVector()) }
                    }
                    action = try await self.apply(apply, steps: &steps, progress: progress)
                case .discardPrefetch:
                    ahead?.cancel()
                    // An answer that came before the cancellation was paid for on the wire.
                    let dropped = try? await ahead?.value
                    ahead = nil
                    action = steps.next(
                        after: .discarded(bytesSent: dropped?.bytesSent ?? 0, bytesReceived: dropped?.bytesReceived ?? 0))
                case .proveFork(let fork):
                    try checkProof(of: fork.rejection)
                    action = steps.next(after: .forkProven(fork))
                case .incarnate(let fork):
                    let next = try await takeIncarnation(forkAt: fork.rejection.dot, hub: fork.hub)
                    logger.notice(
                        "this replica had forked at \(fork.rejection.dot); it continues as \(next.hex)",
                        metadata: ["sync.peer": "\(peer)", "sync.forkedAt": "\(fork.rejection.dot)", "sync.incarnation": "\(next.hex)"])
                    action = steps.next(after: .incarnated(next))
                case .finish(let done):
                    summary = done
                    return
                case .fail(let error):
                    throw error
                }
            }
        } catch {
            if let ahead {
                ahead.cancel()
                _ = await ahead.result
            }
            throw error
        }
    }

    /// Verifies and commits an answer, and feeds back what came of it.
    private func apply(
        _ apply: SyncLoop.Apply, steps: inout SyncLoop, progress: (@Sendable (SyncProgress) -> Void)?
    ) async throws -> SyncLoop.Action {
        let exchanged: SyncLoop.Exchanged
        do {
            try await beforeApplying?(apply.reply.response)
            exchanged = try await commit(apply.reply, of: apply.exchange)
        } catch let changed as ReplicaIDChanged {
            // Another process took a new incarnation while this round was in flight: nothing of
            // the answer was applied; the round is redone under the new id.
            logger.notice(
                "this replica took a new incarnation in another process during the round; redoing it",
                metadata: ["sync.peer": "\(peer)", "sync.planned": "\(changed.planned.hex)", "sync.incarnation": "\(changed.current.hex)"])
            return steps.next(after: .replicaChanged)
        }
        let action = steps.next(after: .exchanged(exchanged))
        logger.debug(
            "sync round",
            metadata: [
                "sync.peer": "\(peer)", "sync.pushed": "\(apply.exchange.request.push.count)",
                "sync.pulled": "\(exchanged.pulled)", "sync.more": "\(exchanged.outcome.more)",
                "sync.ahead": "\(apply.prefetch != nil)",
            ])
        progress?(SyncProgress(summary: steps.summary, more: exchanged.outcome.more))
        return action
    }

    /// Reads what a round needs of the replica, in the bounds ``SyncLoop`` gives.
    private func read(pushVersions: Int, pushBytes: Int, reports: Int) throws -> SyncLoop.Read {
        // A peer is its replica id: the hub's state may be kept under an address that reached it before.
        let base = try store.exchangeBase(peer: store.peerName(forHubAt: peer))
        let batch = try store.pushVersions(missingFrom: base.peer.knowledge, limit: pushVersions, maxBytes: pushBytes)
        // Verification failures go to the hub with the next request, and the sync does not end
        // before they have been reported.
        let unreported = try store.unreportedVerificationFailures(limit: reports)
        // The id is the row's: a fork makes the replica go on under a new one.
        return SyncLoop.Read(base: base, replica: base.replica ?? store.replicaID, batch: batch, reports: unreported)
    }

    /// Sends a round's request (with the time it is sent and, when it counts them, the versions
    /// that wait beyond its push).
    private func send(_ exchange: SyncLoop.Exchange) async throws -> TransportReply {
        try await send(exchange.request, countingPending: exchange.countsPending, knowledge: exchange.round.base.peer.knowledge)
    }

    private func send(_ request: SyncRequest, countingPending: Bool, knowledge: VersionVector) async throws -> TransportReply {
        var request = request
        request.sentAt = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        request.pending = countingPending ? max(0, try store.countVersions(missingFrom: knowledge) - request.push.count) : 0
        let horizons = try store.revocationHorizons()
        request.revocationsHeld = horizons.isEmpty ? nil : RevocationNotice.digest(of: horizons)
        return try await self.exchange(request)
    }

    /// Verifies a round's answer and commits its outcome.
    private func commit(_ reply: TransportReply, of exchange: SyncLoop.Exchange) async throws -> SyncLoop.Exchanged {
        let round = exchange.round
        var reply = reply
        try await askMissingCertificates(for: &reply)
        // Verified before anything of the page is shown: what fails is kept apart and reported.
        let verdict = try await verify(reply.response, replica: round.replica)
        let outcome = configuration.verifySignatures
            ? round.outcome(of: reply.response, applied: verdict.admitted, provenCounter: verdict.provenCounter)
            : round.outcome(of: reply.response)
        let committed = try commit(outcome, round: round, reported: exchange.reports, response: reply.response, verdict: verdict)
        return SyncLoop.Exchanged(
            replica: round.replica, hub: reply.response.hub, outcome: outcome, pulled: reply.response.versions.count,
            rejected: reply.response.rejected.count, keptApart: verdict.keptApart.count, admitted: verdict.admitted,
            pulledForks: committed.forks, forgotten: committed.forgotten, bytesSent: reply.bytesSent,
            bytesReceived: reply.bytesReceived)
    }

    /// An answer without certificates (revision 2 of the answer) may bring versions of authors
    /// whose keys this replica does not hold yet: asks the hub for their certificates before the
    /// page is verified, and adds them, and what the request cost, to `reply`. Any failure fails
    /// the round, nothing of it applied: a version kept apart for want of a key is never looked at
    /// again once the checkpoint passes it. A hub that answers revision 2 serves the certificates;
    /// a 404 there (a proxy that forwards only `/v1/sync`, or releases mixed behind one address)
    /// is a bad answer.
    private func askMissingCertificates(for reply: inout TransportReply) async throws {
        let response = reply.response
        guard configuration.verifySignatures, response.certificates == nil, !response.versions.isEmpty else { return }
        let held = try store.publicKeys()
        var asked: Set<ReplicaID> = [response.hub]
        var missing: [ReplicaID] = []
        for version in response.versions where held[version.dot.replica] == nil && asked.insert(version.dot.replica).inserted {
            missing.append(version.dot.replica)
        }
        guard !missing.isEmpty else { return }
        do {
            var certificates: [DeviceCertificate] = []
            for start in stride(from: 0, to: missing.count, by: CertificateRequest.maxReplicas) {
                let fetched = try await transport.certificates(
                    of: Array(missing[start..<min(start + CertificateRequest.maxReplicas, missing.count)]))
                certificates += fetched.certificates
                reply.bytesSent += fetched.bytesSent
                reply.bytesReceived += fetched.bytesReceived
            }
            reply.response.certificates = certificates
        } catch let error as SyncClientError where error.httpStatus == 404 {
            throw SyncClientError(
                .badAnswer,
                "The hub answered without the certificates of \(missing.count) authors' keys and gives none apart (404 at /v1/certificates); nothing of the page was applied.",
                httpStatus: 404)
        }
    }

    /// At most this many verification failures go with one request.
    static let reportsPerExchange = 500

    /// Below this many bytes of budget no round trip starts: its request and answer heads alone
    /// would spend it.
    public static let smallestRound = 2_048

    /// What a commit did.
    struct Committed: Sendable {
        /// Documents forgotten outside the read scope.
        var forgotten: Int
        /// Pulled dots held here with another signature (``ApplyReport/forks``).
        var forks: [Dot]
    }

    /// The round was planned for `planned`, but the replica is `current` now (another process
    /// took a new incarnation): its commit applies nothing, and the round is redone.
    struct ReplicaIDChanged: Error {
        var planned: ReplicaID
        var current: ReplicaID
    }

    /// What of a page is applied and what is kept apart.
    struct Verdict: Sendable {
        /// The versions to apply.
        var admitted: [Version]
        /// The versions kept apart, with why: never shown as a document's state, reported to the hub.
        var keptApart: [(version: Version, reason: VerificationReport.Reason)]
        /// The counter of the hub's ``SyncResponse/ownLatest`` when this replica's key signed it; 0 otherwise.
        var provenCounter: UInt64 = 0
    }

    /// Checks that a fork the hub reports is proven: the hub's version at that dot is signed by this
    /// replica's key and differs from the one held here. Otherwise a compromised hub could make a
    /// replica re-issue its versions at will. Throws ``SyncClientError`` (`untrustedHub`).
    private func checkProof(of fork: Rejection) throws {
        guard configuration.verifySignatures else { return }
        let held = try store.versions(at: [fork.dot]).first
        guard let evidence = fork.evidence, evidence.dot == fork.dot, store.publicKey.isValidSignature(of: evidence),
            let held, held.signature != evidence.signature
        else {
            throw SyncClientError(
                .untrustedHub,
                "The hub at \(peer) reports that this replica forked at \(fork.dot) without a proof signed by its key; nothing was changed, and the hub operator should check the hub.")
        }
    }

    /// Checks a page before it is applied: establishes the authors' keys from the hub's
    /// certificates (against the hub key pinned at enrollment; a held key never changes), takes the
    /// hub's signed revocations, and verifies every pulled version's signature on every core.
    /// Throws ``SyncClientError`` (`untrustedHub`) when the answer comes from a hub this replica did
    /// not pin.
    private func verify(_ response: SyncResponse, replica: ReplicaID) async throws -> Verdict {
        guard configuration.verifySignatures else { return Verdict(admitted: response.versions, keptApart: []) }
        let anchors = PageTrust.Anchors(
            hubs: try store.trustedHubs(), keys: try store.publicKeys(), revocations: try store.revocationHorizons())
        let trust: PageTrust
        do {
            trust = try PageTrust(
                anchors: anchors, hub: response.hub, certificates: response.certificates ?? [],
                revocations: response.revocations ?? [])
        } catch {
            throw SyncClientError(
                .untrustedHub,
                "The hub at \(peer) answered as replica \(response.hub.short), which is not the hub this replica enrolled with; nothing of its answer was applied.")
        }
        try save(trust, hub: response.hub)
        var verdict = Verdict(admitted: [], keptApart: [])
        if let own = response.ownLatest, own.dot.replica == replica, store.publicKey.isValidSignature(of: own) {
            verdict.provenCounter = own.dot.counter
        }
        let failed = await SignatureCheck.failures(of: response.versions, keys: trust.keys)
        for version in response.versions {
            if let reason = trust.keepApartReason(of: version, failedSignatures: failed) {
                verdict.keptApart.append((version, reason))
            } else {
                verdict.admitted.append(version)
            }
        }
        if let first = verdict.keptApart.first {
            logger.warning(
                "pulled versions fail verification; they are kept apart and reported",
                metadata: [
                    "sync.peer": "\(peer)", "sync.unverified": "\(verdict.keptApart.count)",
                    "sync.firstUnverified": "\(first.version.dot)", "sync.reason": "\(first.reason.rawValue)",
                ])
        }
        return verdict
    }

    /// Keeps what a page established: a hub key pinned on first sight (a replica enrolled before
    /// certificates), newly certified keys, revocations.
    private func save(_ trust: PageTrust, hub: ReplicaID) throws {
        if let key = trust.pinOnFirstSight {
            try store.pinHub(hub, key: key)
            logger.notice(
                "pinned the hub's key on first sight; compare its fingerprint with the hub operator's",
                metadata: ["sync.peer": "\(peer)", "sync.hub": "\(hub.hex)", "sync.hubKey": "\(key.fingerprint)"])
        }
        try store.saveCertifiedKeys(trust.newCertificates)
        try store.saveRevocations(trust.revocations)
        if let first = trust.refusedCertificates.first {
            logger.warning(
                "the hub sent key certificates that are not its signature or change a held key; they were refused",
                metadata: ["sync.peer": "\(peer)", "sync.refused": "\(trust.refusedCertificates.count)", "sync.first": "\(first.replica.hex)"])
        }
    }

    /// Binds a new random replica id to this device at the hub, then re-issues this replica's
    /// versions from the fork point under it (one store transaction). A crash in between leaves
    /// only an unused id bound at the hub; the next fork report takes another. The request names
    /// what is about to be re-issued, and what the hub holds of it from another incarnation of
    /// this device (this replica was restored from a backup older than that incarnation) takes
    /// its own version's place instead of being re-issued twice.
    private func takeIncarnation(forkAt dot: Dot, hub: ReplicaID) async throws -> ReplicaID {
        let next = ReplicaID.random()
        let transport = self.transport
        let probes = try store.reissueProbes(forkAt: dot, limit: IncarnationRequest.maxReissuing)
        let request = IncarnationRequest(replica: next, forkedAt: dot, reissuing: probes.isEmpty ? nil : probes)
        let answer = try await configuration.retry.run { try await transport.incarnate(request) }
        // The store takes only versions signed by this replica's key that match an own version.
        try store.takeIncarnation(forkAt: dot, newID: next, reissuedEarlier: answer.reissuedEarlier ?? [], from: hub)
        return next
    }

    /// One round trip with retries of transient failures. A hub that does not know the replica's
    /// id as this device's (restored from a backup older than the incarnation) gets it bound again
    /// through the incarnation endpoint, once, and the round trip is tried again.
    private func exchange(_ request: SyncRequest) async throws -> TransportReply {
        do {
            return try await exchangeRetrying(request)
        } catch let error as SyncClientError where error.code == .unboundIncarnation {
            let transport = self.transport
            let binding = IncarnationRequest(replica: request.replica)
            _ = try await configuration.retry.run { try await transport.incarnate(binding) }
            logger.notice(
                "the hub did not know this replica's id as this device's (restored from a backup?); bound it again",
                metadata: ["sync.peer": "\(peer)", "sync.incarnation": "\(request.replica.hex)"])
            return try await exchangeRetrying(request)
        }
    }

    private func exchangeRetrying(_ request: SyncRequest) async throws -> TransportReply {
        let transport = self.transport
        let logger = self.logger
        let peer = self.peer
        return try await configuration.retry.run(
            onRetry: { error, delay in
                logger.debug(
                    "sync retry",
                    metadata: [
                        "sync.peer": "\(peer)", "sync.error": "\(error.message)",
                        "sync.delay": "\(String(format: "%.1f", delay.seconds))",
                    ])
            },
            { try await transport.exchange(request) })
    }

    /// Applies the page, its checkpoint, the new belief of the hub's knowledge, the rejections, the
    /// counter, the grants (with what they make this replica forget or take back) and the
    /// verification failures that went with the request (`reported`), in one transaction.
    /// Returns how many documents were forgotten and the pulled dots found forked.
    ///
    /// The outcome was planned for the round's replica id: when the replica has another by now
    /// (another process took a new incarnation), nothing is applied and ``ReplicaIDChanged`` is thrown.
    private func commit(
        _ outcome: ExchangeRound.Outcome, round: ExchangeRound, reported: [VerificationReport], response: SyncResponse,
        verdict: Verdict
    ) throws -> Committed {
        let peer = self.peer
        let now = UInt64(max(0, Date().timeIntervalSince1970 * 1000))
        let replica = round.replica
        let forgotten = ForgottenCount()
        let keptApart = verdict.keptApart
        // What the hub vouches exists bounds the pulled contexts (this replica may hold only a
        // read scope's share); its own versions this replica knows itself.
        var vouched = response.knowledge
        vouched[replica] = 0
        let report = try store.apply(
            verdict.admitted, from: response.hub, vouched: vouched, othersForks: .takePeers
        ) { context in
            let current = try context.currentReplicaID()
            guard current == replica else { throw ReplicaIDChanged(planned: replica, current: current) }
            try context.movePeerState(toHubAt: peer)
            try context.keepUnverified(keptApart, at: now)
            if let counter = outcome.raiseCounter { try context.raiseCounter(toAtLeast: counter) }
            // A relayed copy the hub refused as a fork whose dot this page gave the hub's version
            // is kept apart already: the version now at the dot is not the one rejected.
            let replaced = Set(context.report.replacedForks)
            try context.setAside(outcome.setAside.filter { !replaced.contains($0.key) })
            try context.readmit(outcome.taken)
            try context.keepReceipts(response.receipts, of: replica, limit: round.request.push.count)
            try context.markReported(reported, at: now)
            forgotten.value = try context.applyGrants(
                response.grants, from: peer, to: replica, acknowledged: outcome.knowledge[replica])
            try context.updatePeer(peer) { state in
                state.knowledge = outcome.knowledge
                state.checkpoint = outcome.checkpoint
                state.sendAssumedKnowledge = outcome.sendAssumedKnowledgeNext
                state.lastSyncAt = now
                state.lastError = nil
                state.protocolVersion = response.protocolVersion
            }
        }
        if let first = report.replacedForks.first {
            logger.notice(
                "took the hub's versions at dots held here with other contents (their origin forked); the copies held here are kept apart",
                metadata: ["sync.peer": "\(peer)", "sync.replacedForks": "\(report.replacedForks.count)", "sync.firstReplaced": "\(first)"])
        }
        if forgotten.value > 0 {
            logger.notice(
                "forgot documents outside this device's read scope",
                metadata: [
                    "sync.peer": "\(peer)", "sync.forgotten": "\(forgotten.value)",
                    "sync.readScope": "\(response.grants?.read.text ?? "")",
                ])
        }
        return Committed(forgotten: forgotten.value, forks: report.forks)
    }
}

/// A count set inside a store transaction's closure and read after it.
private final class ForgottenCount: Sendable {
    private let count = Mutex(0)

    var value: Int {
        get { count.withLock { $0 } }
        set { count.withLock { $0 = newValue } }
    }
}
