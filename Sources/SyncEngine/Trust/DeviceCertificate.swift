public import Foundation

/// A hub's statement that a replica id writes with a public key: issued when the device enrolls
/// (and for each later incarnation of it), signed with the hub's key. A device learns and pins the
/// hub's key at enrollment; from then on it trusts an author's key only with such a certificate,
/// never by first sight, and never lets a certified key change.
public struct DeviceCertificate: Codable, Sendable, Hashable {
    /// The hub that issued it.
    public var hub: ReplicaID
    /// The replica id the key signs for.
    public var replica: ReplicaID
    public var publicKey: PublicDeviceKey
    /// The device's name at the hub (at most ``maxNameBytes`` bytes of UTF-8).
    public var name: String
    /// When the device enrolled, in milliseconds since 1970.
    public var issuedAt: UInt64
    /// The hub key's Ed25519 signature over ``signedBytes``.
    public var signature: Data

    /// The longest name a certificate carries.
    public static let maxNameBytes = 256

    /// A certificate signed with `hubKey`.
    public init(
        hub: ReplicaID, replica: ReplicaID, publicKey: PublicDeviceKey, name: String, issuedAt: UInt64, signedWith hubKey: DeviceKey
    ) throws {
        self.hub = hub
        self.replica = replica
        self.publicKey = publicKey
        self.name = String(decoding: Data(name.utf8).prefix(Self.maxNameBytes), as: UTF8.self)
        self.issuedAt = min(issuedAt, Dot.maxCounter)
        signature = Data()
        signature = try hubKey.signature(for: signedBytes)
    }

    /// `"vigil.cert.1"`, the hub's id, the replica id, the public key, the time and the name.
    public var signedBytes: Data {
        var bytes = SignedBytes(domain: "vigil.cert.1")
        bytes.append(hub)
        bytes.append(replica)
        bytes.append(publicKey)
        bytes.append(issuedAt)
        bytes.append(name)
        return bytes.data
    }

    /// Whether `hubKey` signed this certificate.
    public func isSigned(by hubKey: PublicDeviceKey) -> Bool {
        hubKey.isValidSignature(signature, for: signedBytes)
    }

    enum CodingKeys: String, CodingKey {
        case hub, replica, publicKey = "key", name, issuedAt, signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hub = try container.decode(ReplicaID.self, forKey: .hub)
        replica = try container.decode(ReplicaID.self, forKey: .replica)
        publicKey = try container.decode(PublicDeviceKey.self, forKey: .publicKey)
        name = try container.decode(String.self, forKey: .name)
        guard name.utf8.count <= Self.maxNameBytes else {
            throw DecodingError.dataCorruptedError(
                forKey: .name, in: container, debugDescription: "A certificate's name is at most \(Self.maxNameBytes) bytes.")
        }
        issuedAt = try StatementDecoding.counter(container, .issuedAt, allowZero: true)
        signature = try StatementDecoding.signature(container, .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hub, forKey: .hub)
        try container.encode(replica, forKey: .replica)
        try container.encode(publicKey, forKey: .publicKey)
        try container.encode(name, forKey: .name)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(signature.base64EncodedString(), forKey: .signature)
    }
}

/// A hub's statement that a replica id is revoked: versions of it above ``horizon`` (the highest
/// counter the hub had admitted when the device was revoked) are refused everywhere, relayed or not.
public struct RevocationNotice: Codable, Sendable, Hashable {
    public var hub: ReplicaID
    /// The revoked replica id (a device's enrolled id or one of its incarnations).
    public var replica: ReplicaID
    /// The highest counter of ``replica`` that stays valid; 0 when none does.
    public var horizon: UInt64
    /// When the device was revoked, in milliseconds since 1970.
    public var revokedAt: UInt64
    /// The hub key's Ed25519 signature over ``signedBytes``.
    public var signature: Data

    /// A notice signed with `hubKey`.
    public init(hub: ReplicaID, replica: ReplicaID, horizon: UInt64, revokedAt: UInt64, signedWith hubKey: DeviceKey) throws {
        self.hub = hub
        self.replica = replica
        self.horizon = min(horizon, Dot.maxCounter)
        self.revokedAt = min(revokedAt, Dot.maxCounter)
        signature = Data()
        signature = try hubKey.signature(for: signedBytes)
    }

    /// `"vigil.revoke.1"`, the hub's id, the replica id, the horizon and the time.
    public var signedBytes: Data {
        var bytes = SignedBytes(domain: "vigil.revoke.1")
        bytes.append(hub)
        bytes.append(replica)
        bytes.append(horizon)
        bytes.append(revokedAt)
        return bytes.data
    }

    /// Whether `hubKey` signed this notice.
    public func isSigned(by hubKey: PublicDeviceKey) -> Bool {
        hubKey.isValidSignature(signature, for: signedBytes)
    }

    /// Whether the notice refuses `dot`.
    public func refuses(_ dot: Dot) -> Bool { dot.replica == replica && dot.counter > horizon }

    /// What a device says of the revocation horizons it holds (``SyncRequest/revocationsHeld``),
    /// and what a hub compares with its own: the first 8 bytes of SHA-256, as 16 lowercase hex
    /// digits, over one line `<replica id hex>:<horizon>\n` per revoked id, in the ids' order.
    /// When the two agree, the device would learn nothing from the hub's notices, and the answer
    /// leaves them out.
    public static func digest(of horizons: [ReplicaID: UInt64]) -> String {
        let lines = horizons.sorted { $0.key.hex < $1.key.hex }.map { "\($0.key.hex):\($0.value)\n" }.joined()
        return String(AttachmentDigest.hex(of: Data(lines.utf8)).prefix(16))
    }

    enum CodingKeys: String, CodingKey {
        case hub, replica, horizon, revokedAt, signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hub = try container.decode(ReplicaID.self, forKey: .hub)
        replica = try container.decode(ReplicaID.self, forKey: .replica)
        horizon = try StatementDecoding.counter(container, .horizon, allowZero: true)
        revokedAt = try StatementDecoding.counter(container, .revokedAt, allowZero: true)
        signature = try StatementDecoding.signature(container, .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hub, forKey: .hub)
        try container.encode(replica, forKey: .replica)
        try container.encode(horizon, forKey: .horizon)
        try container.encode(revokedAt, forKey: .revokedAt)
        try container.encode(signature.base64EncodedString(), forKey: .signature)
    }
}
