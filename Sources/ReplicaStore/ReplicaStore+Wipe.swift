import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What ``ReplicaStore/wipe(at:)`` did.
public struct WipeReport: Sendable, Hashable {
    /// Whether a wrapped data key was overwritten before anything was removed (crypto-shredding):
    /// false for a replica in clear, whose removed files may remain readable on the disk.
    public var shreddedDataKey: Bool
    /// The files removed.
    public var removed: [String]
}

extension ReplicaStore {
    /// The files a replica at `path` consists of, the wrapped data key first.
    static func files(ofReplicaAt path: String) -> [String] {
        [
            dataKeyPath(forReplicaAt: path), path + ".key", path + ".credential", path, path + "-wal", path + "-shm",
            UnlockFailures(replicaPath: path).path, path + ".budget",
        ]
    }

    /// Destroys the replica at `path` without its passphrase, in time independent of its size:
    /// first its wrapped data key is overwritten in place with random bytes and synced (after
    /// that, nothing sealed under the data key can be opened by anyone: bodies, device key,
    /// credential), then the key file and credential are overwritten the same way, then every file
    /// is removed and the folder synced. Refuses a file that is not a Vigil replica and has no
    /// data key beside it; with one, the key is shredded even when the database is damaged,
    /// truncated or gone (before, such a replica kept its key, and a captor with the passphrase
    /// read what was left).
    public static func wipe(at path: String) throws -> WipeReport {
        let hasDataKey = FileManager.default.fileExists(atPath: dataKeyPath(forReplicaAt: path))
        guard FileManager.default.fileExists(atPath: path) || hasDataKey else {
            throw StoreError(.replicaMissing, "There is no replica at \(path).")
        }
        if !hasDataKey { try checkIsReplica(at: path, options: Options()) }
        var report = WipeReport(shreddedDataKey: false, removed: [])
        let files = files(ofReplicaAt: path)
        for file in files.prefix(3) where FileManager.default.fileExists(atPath: file) {
            try overwrite(file)
            if file == files[0] { report.shreddedDataKey = true }
        }
        for file in files where FileManager.default.fileExists(atPath: file) {
            guard unlink(file) == 0 else { throw PrivateFile.failure("remove", file) }
            report.removed.append(file)
        }
        let folder = PrivateFile.parentFolder(of: path)
        let descriptor = systemOpen(folder.isEmpty ? "." : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = fsync(descriptor)
            close(descriptor)
        }
        return report
    }

    /// Overwrites the file at `path` in place (same blocks, on file systems that do not copy on
    /// write) with random bytes, and syncs it.
    private static func overwrite(_ path: String) throws {
        let descriptor = systemOpen(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC)
        guard descriptor >= 0 else { throw PrivateFile.failure("overwrite", path) }
        defer { close(descriptor) }
        var size = stat()
        guard fstat(descriptor, &size) == 0 else { throw PrivateFile.failure("overwrite", path) }
        var remaining = max(Int(size.st_size), 1)
        var generator = SystemRandomNumberGenerator()
        while remaining > 0 {
            let chunk = (0..<min(remaining, 4096)).map { _ in UInt8.random(in: 0 ... .max, using: &generator) }
            let written = chunk.withUnsafeBytes { systemWrite(descriptor, $0.baseAddress, $0.count) }
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { throw PrivateFile.failure("overwrite", path) }
            remaining -= written
        }
        guard fsync(descriptor) == 0 else { throw PrivateFile.failure("overwrite", path) }
    }
}

/// The C library's `open` and `write`, which the store's own `open` and `write` hide inside it.
private func systemOpen(_ path: String, _ flags: Int32) -> Int32 { open(path, flags) }

private func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer?, _ count: Int) -> Int {
    write(descriptor, bytes, count)
}
