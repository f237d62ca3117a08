public import Foundation
import Crypto

/// How a replica keeps the content it must not leave readable (bodies, the device key, the hub
/// credential): in clear, or sealed under its data key. Chosen once, when the replica is opened.
public protocol BodyCipher: Sendable {
    /// Whether this cipher seals anything (false for ``PlaintextCipher``).
    var isEncrypting: Bool { get }
    /// The data key's id, for an encrypting cipher: the replica records it to refuse another key.
    var keyID: String? { get }
    /// `plaintext` as it is to be stored for `label`.
    func seal(_ plaintext: Data, label: SealLabel) throws -> Data
    /// The plaintext of `stored`, which was sealed for `label`.
    func open(_ stored: Data, label: SealLabel) throws -> Data
}

/// A replica without encryption at rest: stores everything as it is.
public struct PlaintextCipher: BodyCipher {
    public init() {}
    public var isEncrypting: Bool { false }
    public var keyID: String? { nil }
    public func seal(_ plaintext: Data, label: SealLabel) throws -> Data { plaintext }
    public func open(_ stored: Data, label: SealLabel) throws -> Data { stored }
}

/// Seals with ChaCha20-Poly1305 under a replica's data key, a random 96-bit nonce per value, and
/// the value's ``SealLabel`` as associated data.
///
/// A sealed value is `00 56 01` (a NUL, "V", format 1: no JSON text or base64 starts so), the
/// nonce, the ciphertext and the 16-byte tag.
public struct DataKeyCipher: BodyCipher {
    /// The bytes every sealed value starts with.
    public static let header = Data([0x00, 0x56, 0x01])
    /// What sealing adds to a value's length.
    public static let overhead = header.count + 12 + 16

    let key: DataKey

    public init(key: DataKey) { self.key = key }

    public var isEncrypting: Bool { true }
    public var keyID: String? { key.id }

    public func seal(_ plaintext: Data, label: SealLabel) throws -> Data {
        let box = try ChaChaPoly.seal(plaintext, using: key.symmetricKey, authenticating: label.bytes)
        return Self.header + box.combined
    }

    public func open(_ stored: Data, label: SealLabel) throws -> Data {
        guard Self.isSealed(stored) else {
            throw AtRestError(.notSealed, "A value that should be encrypted is stored in clear.")
        }
        guard stored.count >= Self.overhead else {
            throw AtRestError(.tampered, "An encrypted value is truncated.")
        }
        do {
            let box = try ChaChaPoly.SealedBox(combined: stored.dropFirst(Self.header.count))
            return try ChaChaPoly.open(box, using: key.symmetricKey, authenticating: label.bytes)
        } catch {
            throw AtRestError(.tampered, "An encrypted value does not open: it was altered, or moved from another row.")
        }
    }

    /// Whether `stored` starts with the sealed header.
    public static func isSealed(_ stored: Data) -> Bool { stored.starts(with: header) }
}
