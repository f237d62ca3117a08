/// The protocol versions this build speaks. A hub serves the current and the previous version.
///
/// Version 1 travels as JSON (`application/json`); version 2 as a ``SyncFrame``
/// (`application/vnd.vigil.sync.v2`). Which one an exchange uses is negotiated over HTTP: the
/// client lists the media types it reads in `Accept`, the hub answers in the highest version both
/// speak, and the client sends frames once a hub answered it with one (Docs/Protocol.md,
/// "Protocol versions").
public enum SyncProtocol {
    /// The highest version this build speaks, which it uses whenever the other side speaks it too.
    public static let current = 2
    /// The versions this build accepts.
    public static let supported: ClosedRange<Int> = 1...2
}

/// What a client sends in one exchange (`POST /v1/sync`).
public struct SyncRequest: Codable, Sendable, Hashable {
    /// The protocol version the client speaks.
    public var protocolVersion: Int
    /// The client replica's id.
    public var replica: ReplicaID
    /// The client's last used counter: the hub sends back the client's own versions above it
    /// (a replica restored from an old backup recovers them).
    public var counter: UInt64
    /// The checkpoint from the hub's last answer; nil for a first pull.
    public var checkpoint: String?
    /// Versions the hub lacks by the knowledge the client last saw, in origin then counter order.
    public var push: [Version]
    /// The client's whole belief of the hub's knowledge, sent only after the hub reset the pull
    /// checkpoint (a restored hub): the hub answers every entry it holds less of.
    public var assumedKnowledge: VersionVector?
    /// How large a pulled page may be.
    public var limits: PageLimits
    /// The client's wall clock when it sent the request, in milliseconds since 1970 (optional:
    /// the hub shows operators the clock skew it sees).
    public var sentAt: UInt64?
    /// Pulled versions that failed their signature check here, not yet reported (optional).
    public var unverified: [VerificationReport]?
    /// Rejection reasons added after the first release that the client handles (optional): the
    /// hub sends such a reason only to a client that lists it, since older clients set aside a
    /// version rejected for a reason they do not know.
    public var understoodReasons: [Rejection.Reason]?
    /// About how many versions the client holds for the hub beyond this request's push (optional:
    /// the hub shows operators what waits on each device). A hub reads at most ``maxPending``.
    public var pending: Int?
    /// The ``RevocationNotice/digest(of:)`` of the revocation horizons the client holds (optional;
    /// absent when it holds none): a hub whose own horizons give the same digest leaves its
    /// notices out of the answer, which otherwise carries every one of them with every page.
    public var revocationsHeld: String?

    /// The most pending versions a hub records of one report.
    public static let maxPending = 1_000_000_000

    public init(
        protocolVersion: Int = SyncProtocol.current, replica: ReplicaID, counter: UInt64, checkpoint: String?,
        push: [Version], assumedKnowledge: VersionVector? = nil, limits: PageLimits = PageLimits()
    ) {
        self.protocolVersion = protocolVersion
        self.replica = replica
        self.counter = counter
        self.checkpoint = checkpoint
        self.push = push
        self.assumedKnowledge = assumedKnowledge
        self.limits = limits
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", replica, counter, checkpoint, push, assumedKnowledge, limits, sentAt
        case unverified, understoodReasons, pending, revocationsHeld
    }
}

/// The bounds of one pulled page.
public struct PageLimits: Codable, Sendable, Hashable {
    /// At most this many versions.
    public var versions: Int
    /// About this many bytes of versions (at least one version is always sent).
    public var bytes: Int

    public init(versions: Int = 2_000, bytes: Int = 1 << 20) {
        self.versions = versions
        self.bytes = bytes
    }
}

/// What the hub answers to one exchange.
public struct SyncResponse: Codable, Sendable, Hashable {
    /// The longest checkpoint either side takes: a hub's own are under 200 bytes. A hub refuses a
    /// request carrying a longer one, so a client that kept one from an answer could never sync
    /// again: an answer carrying one does not decode.
    public static let maxCheckpointBytes = 1_024

    /// The protocol version of the answer.
    public var protocolVersion: Int
    /// The hub's replica id.
    public var hub: ReplicaID
    /// The hub's knowledge after the push, as a delta: its entry for every origin in the push,
    /// for the client's own id, and (when the request carried `assumedKnowledge`) for every origin
    /// it holds less of than assumed. The client sets its belief of these entries to these values.
    public var knowledge: VersionVector
    /// How many pushed versions were stored for the first time.
    public var accepted: Int
    /// Pushed versions the hub did not take into the shared state, each with the reason.
    public var rejected: [Rejection]
    /// Versions the client lacks, within its read scope.
    public var versions: [Version]
    /// The checkpoint to send next time; it holds once `versions` are applied.
    public var checkpoint: String
    /// More versions wait: exchange again at once.
    public var more: Bool
    /// The request's checkpoint was not one this hub gave out (a restored hub): the pull started
    /// again from the beginning, and the client should send `assumedKnowledge` next time.
    public var checkpointReset: Bool
    /// The enrolled public keys of the origins of ``versions`` (optional: absent when the page is
    /// empty), so the client verifies what it pulls.
    public var keys: DeviceKeyDirectory?
    /// The device's read and write scopes, sent on its first pull and whenever they changed since
    /// its checkpoint (optional): the client forgets the documents outside the read scope.
    public var grants: AccessGrants?
    /// The hub's certificates of the page's origins' keys (optional: absent when the page is
    /// empty). A client trusts an author's key only through a certificate signed by the hub key it
    /// pinned at enrollment; ``keys`` is kept for older clients.
    public var certificates: [DeviceCertificate]?
    /// The hub's signed revocation notices (optional: sent with every non-empty page): versions
    /// of a revoked id above its horizon are refused on every replica.
    public var revocations: [RevocationNotice]?
    /// The hub's latest version of the requesting replica, sent when the hub holds more of it than
    /// the request's counter (a replica restored from a backup): signed by the replica's own key,
    /// it proves how far the replica must raise its counter.
    public var ownLatest: Version?
    /// The hub's ``AdmissionReceipt`` of each of the requesting replica's own pushed versions that
    /// it holds admitted after the push, by counter in decimal (optional). The versions of the page
    /// carry theirs in ``Version/receipt``.
    public var receipts: [String: AdmissionReceipt]?

    public init(
        protocolVersion: Int = SyncProtocol.current, hub: ReplicaID, knowledge: VersionVector, accepted: Int,
        rejected: [Rejection], versions: [Version], checkpoint: String, more: Bool, checkpointReset: Bool = false
    ) {
        self.protocolVersion = protocolVersion
        self.hub = hub
        self.knowledge = knowledge
        self.accepted = accepted
        self.rejected = rejected
        self.versions = versions
        self.checkpoint = checkpoint
        self.more = more
        self.checkpointReset = checkpointReset
    }

    enum CodingKeys: String, CodingKey {
        case protocolVersion = "protocol", hub, knowledge, accepted, rejected, versions, checkpoint, more
        case checkpointReset, keys, grants, certificates, revocations, ownLatest, receipts
    }
}

/// One pushed version the hub refused or quarantined.
public struct Rejection: Codable, Sendable, Hashable {
    /// Why, for programs.
    public struct Reason: RawRepresentable, Codable, Sendable, Hashable {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The hub holds this dot with another signature: the origin has forked. Nothing of this
        /// origin from this dot on was taken.
        public static let fork = Reason(rawValue: "fork")
        /// The body is not a valid record.
        public static let invalidRecord = Reason(rawValue: "invalid-record")
        /// The signature does not verify against the origin's key.
        public static let badSignature = Reason(rawValue: "bad-signature")
        /// The device may not write there.
        public static let outOfScope = Reason(rawValue: "out-of-scope")
        /// The version's context claims versions that do not exist (``CausalPlausibility``).
        public static let implausibleContext = Reason(rawValue: "implausible-context")
        /// The version's origin was revoked and the version lies above its revocation horizon;
        /// it was not stored.
        public static let revoked = Reason(rawValue: "revoked")
        /// The hub holds the version's origin only up to ``Rejection/heldCounter``, below the
        /// counter before this one: it was not stored. Push the origin's versions from there on;
        /// a client that holds none of them leaves the gap to a replica that does. Sent only to
        /// clients that list it in ``SyncRequest/understoodReasons``.
        public static let gap = Reason(rawValue: "gap")

        /// The reasons added after the first release that this build handles.
        public static let added: [Reason] = [.gap]
    }

    public var origin: ReplicaID
    public var counter: UInt64
    public var reason: Reason
    /// One sentence for people.
    public var message: String
    /// True when the hub stored the version in quarantine (kept, out of the shared state);
    /// false when it did not store it at all (a fork).
    public var quarantined: Bool
    /// For a fork: the version the hub holds at that dot, signed by the origin's key, the proof
    /// that the origin has forked (a client takes a new incarnation only on such proof).
    public var evidence: Version?
    /// For a gap: the highest counter of the origin the hub holds.
    public var heldCounter: UInt64?

    public init(dot: Dot, reason: Reason, message: String, quarantined: Bool) {
        origin = dot.replica
        counter = dot.counter
        self.reason = reason
        self.message = message
        self.quarantined = quarantined
    }

    public var dot: Dot { Dot(replica: origin, counter: counter) }

    /// Whether its counters are ones a dot can hold (1…2^63-1; a gap's held counter 0…2^63-1).
    var namesADot: Bool {
        (1...Dot.maxCounter).contains(counter) && heldCounter.map { $0 <= Dot.maxCounter } ?? true
    }
}
