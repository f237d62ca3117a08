public import Foundation
import Crypto

/// A device's Ed25519 signing key. Every version a replica writes is signed with it.
public struct DeviceKey: Sendable {
    private let key: Curve25519.Signing.PrivateKey

    /// A new random key.
    public init() { key = Curve25519.Signing.PrivateKey() }

    /// The key whose 32-byte private representation is `rawRepresentation`.
    public init(rawRepresentation: Data) throws {
        do {
            key = try Curve25519.Signing.PrivateKey(rawRepresentation: rawRepresentation)
        } catch {
            throw SyncEngineError(.invalidKey, "The device key file does not hold a 32-byte Ed25519 key.")
        }
    }

    /// The private key's 32 bytes, for the protected key file.
    public var rawRepresentation: Data { key.rawRepresentation }

    /// The public half, which others use to verify this device's versions.
    public var publicKey: PublicDeviceKey { PublicDeviceKey(key.publicKey) }

    /// Returns `version` with its signature set.
    public func sign(_ version: Version) throws -> Version {
        var signed = version
        signed.signature = try key.signature(for: version.canonicalEncoding)
        return signed
    }

    /// This key's signature over `bytes` (64 bytes).
    public func signature(for bytes: Data) throws -> Data {
        try key.signature(for: bytes)
    }
}

/// A device's public Ed25519 key.
public struct PublicDeviceKey: Hashable, Sendable, Codable {
    /// The 32 raw bytes.
    public let rawRepresentation: Data

    init(_ key: Curve25519.Signing.PublicKey) { rawRepresentation = key.rawRepresentation }

    /// Checks that `rawRepresentation` is a valid Ed25519 public key.
    public init(rawRepresentation: Data) throws {
        do {
            _ = try Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        } catch {
            throw SyncEngineError(.invalidKey, "A device public key is 32 bytes of Ed25519 key.")
        }
        self.rawRepresentation = rawRepresentation
    }

    /// Whether `version.signature` is this key's signature over the version's canonical encoding.
    public func isValidSignature(of version: Version) -> Bool {
        guard version.signature.count == 64,
            let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { return false }
        return key.isValidSignature(version.signature, for: version.canonicalEncoding)
    }

    /// Whether `signature` is this key's signature over `bytes`.
    public func isValidSignature(_ signature: Data, for bytes: Data) -> Bool {
        guard signature.count == 64, let key = try? Curve25519.Signing.PublicKey(rawRepresentation: rawRepresentation)
        else { return false }
        return key.isValidSignature(signature, for: bytes)
    }

    /// Base64 of the raw bytes.
    public var base64: String { rawRepresentation.base64EncodedString() }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let data = Data(base64Encoded: try container.decode(String.self)) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "A public key is base64.")
        }
        try self.init(rawRepresentation: data)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(base64)
    }
}
