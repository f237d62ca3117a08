import Foundation
import SyncEngine

/// The file that holds a PostgreSQL hub's signing key, on each hub machine, so that the database
/// (and every `pg_dump` of it) holds only the key's public half (`syncd serve --hub-key`).
///
/// Its form is the SQLite hub's key file (`hub.sqlite.key`): one line, the base64 of the 32-byte
/// Ed25519 private key, mode 0600. A file others can read is refused.
struct PostgresHubKeyFile {
    let path: String

    /// The key in the file; nil when there is no file.
    func load() throws -> DeviceKey? {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { return nil }
            throw failure("read")
        }
        guard info.st_mode & 0o077 == 0 else {
            throw PostgresStoreError(.hubKeyFile, "The hub key file \(path) can be read by other users.")
        }
        guard let data = FileManager.default.contents(atPath: path),
            let raw = Data(base64Encoded: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)),
            let key = try? DeviceKey(rawRepresentation: raw)
        else {
            throw PostgresStoreError(.hubKeyFile, "The hub key file \(path) does not hold the base64 of a 32-byte Ed25519 key.")
        }
        return key
    }

    /// Writes `key` to a new file at `path`, whole and synced before it appears there (a file
    /// beside it, linked in place): false, with nothing written, when a file is already there.
    func create(_ key: DeviceKey) throws -> Bool {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw failure("write") }
        defer { unlink(temporary) }
        let text = Array((key.rawRepresentation.base64EncodedString() + "\n").utf8)
        let written = fchmod(descriptor, 0o600) == 0 && write(descriptor, text, text.count) == text.count && fsync(descriptor) == 0
        close(descriptor)
        guard written else { throw failure("write") }
        guard link(temporary, path) == 0 else {
            if errno == EEXIST { return false }
            throw failure("write")
        }
        return true
    }

    /// Makes the file hold `key`: writes it when there is no file, else the file must hold it
    /// already (``PostgresStoreError/Code/hubKeyMismatch`` otherwise; `whose` says whose key it is,
    /// for the message).
    func keep(_ key: DeviceKey, whose: String) throws {
        let held = try load()
        if held == nil, try create(key) { return }
        guard try (held ?? load())?.rawRepresentation == key.rawRepresentation else {
            throw PostgresStoreError(.hubKeyMismatch, "The hub key file \(path) holds another key than \(whose).")
        }
    }

    /// Removes the file (a key this process wrote that turned out not to be the hub's).
    func remove() { unlink(path) }

    private func failure(_ action: String) -> PostgresStoreError {
        PostgresStoreError(.hubKeyFile, "Cannot \(action) the hub key file \(path): \(String(cString: strerror(errno))).")
    }
}
