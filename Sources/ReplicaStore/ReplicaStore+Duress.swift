public import AtRest
import Foundation

/// Unlocking with a passphrase that may be the duress one, and registering a duress passphrase
/// (Docs/Security.md, "Duress passphrase").
extension ReplicaStore {
    /// The data key of the encrypted replica at `path`, unwrapped with the passphrase
    /// `options.passphrase` gives (for an unlock agent to hold). Wrong passphrases wait as when
    /// opening; the duress passphrase destroys the replica and returns the decoy's key.
    public static func dataKey(at path: String, options: Options) throws -> DataKey {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.replicaMissing, "There is no replica at \(path).")
        }
        try checkIsReplica(at: path, options: options)
        let keyPath = try usableDataKeyPath(path)
        guard let ask = options.passphrase else {
            throw StoreError(.locked, "The replica \(path) is encrypted and no passphrase was given.")
        }
        let wrapped = try readWrappedKey(keyPath)
        return try unwrap(path, wrapped: wrapped, passphrase: try ask(), options: options)
    }

    /// The id of the data key of the encrypted replica at `path` (it names the replica's unlock
    /// agent); nil when the replica is not encrypted.
    public static func dataKeyID(at path: String) throws -> String? {
        let keyPath = dataKeyPath(forReplicaAt: path)
        guard FileManager.default.fileExists(atPath: keyPath) else { return nil }
        return try readWrappedKey(keyPath).keyID
    }

    /// Registers `duress` as the duress passphrase of the encrypted replica at `path`, replacing
    /// any earlier one: only the `.datakey` file changes (replaced, the old one overwritten). The
    /// caller has checked that its user may (it opened the replica). Throws
    /// ``AtRestError/Code/duressIsPassphrase`` when `duress` is the replica's passphrase.
    public static func setDuress(at path: String, duress: Passphrase) throws {
        let keyPath = try usableDataKeyPath(path)
        let replacement: Data
        do {
            replacement = try readWrappedKey(keyPath).settingDuress(duress).encoded()
        } catch let error as AtRestError where error.code == .duressIsPassphrase {
            throw error
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "The data key file \(keyPath) cannot be used: \(error.message)")
        }
        try replaceKeyFile(keyPath, with: replacement)
    }

    /// The data key `passphrase` opens in `wrapped`, after the growing delay wrong passphrases
    /// earn. The duress passphrase opens too, silently: the replica is destroyed and replaced by
    /// an empty one (``replaceUnderDuress(_:duress:options:)``) whose key is returned.
    static func unwrap(_ path: String, wrapped: WrappedDataKey, passphrase: Passphrase, options: Options) throws -> DataKey {
        let failures = UnlockFailures(replicaPath: path)
        try failures.wait(base: options.unlockDelay)
        let unlocked: WrappedDataKey.Unlocked
        do {
            unlocked = try wrapped.open(passphrase)
        } catch let error as AtRestError where error.code == .wrongPassphrase {
            throw StoreError(.wrongPassphrase, "The passphrase does not open the replica \(path); nothing was changed.")
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "The data key file \(dataKeyPath(forReplicaAt: path)) cannot be used: \(error.message)")
        }
        failures.reset()
        switch unlocked {
        case .dataKey(let key): return key
        case .duress(let duress): return try replaceUnderDuress(path, duress: duress, options: options)
        }
    }

    /// Destroys the replica at `path` as ``wipe(at:)`` does (its data key overwritten first), and
    /// leaves in its place a new, empty encrypted replica (new id, new device key, no hub) whose
    /// data key `duress` wraps with the same salt and cost; returns that key.
    static func replaceUnderDuress(_ path: String, duress: DuressUnlock, options: Options) throws -> DataKey {
        _ = try wipe(at: path)
        var plain = options
        plain.passphrase = nil
        plain.unlockedKey = nil
        try create(at: path, options: plain).database.close()
        let key = DataKey.random()
        let wrapped: Data
        do {
            wrapped = try duress.wrap(key).encoded()
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "Cannot make the data key: \(error.message)")
        }
        let keyPath = dataKeyPath(forReplicaAt: path)
        try PrivateFile.createEmpty(at: keyPath)
        try PrivateFile.write(wrapped, to: keyPath)
        try seal(at: path, cipher: DataKeyCipher(key: key), options: plain)
        return key
    }

    /// The path of the replica's data key file, which exists and is private.
    private static func usableDataKeyPath(_ path: String) throws -> String {
        let keyPath = dataKeyPath(forReplicaAt: path)
        guard let exposed = PrivateFile.isExposed(keyPath) else {
            throw StoreError(.keyFile, "The replica \(path) is not encrypted (it has no data key file).")
        }
        guard !exposed else {
            throw StoreError(.keyFileExposed, "The data key file \(keyPath) can be read or written by other users; it is not used.")
        }
        return keyPath
    }
}
