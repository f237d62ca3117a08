import HubStore
import SyncEngine

extension HubExchange {
    /// What taking a push did.
    struct PushOutcome: Sendable {
        /// Versions left after revoked and forged ones were taken out.
        var taken = 0
        /// Versions stored and merged for the first time.
        var accepted = 0
        /// Versions not stored (gaps, implausible contexts, after a fork).
        var refused = 0
        /// Field-by-field merges the hub wrote.
        var merged = 0
        /// Refused versions whose only fault is a gap in their origin's counters.
        var gaps: [Dot] = []
        var rejected: [Rejection] = []
        /// The receipts of the pusher's own versions the hub holds admitted, by counter.
        var receipts: [String: AdmissionReceipt] = [:]
        /// Every revoked replica id and its horizon, as read for the push (nil when nothing was
        /// pushed): what the answer's revocation notices are weighed against.
        var horizons: [ReplicaID: UInt64]?
    }
}

extension HubExchange.PushOutcome {
    /// The dots whose held versions go with the fork rejections of a taken push, as the client's
    /// proof: the forks the storage found, and versions it set aside as a forked origin's.
    static func evidenceWanted(_ report: PushReport) -> [Dot] {
        HubExchange.rejections(forks: report.applied.forks, quarantined: report.applied.setAside)
            .filter { $0.reason == .fork }.map(\.dot)
    }

    /// What taking `push` (checked, in causal order) came to, from the storage's `report`, with no
    /// I/O: `earlier` are the rejections made before the storage saw it (revoked, forged),
    /// `evidence` the held versions at ``evidenceWanted(_:)``. Gaps are the refused versions that
    /// are neither implausible nor after a fork of their origin; the rejections go in dot order;
    /// the pusher's own versions that were admitted get receipts.
    init(
        report: PushReport, push: [Version], pusher: ReplicaID, earlier: [Rejection], evidence: [Version],
        receiptKey: AdmissionReceiptKey
    ) {
        let applied = report.applied
        self.init(taken: push.count, accepted: applied.stored - applied.setAside.count, refused: applied.refused.count)
        merged = report.merged
        let forked = Set(applied.forks.map(\.replica))
        gaps = applied.refused.filter { applied.implausible[$0] == nil && !forked.contains($0.replica) }
        let held = Dictionary(evidence.map { ($0.dot, $0) }) { first, _ in first }
        rejected = earlier
        rejected += HubExchange.rejections(forks: applied.forks, quarantined: applied.setAside).map { rejection in
            var rejection = rejection
            if rejection.reason == .fork { rejection.evidence = held[rejection.dot] }
            return rejection
        }
        rejected += applied.implausible.map { HubExchange.quarantineRejection($0.key, $0.value) }
        rejected += HubExchange.rejections(forks: [], quarantined: report.heldAside)
        rejected.sort { $0.dot < $1.dot }
        let notAdmitted = Set(rejected.map(\.dot)).union(applied.refused)
        receipts = receiptKey.receipts(of: push.filter { $0.dot.replica == pusher && !notAdmitted.contains($0.dot) })
    }
}
