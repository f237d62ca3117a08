public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Files that hold reports or secrets (replicas, key and credential files, exports): created
/// readable and writable by their owner only (0600), in folders created for the owner only
/// (0700), with the mode given at creation so that no other user can open them in between.
///
/// SQLite creates a database's `-wal` and `-shm` files with the database file's mode, so a
/// replica whose file was created here keeps them private too.
public enum PrivateFile {
    /// The mode of the files created here.
    static let fileMode: mode_t = 0o600
    /// The mode of the folders created here.
    static let folderMode: mode_t = 0o700

    /// Creates `folder` and every missing folder above it, each 0700; folders that exist are left
    /// as they are.
    public static func createFolders(_ folder: String) throws {
        guard !folder.isEmpty, !FileManager.default.fileExists(atPath: folder) else { return }
        let parent = parentFolder(of: folder)
        if !parent.isEmpty, parent != folder { try createFolders(parent) }
        guard mkdir(folder, folderMode) == 0 || errno == EEXIST else { throw failure("create the folder", folder) }
        // mkdir applies the umask, which may only take bits away; give the owner its three back.
        _ = chmod(folder, folderMode)
    }

    /// The folder part of `path`: everything before its last `/` (trailing ones aside), `/` for a
    /// file at the root, and empty for a bare name. (Foundation's `deletingLastPathComponent` traps
    /// on some relative paths on Linux, such as a one-letter folder name.)
    public static func parentFolder(of path: String) -> String {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return "" }
        var parent = trimmed[..<slash]
        while parent.count > 1, parent.hasSuffix("/") { parent = parent.dropLast() }
        return parent.isEmpty ? "/" : String(parent)
    }

    /// Creates an empty file at `path`, 0600, failing if anything exists there.
    public static func createEmpty(at path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw failure("create", path) }
        defer { close(descriptor) }
        guard fchmod(descriptor, fileMode) == 0 else { throw failure("create", path) }
    }

    /// Writes `data` to `path` through a new 0600 file beside it, renamed over `path` once
    /// written and synced: readers see the old content or the new, and the new file is private
    /// from its first byte whatever the old one's mode was.
    public static func write(_ data: Data, to path: String) throws {
        let temporary = path + ".tmp-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, fileMode)
        guard descriptor >= 0 else { throw failure("write", path) }
        var written = fchmod(descriptor, fileMode) == 0 && writeAll(data, to: descriptor) && fsync(descriptor) == 0
        var error = written ? nil : failure("write", path)
        close(descriptor)
        if written, rename(temporary, path) != 0 {
            written = false
            error = failure("write", path)
        }
        guard written else {
            unlink(temporary)
            throw error ?? failure("write", path)
        }
    }

    private static func writeAll(_ data: Data, to descriptor: Int32) -> Bool {
        data.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return true }
            var offset = 0
            while offset < buffer.count {
                let count = systemWrite(descriptor, base + offset, buffer.count - offset)
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { return false }
                offset += count
            }
            return true
        }
    }

    /// Whether the file at `path` can be read or written by users other than its owner (nil when
    /// there is no such file).
    public static func isExposed(_ path: String) -> Bool? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return info.st_mode & 0o077 != 0
    }

    /// The failure to `action` `path`, from `errno`: a read-only folder and a full disk are said
    /// as such, so that the command line can tell them apart.
    static func failure(_ action: String, _ path: String) -> StoreError {
        let reason = errno
        let code: StoreError.Code = switch reason {
        case EROFS, EACCES, EPERM: .readOnly
        case ENOSPC, EDQUOT: .diskFull
        case EEXIST: .replicaExists
        default: .io
        }
        return StoreError(code, "Cannot \(action) \(path): \(String(cString: strerror(reason))).")
    }

    private static func systemWrite(_ descriptor: Int32, _ bytes: UnsafeRawPointer, _ count: Int) -> Int {
        #if canImport(Glibc)
        Glibc.write(descriptor, bytes, count)
        #else
        Darwin.write(descriptor, bytes, count)
        #endif
    }
}
