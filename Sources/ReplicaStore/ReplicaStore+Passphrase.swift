public import AtRest
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ReplicaStore {
    /// Wraps the data key of the encrypted replica at `path` under `newPassphrase`, with
    /// `options.keyDerivation` (so the cost can be raised) and a new salt; the current passphrase
    /// comes from `options.passphrase`. Only the `.datakey` file changes: the new one replaces it
    /// atomically, then the old one's bytes are overwritten with random ones, so the data key
    /// wrapped under the old passphrase does not stay on the disk. Nothing else is re-encrypted.
    /// The new file's alternate slot is random: a duress passphrase must be set again. The duress
    /// passphrase given as the current one destroys the replica as when opening it.
    public static func changePassphrase(at path: String, to newPassphrase: Passphrase, options: Options) throws {
        let keyPath = dataKeyPath(forReplicaAt: path)
        guard let exposed = PrivateFile.isExposed(keyPath) else {
            throw StoreError(.keyFile, "The replica \(path) is not encrypted (it has no data key file).")
        }
        guard !exposed else {
            throw StoreError(.keyFileExposed, "The data key file \(keyPath) can be read or written by other users; it is not used.")
        }
        guard let ask = options.passphrase else {
            throw StoreError(.locked, "The replica \(path) is encrypted and no passphrase was given.")
        }
        let key = try unwrap(path, wrapped: try readWrappedKey(keyPath), passphrase: try ask(), options: options)
        let replacement: Data
        do {
            replacement = try WrappedDataKey.wrap(key, passphrase: newPassphrase, parameters: options.keyDerivation).encoded()
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "Cannot wrap the data key again: \(error.message)")
        }
        try replaceKeyFile(keyPath, with: replacement)
    }

    /// Replaces the data key file at `keyPath` with `content` atomically, then overwrites the old
    /// file's bytes with random ones, so the key wrapped as it was does not stay on the disk.
    static func replaceKeyFile(_ keyPath: String, with content: Data) throws {
        // The old file stays reachable through this descriptor after the rename, to be overwritten.
        let old = openForOverwriting(keyPath)
        defer { if old >= 0 { close(old) } }
        try PrivateFile.write(content, to: keyPath)
        if old >= 0 { shred(old) }
    }

    /// Overwrites the open file `descriptor` with random bytes over its whole length, and syncs it.
    private static func shred(_ descriptor: Int32) {
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_size > 0 else { return }
        var generator = SystemRandomNumberGenerator()
        let noise = (0..<Int(info.st_size)).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
        _ = noise.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        _ = fsync(descriptor)
    }
}

/// The C library's `open`, which the store's own `open` hides inside it.
private func openForOverwriting(_ path: String) -> Int32 { open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
