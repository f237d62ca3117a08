import Foundation
import SyncEngine

/// What the PostgreSQL hub decides of one push, version by version, over what it holds (read
/// under the feed's lock before the first decision): no I/O, so ``PostgresHubStorage/take(_:)``
/// only reads, asks, stores and tells it what it stored.
///
/// The rules are the SQLite hub's: an origin that forked in this push has its later versions
/// refused; a dot held with the same signature is already held, with another a fork; a revoked
/// id's version above its horizon is refused; the admission policy decides the rest, and a version
/// it would merge whose context claims what the hub does not hold is quarantined (implausible),
/// while one moving its document to another partition is set aside.
struct PushAdmission {
    /// What one version comes to.
    enum Decision: Equatable {
        /// Nothing to store (refused, already held, a fork, or quarantined as implausible); the
        /// report says which.
        case skip
        /// Store it, set aside for this reason, or in good standing (nil).
        case store(setAside: SetAsideReason?)
    }

    /// The hub's knowledge of the push's origins, raised as versions are stored.
    private(set) var held: VersionVector
    /// The revocation horizons of the push's origins that are revoked.
    let horizons: [ReplicaID: UInt64]
    let plausibility: CausalPlausibility
    let policy: AdmissionPolicy
    /// The signatures the hub holds at the push's dots.
    private var signatures: [Dot: Data]
    /// The partition each pushed document's versions in good standing hold it in.
    private var partitions: [DocumentKey: Partition]
    private var forked = Set<ReplicaID>()
    private(set) var report = ApplyReport()
    /// The origins some version was stored of: their knowledge is raised.
    private(set) var touched = Set<ReplicaID>()

    init(
        versions: [Version], policy: AdmissionPolicy, held: VersionVector, horizons: [ReplicaID: UInt64],
        signatures: [Dot: Data], partitions: [DocumentKey: Partition]
    ) {
        self.held = held
        self.horizons = horizons
        plausibility = CausalPlausibility(held: held, batch: versions)
        self.policy = policy
        self.signatures = signatures
        self.partitions = partitions
    }

    /// Decides `version`, the next of the push in its order; what it skips is in ``report``.
    mutating func decide(_ version: Version) -> Decision {
        let origin = version.dot.replica
        if forked.contains(origin) { return refuse(version) }
        if let signature = signatures[version.dot] {
            if signature == version.signature {
                report.alreadyHeld += 1
            } else {
                report.forks.append(version.dot)
                forked.insert(origin)
            }
            return .skip
        }
        if let horizon = horizons[origin], version.dot.counter > horizon { return refuse(version) }
        var reason: SetAsideReason?
        switch policy.decide(version, heldCounter: held[origin]) {
        case .merge: reason = plausibility.problem(of: version).map(SetAsideReason.implausible)
        case .setAside(let policyReason): reason = policyReason
        case .refuse: return refuse(version)
        }
        if let implausible = reason, implausible.code == .implausibleContext {
            report.implausible[version.dot] = implausible
            return refuse(version)
        }
        if reason == nil, let partition = partitions[version.key], partition != version.partition {
            reason = SetAsideReason(
                .partitionMove, "it moves \(version.key) from partition '\(partition)' to '\(version.partition)'")
        }
        return .store(setAside: reason)
    }

    /// Records that `version`, decided ``Decision/store(setAside:)`` with `reason`, was stored.
    mutating func stored(_ version: Version, setAside reason: SetAsideReason?) {
        let origin = version.dot.replica
        report.stored += 1
        signatures[version.dot] = version.signature
        touched.insert(origin)
        if version.dot.counter > held[origin] { held[origin] = version.dot.counter }
        if let reason {
            report.setAside[version.dot] = reason
        } else {
            partitions[version.key] = version.partition
        }
    }

    /// The pushed versions quarantined as implausible, with why.
    func implausible(among versions: [Version]) -> [(version: Version, reason: SetAsideReason)] {
        versions.compactMap { version in report.implausible[version.dot].map { (version: version, reason: $0) } }
    }

    /// The dots of `versions` the report says nothing of yet: pushed again after a lost answer, what
    /// the hub holds of them set aside is told again.
    func unanswered(among versions: [Version]) -> [Dot] {
        guard report.alreadyHeld > 0 else { return [] }
        let answered = Set(report.setAside.keys).union(report.refused).union(report.forks)
        return versions.map(\.dot).filter { !answered.contains($0) }
    }

    private mutating func refuse(_ version: Version) -> Decision {
        report.refused.append(version.dot)
        return .skip
    }
}
