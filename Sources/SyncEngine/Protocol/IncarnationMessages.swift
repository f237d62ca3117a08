/// A device's request for a new incarnation (`POST /v1/incarnate`, with its credential): its
/// replica forked, and it goes on under `replica`, bound to the same device and enrollment.
public struct IncarnationRequest: Codable, Sendable, Hashable {
    /// The new replica id (random, never used at the hub).
    public var replica: ReplicaID
    /// The first divergent dot the hub named, for the operators' record.
    public var forkedAt: Dot?
    /// The own versions the device is about to re-issue under `replica` (at most
    /// ``maxReissuing``): the hub answers with those another incarnation of the same device
    /// already re-issued (``IncarnationResponse/reissuedEarlier``), so that a replica restored
    /// from a backup older than an incarnation it took does not give the network the same
    /// report twice. Absent from older devices.
    public var reissuing: [ReissueProbe]?

    /// The most probes one request carries; a device with more re-issues the rest as new.
    public static let maxReissuing = 1_000
    /// The most incarnations a hub binds to one device (a device forks when its replica is copied
    /// or restored: a few times in its life). Without a bound, a seized device could bind ids
    /// without end, each multiplying its hourly audit and quarantine limits, and grow what every
    /// exchange and every push reads of devices and revocations.
    public static let maxIncarnationsPerDevice = 64

    public init(replica: ReplicaID, forkedAt: Dot? = nil, reissuing: [ReissueProbe]? = nil) {
        self.replica = replica
        self.forkedAt = forkedAt
        self.reissuing = reissuing
    }
}

/// One version a forked replica is about to re-issue, as the hub looks it up: its document and
/// the time its author wrote it. The device compares whatever the hub sends back in full (body,
/// partition, signature by its own key) before taking it in place of its own.
public struct ReissueProbe: Codable, Sendable, Hashable {
    public var collection: CollectionName
    public var id: DocumentID
    public var timestamp: HybridTimestamp

    public init(collection: CollectionName, id: DocumentID, timestamp: HybridTimestamp) {
        self.collection = collection
        self.id = id
        self.timestamp = timestamp
    }

    public init(_ version: Version) {
        self.init(collection: version.collection, id: version.documentID, timestamp: version.timestamp)
    }

    public var key: DocumentKey { DocumentKey(collection: collection, id: id) }

    enum CodingKeys: String, CodingKey {
        case collection, id
        case timestamp = "time"
    }
}

/// The hub's answer: the new id is bound to the device `name`, whose ids are now `incarnations`
/// (the enrolled one first).
public struct IncarnationResponse: Codable, Sendable, Hashable {
    public var replica: ReplicaID
    public var name: String
    public var incarnations: [ReplicaID]
    /// Versions the hub holds from the device's other ids (neither the forked id nor `replica`)
    /// with the document and time of a probe of the request: earlier re-issues of the same
    /// versions. Absent when the request had no probes, or from older hubs.
    public var reissuedEarlier: [Version]?

    public init(replica: ReplicaID, name: String, incarnations: [ReplicaID], reissuedEarlier: [Version]? = nil) {
        self.replica = replica
        self.name = name
        self.incarnations = incarnations
        self.reissuedEarlier = reissuedEarlier
    }
}
