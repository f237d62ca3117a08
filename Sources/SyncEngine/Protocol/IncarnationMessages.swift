/// A device's request for a new incarnation (`POST /v1/incarnate`, with its credential): its
/// replica forked, and it goes on under `replica`, bound to the same device and enrollment.
public struct IncarnationRequest: Codable, Sendable, Hashable {
    /// The new replica id (random, never used at the hub).
    public var replica: ReplicaID
    /// The first divergent dot the hub named, for the operators' record.
    public var forkedAt: Dot?

    public init(replica: ReplicaID, forkedAt: Dot? = nil) {
        self.replica = replica
        self.forkedAt = forkedAt
    }
}

/// The hub's answer: the new id is bound to the device `name`, whose ids are now `incarnations`
/// (the enrolled one first).
public struct IncarnationResponse: Codable, Sendable, Hashable {
    public var replica: ReplicaID
    public var name: String
    public var incarnations: [ReplicaID]

    public init(replica: ReplicaID, name: String, incarnations: [ReplicaID]) {
        self.replica = replica
        self.name = name
        self.incarnations = incarnations
    }
}
