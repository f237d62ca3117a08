public import SyncEngine

/// A device enrolled at a hub, as its registry holds it.
public struct DeviceRecord: Sendable, Hashable {
    /// Whether a device may still sync.
    public enum Status: String, Sendable, Hashable, Codable {
        case active
        case revoked
    }

    public var replicaID: ReplicaID
    public var name: String
    public var publicKey: PublicDeviceKey
    public var status: Status
    /// Milliseconds since 1970.
    public var enrolledAt: UInt64
    public var revokedAt: UInt64?
    /// When the device last exchanged with the hub.
    public var lastSeenAt: UInt64?
    /// How many versions of the hub's feed lay beyond the device's checkpoint at its last pull.
    public var lastLag: Int?
    /// The device's clock minus the hub's at its last exchange, in milliseconds.
    public var lastSkewMilliseconds: Int64?
    /// How many versions the device said wait to be pushed, at its last exchange.
    public var lastPending: Int?
    /// The device's further replica ids, oldest first: new incarnations it took after forks,
    /// bound to the same enrollment (key and credential). ``replicaID`` is the enrolled one.
    public var incarnations: [ReplicaID] = []
    /// What the device may read and write.
    public var grants: AccessGrants = .everything

    /// Whether `replica` is this device: its enrolled id or one of its incarnations.
    public func isIncarnation(_ replica: ReplicaID) -> Bool {
        replica == replicaID || incarnations.contains(replica)
    }

    public init(
        replicaID: ReplicaID, name: String, publicKey: PublicDeviceKey, status: Status, enrolledAt: UInt64,
        revokedAt: UInt64? = nil, lastSeenAt: UInt64? = nil, lastLag: Int? = nil, lastSkewMilliseconds: Int64? = nil,
        grants: AccessGrants = .everything
    ) {
        self.replicaID = replicaID
        self.name = name
        self.publicKey = publicKey
        self.status = status
        self.enrolledAt = enrolledAt
        self.revokedAt = revokedAt
        self.lastSeenAt = lastSeenAt
        self.lastLag = lastLag
        self.lastSkewMilliseconds = lastSkewMilliseconds
        self.grants = grants
    }
}

/// What became of an enrollment attempt.
public enum EnrollmentOutcome: Sendable, Hashable {
    /// The device is enrolled under this name.
    case enrolled(name: String)
    /// No code with that hash was ever given out.
    case unknownCode
    /// The code expired before it was used.
    case expired
    /// The code was already used.
    case used
    /// The replica id is already enrolled.
    case alreadyEnrolled
    /// The replica id is the hub's own or one of its writer ids: a device enrolled under it would
    /// speak for the hub's versions (and revoking it would set a horizon on them). (Any other
    /// origin the hub holds versions of is an enrolled device's, its signatures checked.)
    case idInUse
}

/// What became of a revocation.
public enum RevocationOutcome: Sendable, Hashable {
    case revoked(DeviceRecord)
    /// No active device has that name or replica id.
    case notFound
    /// Several active devices have that name: revoke by replica id.
    case ambiguous([DeviceRecord])
}

/// What became of a device's request for a new incarnation.
public enum IncarnationOutcome: Sendable, Hashable {
    /// The new id is bound to the device, now known under these ids (the enrolled one first).
    case bound(name: String, incarnations: [ReplicaID])
    /// The id is already in use at the hub (a device, an incarnation, or an origin of versions).
    case taken
    /// The device is not enrolled (or was revoked).
    case unknownDevice
    /// The device holds ``IncarnationRequest/maxIncarnationsPerDevice`` incarnations already.
    case tooMany(limit: Int)
}
