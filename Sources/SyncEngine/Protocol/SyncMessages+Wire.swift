/// How the exchange's messages are written, by protocol (Docs/Protocol.md, "Protocol 2: fields at
/// their defaults").
///
/// Protocol 1 writes every field, as the first release did, byte for byte. A message of protocol
/// 2 (a frame's header, or a JSON request that says `"protocol": 2`) leaves out each field that
/// holds its default, and a reader gives an absent field its default: a no-op exchange on a link
/// paid by the megabyte carries only what it says. A field with a default and no value is written
/// as `null`, so that every message reads back as it was written.
///
/// An answer leaves out, besides, what its request already says: the checkpoint when the page did
/// not move it, and the hub's knowledge of the requesting replica when it equals the request's
/// `counter`. The reader is told the request (``SyncWire/answering``) and puts them back.
public enum SyncWire {
    /// Set to `true` in a coder's `userInfo` inside a frame's header: `protocol` is the frame's,
    /// so the header leaves it out.
    public static let inFrame = CodingUserInfoKey(rawValue: "vigil.sync.inFrame")!
    /// Set to the ``Echo`` of the request in a coder's `userInfo` to write or read its answer.
    public static let answering = CodingUserInfoKey(rawValue: "vigil.sync.answering")!

    /// What a protocol 2 answer leaves out because its request says it.
    public struct Echo: Sendable, Hashable {
        /// The requesting replica.
        public var replica: ReplicaID
        /// The request's `counter`.
        public var counter: UInt64
        /// The request's checkpoint.
        public var checkpoint: String?

        public init(answering request: SyncRequest) {
            replica = request.replica
            counter = request.counter
            checkpoint = request.checkpoint
        }
    }

    /// The rejection reasons a protocol 2 client understands when its request does not list them:
    /// those protocol 2 began with.
    public static let reasonsOfProtocol2: [Rejection.Reason] = [.gap]

    /// The protocol of a message that does not say it: a frame's, else 1 (the first release's).
    static func protocolDefault(inFrame flag: Any?) -> Int {
        flag as? Bool == true ? SyncFrame.protocolVersion : 1
    }
}

extension SyncRequest {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        protocolVersion = try container.decode(
            Int.self, forKey: .protocolVersion, absent: SyncWire.protocolDefault(inFrame: decoder.userInfo[SyncWire.inFrame]))
        let compact = protocolVersion >= 2
        replica = try container.decode(ReplicaID.self, forKey: .replica)
        counter = try container.decode(UInt64.self, forKey: .counter)
        checkpoint = try container.decodeIfPresent(String.self, forKey: .checkpoint)
        push = try container.decode([Version].self, forKey: .push, absent: [])
        assumedKnowledge = try container.decodeIfPresent(VersionVector.self, forKey: .assumedKnowledge)
        limits = try container.decode(PageLimits.self, forKey: .limits, absent: PageLimits())
        sentAt = try container.decodeIfPresent(UInt64.self, forKey: .sentAt)
        unverified = try container.decodeIfPresent([VerificationReport].self, forKey: .unverified)
        understoodReasons = try container.decodeDefaulted(
            [Rejection.Reason].self, forKey: .understoodReasons, default: compact ? SyncWire.reasonsOfProtocol2 : nil)
        pending = try container.decodeDefaulted(Int.self, forKey: .pending, default: compact ? 0 : nil)
        revocationsHeld = try container.decodeIfPresent(String.self, forKey: .revocationsHeld)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let compact = protocolVersion >= 2
        if !compact || encoder.userInfo[SyncWire.inFrame] as? Bool != true {
            try container.encode(protocolVersion, forKey: .protocolVersion)
        }
        try container.encode(replica, forKey: .replica)
        try container.encode(counter, forKey: .counter)
        try container.encodeIfPresent(checkpoint, forKey: .checkpoint)
        if !compact || !push.isEmpty { try container.encode(push, forKey: .push) }
        try container.encodeIfPresent(assumedKnowledge, forKey: .assumedKnowledge)
        if !compact || limits != PageLimits() { try container.encode(limits, forKey: .limits) }
        try container.encodeIfPresent(sentAt, forKey: .sentAt)
        try container.encodeIfPresent(unverified, forKey: .unverified)
        if compact {
            try container.encodeDefaulted(understoodReasons, forKey: .understoodReasons, default: SyncWire.reasonsOfProtocol2)
            try container.encodeDefaulted(pending, forKey: .pending, default: 0)
            // Protocol 1 requests stay byte for byte the first release's: only protocol 2 says it.
            try container.encodeIfPresent(revocationsHeld, forKey: .revocationsHeld)
        } else {
            try container.encodeIfPresent(understoodReasons, forKey: .understoodReasons)
            try container.encodeIfPresent(pending, forKey: .pending)
        }
    }
}

extension SyncResponse {
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let echo = decoder.userInfo[SyncWire.answering] as? SyncWire.Echo
        protocolVersion = try container.decode(
            Int.self, forKey: .protocolVersion, absent: SyncWire.protocolDefault(inFrame: decoder.userInfo[SyncWire.inFrame]))
        hub = try container.decode(ReplicaID.self, forKey: .hub)
        knowledge = try container.decode(VersionVector.self, forKey: .knowledge, absent: VersionVector())
        accepted = try container.decode(Int.self, forKey: .accepted, absent: 0)
        rejected = try container.decode([Rejection].self, forKey: .rejected, absent: [])
        if rejected.contains(where: { !$0.namesADot }) {
            throw DecodingError.dataCorruptedError(
                forKey: .rejected, in: container, debugDescription: "A rejection names a counter outside 1…2^63-1.")
        }
        versions = try container.decode([Version].self, forKey: .versions, absent: [])
        more = try container.decode(Bool.self, forKey: .more, absent: false)
        checkpointReset = try container.decode(Bool.self, forKey: .checkpointReset, absent: false)
        keys = try container.decodeIfPresent(DeviceKeyDirectory.self, forKey: .keys)
        grants = try container.decodeIfPresent(AccessGrants.self, forKey: .grants)
        certificates = try container.decodeIfPresent([DeviceCertificate].self, forKey: .certificates)
        revocations = try container.decodeIfPresent([RevocationNotice].self, forKey: .revocations)
        ownLatest = try container.decodeIfPresent(Version.self, forKey: .ownLatest)
        receipts = try container.decodeIfPresent([String: AdmissionReceipt].self, forKey: .receipts)
        if let checkpoint = try container.decodeIfPresent(String.self, forKey: .checkpoint) {
            guard checkpoint.utf8.count <= Self.maxCheckpointBytes else {
                throw DecodingError.dataCorruptedError(
                    forKey: .checkpoint, in: container,
                    debugDescription: "The checkpoint is longer than \(Self.maxCheckpointBytes) bytes.")
            }
            self.checkpoint = checkpoint
        } else if protocolVersion >= 2, let echoed = echo?.checkpoint {
            checkpoint = echoed
        } else {
            throw DecodingError.keyNotFound(
                CodingKeys.checkpoint, .init(codingPath: decoder.codingPath, debugDescription: "The answer holds no checkpoint."))
        }
        if protocolVersion >= 2, let echo, !Self.names(echo.replica, in: container) {
            knowledge[echo.replica] = echo.counter
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        let compact = protocolVersion >= 2
        let echo = compact ? encoder.userInfo[SyncWire.answering] as? SyncWire.Echo : nil
        if !compact || encoder.userInfo[SyncWire.inFrame] as? Bool != true {
            try container.encode(protocolVersion, forKey: .protocolVersion)
        }
        try container.encode(hub, forKey: .hub)
        if let echo {
            // The requester's entry is left out when it equals the request's counter, and written
            // (0 included) when it does not.
            var entries = Dictionary(uniqueKeysWithValues: knowledge.entries.map { ($0.key.hex, $0.value) })
            entries[echo.replica.hex] = knowledge[echo.replica] == echo.counter ? nil : knowledge[echo.replica]
            if !entries.isEmpty { try container.encode(entries, forKey: .knowledge) }
        } else if !compact || !knowledge.isEmpty {
            try container.encode(knowledge, forKey: .knowledge)
        }
        if !compact || accepted != 0 { try container.encode(accepted, forKey: .accepted) }
        if !compact || !rejected.isEmpty { try container.encode(rejected, forKey: .rejected) }
        if !compact || !versions.isEmpty { try container.encode(versions, forKey: .versions) }
        if echo == nil || echo?.checkpoint != checkpoint { try container.encode(checkpoint, forKey: .checkpoint) }
        if !compact || more { try container.encode(more, forKey: .more) }
        if !compact || checkpointReset { try container.encode(checkpointReset, forKey: .checkpointReset) }
        try container.encodeIfPresent(keys, forKey: .keys)
        try container.encodeIfPresent(grants, forKey: .grants)
        try container.encodeIfPresent(certificates, forKey: .certificates)
        try container.encodeIfPresent(revocations, forKey: .revocations)
        try container.encodeIfPresent(ownLatest, forKey: .ownLatest)
        try container.encodeIfPresent(receipts, forKey: .receipts)
    }

    /// Whether the answer's `knowledge` names `replica` (a 0 entry included, which a
    /// ``VersionVector`` does not keep).
    private static func names(_ replica: ReplicaID, in container: KeyedDecodingContainer<CodingKeys>) -> Bool {
        let entries = (try? container.decodeIfPresent([String: UInt64].self, forKey: .knowledge)) ?? nil
        return entries?[replica.hex] != nil
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, `fallback` when the key is absent; `null` there is refused like any
    /// other value of the wrong type.
    func decode<T: Decodable>(_ type: T.Type, forKey key: Key, absent fallback: T) throws -> T {
        contains(key) ? try decode(type, forKey: key) : fallback
    }

    /// The value at `key`: `fallback` when the key is absent, nil when it holds `null`.
    func decodeDefaulted<T: Decodable>(_ type: T.Type, forKey key: Key, default fallback: T?) throws -> T? {
        guard contains(key) else { return fallback }
        return try decodeIfPresent(type, forKey: key)
    }
}

extension KeyedEncodingContainer {
    /// Leaves `value` out when it equals `fallback`, writes `null` when it is nil.
    mutating func encodeDefaulted<T: Encodable & Equatable>(_ value: T?, forKey key: Key, default fallback: T) throws {
        guard let value else { return try encodeNil(forKey: key) }
        if value != fallback { try encode(value, forKey: key) }
    }
}
