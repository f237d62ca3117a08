public import SyncEngine

/// What the exchange needs from the hub's storage. The SQLite implementation is
/// `SQLiteHubStorage`; a PostgreSQL one can follow behind the same operations.
///
/// Each operation is atomic: ``take(_:)`` commits a whole push or nothing, and ``page(_:)`` reads
/// its versions and knowledge in one snapshot.
public protocol HubStorage: Sendable {
    /// The hub replica's id.
    var hubID: ReplicaID { get }

    /// The hub replica's public key: devices pin it at enrollment and trust authors' keys only
    /// through certificates it signed.
    var hubKey: PublicDeviceKey { get }

    /// The key of the hub's admission receipts: derived from the hub's signing key, so a hub
    /// restored from a backup checks the receipts it gave before.
    var receiptKey: AdmissionReceiptKey { get }

    /// Takes one checked push in one transaction: keeps the forged versions apart, stores and
    /// merges the others as `push.policy` admits them, keeps apart (audited) those whose context
    /// claims what the hub does not hold, audits what it set aside, and merges field by field the
    /// conflicts the push left. Either all of it commits or none.
    func take(_ push: PushPlan) async throws -> PushReport

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

    /// Which of `origins` wrote a version the hub holds in good standing within `scope`: the
    /// authors whose certificates a device reading `scope` may be given (`POST /v1/certificates`),
    /// so that a seized device learns no name or key of an author it can never read.
    func authors(among origins: Set<ReplicaID>, within scope: Scope) async throws -> Set<ReplicaID>
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
    public var filter: FeedFilter

    public init(
        after: FeedPosition, through: FeedPosition? = nil, limit: Int, maxBytes: Int, maxScanned: Int = .max,
        knowledgeOf: Set<ReplicaID>, filter: FeedFilter
    ) {
        self.after = after
        self.through = through
        self.limit = limit
        self.maxBytes = maxBytes
        self.maxScanned = maxScanned
        self.knowledgeOf = knowledgeOf
        self.filter = filter
    }
}

/// One push as the exchange checked it, for ``HubStorage/take(_:)``.
public struct PushPlan: Sendable {
    /// The versions to store, in causal order, without receipts.
    public var versions: [Version]
    /// The replica that pushed them.
    public var pusher: ReplicaID
    /// How each version the hub does not hold yet is admitted.
    public var policy: AdmissionPolicy
    /// Versions claiming another origin than the pusher whose signature fails: kept apart, never
    /// stored at their origin's dot.
    public var forged: [(version: Version, reason: SetAsideReason)]

    public init(
        versions: [Version], pusher: ReplicaID, policy: AdmissionPolicy,
        forged: [(version: Version, reason: SetAsideReason)] = []
    ) {
        self.versions = versions
        self.pusher = pusher
        self.policy = policy
        self.forged = forged
    }
}

/// What ``HubStorage/take(_:)`` did.
public struct PushReport: Sendable {
    /// What storing the versions did.
    public var applied: ApplyReport
    /// How many field-by-field merges the hub wrote.
    public var merged: Int
    /// The versions pushed again that the hub already held set aside, with why (a lost answer: the
    /// pusher is told again).
    public var heldAside: [Dot: SetAsideReason]

    public init(applied: ApplyReport, merged: Int = 0, heldAside: [Dot: SetAsideReason] = [:]) {
        self.applied = applied
        self.merged = merged
        self.heldAside = heldAside
    }
}
