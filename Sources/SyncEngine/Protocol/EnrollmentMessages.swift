public import Foundation

/// What a device sends to enroll (`POST /v1/enroll`, no credential): the one-time code its
/// operator gave out, its replica id and its public key, which the code binds, and a proof that
/// it holds the private key.
public struct EnrollmentRequest: Codable, Sendable, Hashable {
    /// The one-time code, as the operator gave it (dashes and case do not matter).
    public var code: String
    /// The device's replica id.
    public var replica: ReplicaID
    /// The device's Ed25519 public key: the hub verifies the device's versions against it.
    public var publicKey: PublicDeviceKey
    /// A name the device suggests; the operator's name for the code wins.
    public var name: String?
    /// The device key's signature over ``proofBytes(code:replica:publicKey:)`` (64 bytes, base64 on
    /// the wire): nobody enrolls a key they do not hold, and the proof is good for this code only.
    public var proof: Data

    /// A request signed with `key`.
    public init(code: String, replica: ReplicaID, key: DeviceKey, name: String? = nil) throws {
        let publicKey = key.publicKey
        self.init(
            code: code, replica: replica, publicKey: publicKey,
            proof: try key.signature(for: Self.proofBytes(code: code, replica: replica, publicKey: publicKey)), name: name)
    }

    /// A request as received.
    public init(code: String, replica: ReplicaID, publicKey: PublicDeviceKey, proof: Data, name: String? = nil) {
        self.code = code
        self.replica = replica
        self.publicKey = publicKey
        self.proof = proof
        self.name = name
    }

    /// Whether ``proof`` is ``publicKey``'s signature over this request's proof bytes.
    public var hasValidProof: Bool {
        publicKey.isValidSignature(proof, for: Self.proofBytes(code: code, replica: replica, publicKey: publicKey))
    }

    /// The bytes the proof signs: `"vigil.enroll.1"`, the SHA-256 of the code as the hub keeps it
    /// (normalized: upper case, no dashes or spaces, `O` read as `0`, `I` and `L` as `1`; the code's
    /// UTF-8 as given when it does not normalize), the replica id (16 bytes) and the public key (32 bytes).
    public static func proofBytes(code: String, replica: ReplicaID, publicKey: PublicDeviceKey) -> Data {
        var bytes = Data("vigil.enroll.1".utf8)
        bytes.append(EnrollmentCode.hash(code) ?? DeviceCredential.sha256(code))
        bytes.append(contentsOf: replica.bytes)
        bytes.append(publicKey.rawRepresentation)
        return bytes
    }
}

/// The hub's answer to an enrollment: the device's credential (shown once, kept by the device
/// in its protected credential file), the hub's replica id and the device's name at the hub.
public struct EnrollmentResponse: Codable, Sendable, Hashable {
    public var credential: String
    public var hub: ReplicaID
    public var name: String
    /// The hub's public key, which the device pins: from now on it trusts authors' keys only
    /// through certificates this key signed (optional for hubs older than certificates).
    public var hubKey: PublicDeviceKey?
    /// The hub's certificate of the device's own key.
    public var certificate: DeviceCertificate?

    public init(
        credential: String, hub: ReplicaID, name: String, hubKey: PublicDeviceKey? = nil, certificate: DeviceCertificate? = nil
    ) {
        self.credential = credential
        self.hub = hub
        self.name = name
        self.hubKey = hubKey
        self.certificate = certificate
    }
}

/// Enrolled devices' public keys by replica id, as the hub serves them in the exchange. On the
/// wire, a JSON object from replica id (hex) to the key (base64).
public struct DeviceKeyDirectory: Codable, Sendable, Hashable {
    public var keys: [ReplicaID: PublicDeviceKey]

    public init(_ keys: [ReplicaID: PublicDeviceKey] = [:]) { self.keys = keys }

    public var isEmpty: Bool { keys.isEmpty }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode([String: PublicDeviceKey].self)
        var keys: [ReplicaID: PublicDeviceKey] = [:]
        for (text, key) in raw {
            guard let id = ReplicaID(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "A key directory is keyed by replica ids.")
            }
            keys[id] = key
        }
        self.keys = keys
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: keys.map { ($0.key.hex, $0.value) }))
    }
}
