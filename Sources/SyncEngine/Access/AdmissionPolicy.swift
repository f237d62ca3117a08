/// What to do with one received version.
public enum Admission: Sendable, Hashable {
    /// Store it and merge it into its document.
    case merge
    /// Store it but keep it out of its document's state, with the reason.
    case setAside(SetAsideReason)
    /// Do not store it.
    case refuse
}

/// How a hub admits the versions of one push, as a value: what it found before the transaction
/// (signatures that fail, bodies that are not valid records), the write scopes of the push's
/// origins, and the versions that carry its own admission receipt. A storage backend decides each
/// version it does not hold yet with ``decide(_:heldCounter:)`` inside the push's transaction,
/// where the highest counter held of the version's origin is known.
public struct AdmissionPolicy: Sendable, Hashable {
    /// Pushed versions whose signature does not verify against their origin's enrolled key.
    public var badSignatures: [Dot: SetAsideReason]
    /// Pushed versions whose body is not a valid record of their collection.
    public var recordProblems: [Dot: SetAsideReason]
    /// The write scope of each origin that is an enrolled device; an origin without one (the hub's
    /// own writers) is not checked against a scope.
    public var writeScopes: [ReplicaID: Scope]
    /// Versions carrying this hub's own admission receipt: it admitted them before, under grants a
    /// restore may have lost, so their write scope is not checked again.
    public var receipted: Set<Dot>

    public init(
        badSignatures: [Dot: SetAsideReason] = [:], recordProblems: [Dot: SetAsideReason] = [:],
        writeScopes: [ReplicaID: Scope] = [:], receipted: Set<Dot> = []
    ) {
        self.badSignatures = badSignatures
        self.recordProblems = recordProblems
        self.writeScopes = writeScopes
        self.receipted = receipted
    }

    /// Admits everything that comes in order (a replica that checks nothing).
    public static let inOrder = AdmissionPolicy()

    /// Whether `version` is merged, set aside, or refused. Refused: a gap (the hub holds its origin
    /// only up to `heldCounter`, below the counter before it; the pusher is told where to push from).
    /// Set aside, in this order: a bad signature, a write outside its writer's scope, an invalid record.
    public func decide(_ version: Version, heldCounter: UInt64) -> Admission {
        if version.dot.counter > heldCounter + 1 { return .refuse }
        if let reason = badSignatures[version.dot] { return .setAside(reason) }
        if !receipted.contains(version.dot), let scope = writeScopes[version.dot.replica],
            !scope.allows(collection: version.collection, partition: version.partition)
        {
            return .setAside(Self.outOfScope(version, scope: scope))
        }
        if let reason = recordProblems[version.dot] { return .setAside(reason) }
        return .merge
    }

    static func outOfScope(_ version: Version, scope: Scope) -> SetAsideReason {
        SetAsideReason(
            .outOfScope,
            "out of scope: replica \(version.dot.replica.short) may not write \(version.collection) in partition '\(version.partition)' (its write scope is \(scope.text)); ask the hub operator to widen it, or write elsewhere")
    }
}
