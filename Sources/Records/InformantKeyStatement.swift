public import Foundation
public import SyncEngine

/// A hub's statement that `publicKey` is the network's informant key: devices seal informant
/// references to it. A device takes it only when signed by the hub key it pinned at enrollment,
/// so a relay or a forged hub cannot make devices seal to a key of its own.
public struct InformantKeyStatement: Codable, Sendable, Hashable {
    public var hub: ReplicaID
    public var publicKey: InformantPublicKey
    /// When the key was made, in milliseconds since 1970.
    public var issuedAt: UInt64
    /// The hub key's Ed25519 signature over ``signedBytes``.
    public var signature: Data

    public init(hub: ReplicaID, publicKey: InformantPublicKey, issuedAt: UInt64, signedWith hubKey: DeviceKey) throws {
        self.hub = hub
        self.publicKey = publicKey
        self.issuedAt = min(issuedAt, Dot.maxCounter)
        signature = Data()
        signature = try hubKey.signature(for: signedBytes)
    }

    /// `"vigil.informant-key.1"`, the hub's id, the key (base64) and the time.
    public var signedBytes: Data {
        var bytes = SignedBytes(domain: "vigil.informant-key.1")
        bytes.append(hub)
        bytes.append(publicKey.rawRepresentation.base64EncodedString())
        bytes.append(issuedAt)
        return bytes.data
    }

    /// Whether `hubKey` signed this statement.
    public func isSigned(by hubKey: PublicDeviceKey) -> Bool {
        hubKey.isValidSignature(signature, for: signedBytes)
    }

    enum CodingKeys: String, CodingKey {
        case hub, publicKey = "key", keyID = "keyId", issuedAt, signature
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        hub = try container.decode(ReplicaID.self, forKey: .hub)
        guard let raw = Data(base64Encoded: try container.decode(String.self, forKey: .publicKey)),
            let key = try? InformantPublicKey(rawRepresentation: raw)
        else {
            throw DecodingError.dataCorruptedError(
                forKey: .publicKey, in: container, debugDescription: "An informant key is 32 bytes (X25519) in base64.")
        }
        publicKey = key
        issuedAt = try StatementDecoding.counter(container, .issuedAt, allowZero: true)
        signature = try StatementDecoding.signature(container, .signature)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(hub, forKey: .hub)
        try container.encode(publicKey.rawRepresentation.base64EncodedString(), forKey: .publicKey)
        try container.encode(publicKey.keyID, forKey: .keyID)
        try container.encode(issuedAt, forKey: .issuedAt)
        try container.encode(signature.base64EncodedString(), forKey: .signature)
    }
}
