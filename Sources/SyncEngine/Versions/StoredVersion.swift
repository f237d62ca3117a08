/// A version as a replica holds it, with where it came from.
public struct StoredVersion: Sendable, Hashable {
    public var version: Version
    /// The local arrival order; increases with every version stored.
    public var sequence: Int64
    /// The peer that delivered it; nil for this replica's own writes.
    public var receivedFrom: ReplicaID?
    /// Why it was set aside (rejected by the network); nil for a version in good standing.
    public var setAsideReason: SetAsideReason?
    /// The body was dropped after the hub acknowledged the version (delete after receipt): the
    /// version's body is nil but it is not a tombstone.
    public var bodyDropped: Bool
    /// The body is held sealed but does not open under the replica's data key (altered on disk,
    /// or moved from another row): the version's body is nil. Only a replica's check of every stored version (`fieldcli verify`)
    /// reads such a row; any other read of it fails.
    public var bodyUnopened: Bool

    public init(
        version: Version, sequence: Int64, receivedFrom: ReplicaID?, setAsideReason: SetAsideReason?, bodyDropped: Bool = false,
        bodyUnopened: Bool = false
    ) {
        self.version = version
        self.sequence = sequence
        self.receivedFrom = receivedFrom
        self.setAsideReason = setAsideReason
        self.bodyDropped = bodyDropped
        self.bodyUnopened = bodyUnopened
    }
}

/// Whether a version's signature checks out against its origin's key.
public enum SignatureStatus: String, Sendable, Hashable, Codable {
    case valid
    case invalid
    /// This replica does not hold the origin's public key yet.
    case unknownKey = "unknown-key"
}
