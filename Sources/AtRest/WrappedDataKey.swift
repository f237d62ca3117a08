public import Foundation
import Crypto
import CryptoExtras

/// A replica's data key wrapped by a key derived from its passphrase: the content of the small
/// file `<replica>.datakey` (JSON). It carries its format, the key's id, the scrypt parameters and
/// salt, and the wrapped key (ChaCha20-Poly1305 under the derived key, authenticating everything
/// else in the file), so parameters can be raised later by wrapping the same key again.
public struct WrappedDataKey: Sendable, Hashable, Codable {
    /// The format this program writes.
    public static let currentFormat = 1
    /// The largest file accepted.
    public static let maximumFileSize = 4096
    static let algorithm = "scrypt"
    static let cipherName = "chacha20-poly1305"
    static let saltLength = 32

    /// How the wrapping key is derived: scrypt's parameters and salt.
    public struct Derivation: Sendable, Hashable, Codable {
        public var algorithm: String
        public var parameters: ScryptParameters
        public var salt: Data
    }

    public var format: Int
    public var keyID: String
    public var derivation: Derivation
    public var cipher: String
    public var wrapped: Data
    /// A second slot the size of ``wrapped``, not covered by its authentication: random bytes, or
    /// the duress passphrase's verifier (``settingDuress(_:)``), which nobody without that
    /// passphrase can tell from random. Absent only from files written before it existed.
    public var alternate: Data?

    /// Wraps `key` under a key derived from `passphrase` with `parameters` and a new random salt.
    public static func wrap(_ key: DataKey, passphrase: Passphrase, parameters: ScryptParameters) throws -> WrappedDataKey {
        try parameters.validate()
        let salt = SymmetricKey(size: SymmetricKeySize(bitCount: saltLength * 8)).withUnsafeBytes { Data($0) }
        var file = WrappedDataKey(
            format: currentFormat, keyID: key.id,
            derivation: Derivation(algorithm: algorithm, parameters: parameters, salt: salt),
            cipher: cipherName, wrapped: Data(), alternate: randomSlot())
        try file.seal(key, under: try file.derive(passphrase))
        return file
    }

    /// Seals `key` into ``wrapped`` under `wrappingKey`.
    mutating func seal(_ key: DataKey, under wrappingKey: SymmetricKey) throws {
        let raw = key.symmetricKey.withUnsafeBytes { Data($0) }
        wrapped = try ChaChaPoly.seal(raw, using: wrappingKey, authenticating: label.bytes).combined
    }

    /// Random bytes the size of a slot (nonce, 32 bytes sealed, tag).
    static func randomSlot() -> Data {
        SymmetricKey(size: SymmetricKeySize(bitCount: slotLength * 8)).withUnsafeBytes { Data($0) }
    }

    static let slotLength = 12 + 32 + 16

    /// The data key; throws ``AtRestError/Code/wrongPassphrase`` when `passphrase` does not unwrap it.
    public func unwrap(_ passphrase: Passphrase) throws -> DataKey {
        try check()
        let wrappingKey = try derive(passphrase)
        let raw: Data
        do {
            raw = try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: wrapped), using: wrappingKey, authenticating: label.bytes)
        } catch {
            throw AtRestError(.wrongPassphrase, "The passphrase is wrong.")
        }
        return DataKey(symmetricKey: SymmetricKey(data: raw), id: keyID)
    }

    /// The same data key wrapped under `newPassphrase` with `parameters` and a new salt; throws
    /// ``AtRestError/Code/wrongPassphrase`` when `current` does not unwrap it.
    public func rewrapped(_ current: Passphrase, as newPassphrase: Passphrase, parameters: ScryptParameters) throws -> WrappedDataKey {
        try Self.wrap(try unwrap(current), passphrase: newPassphrase, parameters: parameters)
    }

    /// The file's bytes.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Reads a file's bytes; refuses what this program did not write (``AtRestError/Code/malformedKeyFile``)
    /// or a newer format (``AtRestError/Code/unsupportedFormat``).
    public static func decode(_ data: Data) throws -> WrappedDataKey {
        guard data.count <= maximumFileSize,
            let file = try? JSONDecoder().decode(WrappedDataKey.self, from: data)
        else { throw AtRestError(.malformedKeyFile, "The data key file is not one this program wrote.") }
        try file.check()
        return file
    }

    func check() throws {
        guard format <= Self.currentFormat else {
            throw AtRestError(.unsupportedFormat, "The data key file has format \(format), newer than this program's \(Self.currentFormat).")
        }
        guard format == Self.currentFormat, derivation.algorithm == Self.algorithm, cipher == Self.cipherName,
            (16...64).contains(derivation.salt.count), wrapped.count == Self.slotLength,
            alternate.map({ $0.count == Self.slotLength }) ?? true, DataKey.isWellFormedID(keyID)
        else { throw AtRestError(.malformedKeyFile, "The data key file is not one this program wrote.") }
        try derivation.parameters.validate()
    }

    func derive(_ passphrase: Passphrase) throws -> SymmetricKey {
        let parameters = derivation.parameters
        do {
            return try KDF.Scrypt.deriveKey(
                from: passphrase.bytes, salt: derivation.salt, outputByteCount: 32, rounds: 1 << parameters.logN,
                blockSize: parameters.r, parallelism: parameters.p)
        } catch {
            throw AtRestError(.derivationFailed, "Deriving the key from the passphrase failed (not enough memory?).")
        }
    }

    /// Everything in the file but the two slots, authenticated with the wrapped key.
    var label: SealLabel {
        let parameters = derivation.parameters
        return SealLabel(
            "vigil.datakey", "\(format)", keyID, derivation.algorithm, "\(parameters.logN)", "\(parameters.r)",
            "\(parameters.p)", derivation.salt.base64EncodedString(), cipher)
    }
}
