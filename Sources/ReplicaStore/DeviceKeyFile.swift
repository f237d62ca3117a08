import AtRest
import Foundation
import SyncEngine

/// The file beside a replica that holds its device's private key, readable by the owner only.
///
/// It is `<replica path>.key` and holds the base64 of the 32-byte Ed25519 private key; on an
/// encrypted replica, of that key sealed under the data key.
struct DeviceKeyFile {
    let path: String
    static let label = SealLabel("vigil.device-key")

    init(replicaPath: String) { path = replicaPath + ".key" }

    /// Writes a new key, failing if the file exists; permissions 0600 from the first byte.
    func create(_ key: DeviceKey, cipher: any BodyCipher = PlaintextCipher()) throws {
        let text = try cipher.seal(key.rawRepresentation, label: Self.label).base64EncodedString() + "\n"
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw failure("create") }
        defer { close(descriptor) }
        // The umask may only take bits away from 0600; make it exactly that.
        guard fchmod(descriptor, 0o600) == 0 else { throw failure("create") }
        let written = text.utf8CString.withUnsafeBufferPointer { buffer in
            write(descriptor, buffer.baseAddress, buffer.count - 1)
        }
        guard written == text.utf8.count, fsync(descriptor) == 0 else { throw failure("write") }
    }

    /// The failure to `action` the file, from `errno`: a read-only folder and a full disk are
    /// said as such, so that the command line can tell them apart.
    private func failure(_ action: String) -> StoreError {
        let reason = errno
        let code: StoreError.Code = switch reason {
        case EROFS, EACCES, EPERM: .readOnly
        case ENOSPC, EDQUOT: .diskFull
        default: .keyFile
        }
        return StoreError(code, "Cannot \(action) the device key file \(path): \(String(cString: strerror(reason))).")
    }

    /// Reads the key; refuses a file others can read.
    func load(cipher: any BodyCipher = PlaintextCipher()) throws -> DeviceKey {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw StoreError(.keyFile, "The device key file \(path) is missing; without it this replica cannot sign. Restore it from a backup, or create a new replica.")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw StoreError(.keyFileExposed, "The device key file \(path) can be read by other users; it is not used until only its owner can read it.")
        }
        guard let data = FileManager.default.contents(atPath: path),
            let raw = Data(base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        else {
            throw StoreError(.keyFile, "The device key file \(path) cannot be read or is not base64.")
        }
        guard cipher.isEncrypting || !DataKeyCipher.isSealed(raw) else {
            throw StoreError(.keyFile, "The device key file \(path) is encrypted but the replica is not.")
        }
        do {
            return try DeviceKey(rawRepresentation: try cipher.open(raw, label: Self.label))
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "The device key file \(path) does not open with this replica's data key: \(error.message)")
        }
    }
}
