public import ReplicaStore
public import SyncEngine

/// What the exchange needs from the hub's storage. The SQLite implementation is
/// ``SQLiteHubStorage``; a PostgreSQL one can follow behind the same operations.
///
/// Each operation is atomic: ``apply(_:from:admit:)`` commits all or nothing, and
/// ``page(_:)`` reads its versions and knowledge in one snapshot.
public protocol HubStorage: Sendable {
    /// The hub replica's id.
    var hubID: ReplicaID { get }

    /// The hub replica's public key: devices pin it at enrollment and trust authors' keys only
    /// through certificates it signed.
    var hubKey: PublicDeviceKey { get }

    /// The key of the hub's admission receipts: derived from the hub's signing key, so a hub
    /// restored from a backup checks the receipts it gave before.
    var receiptKey: AdmissionReceiptKey { get }

    /// Applies pushed versions in one transaction, recording `peer` as where they came from.
    /// `admit` decides for each version not held yet, given the highest counter held of its origin.
    func apply(
        _ versions: [Version], from peer: ReplicaID,
        admit: @escaping @Sendable (_ version: Version, _ heldCounter: UInt64) -> Admission
    ) async throws -> ApplyReport

    /// Merges field by field the conflicting documents among `keys` whose collection allows it
    /// (situations, warnings); returns how many merges the hub wrote. The merges take dots of a
    /// writer id of the hub's own, drawn anew by each process and signed with the hub's key, so a
    /// hub restored from a backup never gives out a dot twice.
    func mergeFieldwise(_ keys: Set<DocumentKey>) async throws -> Int

    /// Why each of `dots` held in quarantine was quarantined; others are absent.
    func quarantineReasons(of dots: [Dot]) async throws -> [Dot: SetAsideReason]

    /// Reads one page of the changes feed and the knowledge asked for, in one snapshot.
    func page(_ query: PageQuery) async throws -> FeedPage

    /// The versions held at `dots`; dots not held are absent.
    func versions(at dots: [Dot]) async throws -> [Version]

    /// The versions held from `origins` with the document and time of one of `probes` (a forked
    /// device's earlier re-issues, see ``IncarnationRequest/reissuing``), at most one per probe
    /// and origin.
    func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) async throws -> [Version]

    /// What the hub holds, counted for its metrics; nil when this storage cannot count it.
    func counts() async throws -> HubCounts?
}

extension HubStorage {
    public func counts() async throws -> HubCounts? { nil }
}

/// Which page of the hub's changes feed to read.
public struct PageQuery: Sendable {
    /// Where the page starts (a position this hub gave out, else the page restarts at the beginning).
    public var after: FeedPosition
    /// Where the page must end at the latest (a position this hub gave out); nil for no bound.
    public var through: FeedPosition?
    /// At most this many versions.
    public var limit: Int
    /// About this many bytes of versions (at least one version is sent when any is waiting).
    public var maxBytes: Int
    /// At most this many versions are looked at (the filter may pass over many).
    public var maxScanned: Int
    /// The origins whose knowledge entry the answer carries.
    public var knowledgeOf: Set<ReplicaID>
    /// Which versions the reader gets; the others are scanned past.
    public var include: @Sendable (_ version: Version, _ receivedFrom: ReplicaID?) -> Bool

    public init(
        after: FeedPosition, through: FeedPosition? = nil, limit: Int, maxBytes: Int, maxScanned: Int = .max,
        knowledgeOf: Set<ReplicaID>, include: @escaping @Sendable (_ version: Version, _ receivedFrom: ReplicaID?) -> Bool
    ) {
        self.after = after
        self.through = through
        self.limit = limit
        self.maxBytes = maxBytes
        self.maxScanned = maxScanned
        self.knowledgeOf = knowledgeOf
        self.include = include
    }
}
