import Foundation
import Crypto

/// The duress passphrase (Docs/Security.md, "Duress passphrase"): a second passphrase whose
/// verifier sits in the wrapped-key file's ``WrappedDataKey/alternate`` slot, sealed under the key
/// the same scrypt derivation (same salt, same parameters) gives for it. Every file this program
/// writes has that slot, random when no duress passphrase is set, so the file does not tell
/// whether one is; and unlocking derives once and tries both slots whatever the passphrase, so
/// the time taken does not tell either.
extension WrappedDataKey {
    /// What a passphrase opened.
    public enum Unlocked: Sendable {
        /// The replica's data key: the passphrase is the right one.
        case dataKey(DataKey)
        /// The duress passphrase: the caller destroys the replica and makes a decoy, whose data
        /// key it wraps with ``DuressUnlock/wrap(_:)`` (no second derivation).
        case duress(DuressUnlock)
    }

    /// Derives once from `passphrase` and tries both slots; throws
    /// ``AtRestError/Code/wrongPassphrase`` when neither opens.
    public func open(_ passphrase: Passphrase) throws -> Unlocked {
        try check()
        let wrappingKey = try derive(passphrase)
        let real = Self.open(wrapped, under: wrappingKey, label: label)
        let duress = alternate.flatMap { Self.open($0, under: wrappingKey, label: duressLabel) }
        if let real { return .dataKey(DataKey(symmetricKey: SymmetricKey(data: real), id: keyID)) }
        if duress != nil { return .duress(DuressUnlock(wrappingKey: wrappingKey, derivation: derivation)) }
        throw AtRestError(.wrongPassphrase, "The passphrase is wrong.")
    }

    /// This file with `duress` registered in its alternate slot (replacing any earlier one).
    /// Throws ``AtRestError/Code/duressIsPassphrase`` when `duress` opens the data key itself.
    public func settingDuress(_ duress: Passphrase) throws -> WrappedDataKey {
        try check()
        let duressKey = try derive(duress)
        guard Self.open(wrapped, under: duressKey, label: label) == nil else {
            throw AtRestError(.duressIsPassphrase, "The duress passphrase must differ from the passphrase.")
        }
        let marker = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        var file = self
        file.alternate = try ChaChaPoly.seal(marker, using: duressKey, authenticating: duressLabel.bytes).combined
        return file
    }

    /// The alternate slot's associated data: it binds the verifier to this key id and salt, so a
    /// new salt (a changed passphrase) leaves a verifier that no longer opens.
    var duressLabel: SealLabel { SealLabel("vigil.duress", keyID, derivation.salt.base64EncodedString()) }

    private static func open(_ slot: Data, under key: SymmetricKey, label: SealLabel) -> Data? {
        guard let box = try? ChaChaPoly.SealedBox(combined: slot) else { return nil }
        return try? ChaChaPoly.open(box, using: key, authenticating: label.bytes)
    }
}

/// The key the duress passphrase derived, kept only to wrap the decoy replica's new data key
/// without deriving again (a second derivation would show as a second of delay).
public struct DuressUnlock: Sendable {
    let wrappingKey: SymmetricKey
    let derivation: WrappedDataKey.Derivation

    /// A wrapped-key file for `key`, which the duress passphrase opens as the real one, with a
    /// random alternate slot.
    public func wrap(_ key: DataKey) throws -> WrappedDataKey {
        var file = WrappedDataKey(
            format: WrappedDataKey.currentFormat, keyID: key.id, derivation: derivation,
            cipher: WrappedDataKey.cipherName, wrapped: Data(), alternate: WrappedDataKey.randomSlot())
        try file.seal(key, under: wrappingKey)
        return file
    }
}
