import Foundation
import SyncEngine

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A private folder of files opened in the user's editor: made with `mkdtemp` (mode 0700), each
/// file created 0600 (reference copies 0400), removed by ``remove()`` or kept with only the file
/// the user edited (``keepEdited()``).
struct EditorSession {
    /// The folder, such as `/tmp/vigil-edit-Ab12Cd`.
    let folder: URL
    /// The file whose content is written back.
    let edited: URL
    /// Files opened beside it for reference (read-only).
    private(set) var references: [URL] = []

    /// Makes the folder and the file to edit, named `name`, holding `text`.
    init(name: String, text: String) throws {
        var template = Array(
            FileManager.default.temporaryDirectory.appendingPathComponent("vigil-edit-XXXXXX").path.utf8CString)
        let made = template.withUnsafeMutableBufferPointer { buffer in buffer.baseAddress.flatMap { mkdtemp($0) } }
        guard made != nil else {
            throw InvalidInput(
                "Cannot make a private folder for the edit in \(FileManager.default.temporaryDirectory.path); check that TMPDIR is writable."
            )
        }
        folder = URL(
            fileURLWithPath: String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self))
        chmod(folder.path, 0o700)
        edited = folder.appendingPathComponent(name)
        try Self.create(edited, text, mode: 0o600)
    }

    /// Adds a read-only reference file named `name` holding `text`.
    mutating func addReference(name: String, text: String) throws {
        let url = folder.appendingPathComponent(name)
        try Self.create(url, text, mode: 0o400)
        references.append(url)
    }

    private static func create(_ url: URL, _ text: String, mode: mode_t) throws {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode)
        guard descriptor >= 0 else {
            throw InvalidInput("Cannot create \(url.path) for the edit; check the temporary folder.")
        }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if result < 0, errno == EINTR { continue }
            guard result > 0 else { throw InvalidInput("Cannot write \(url.path) for the edit; the disk may be full.") }
            written += result
        }
    }

    /// The edited file's bytes (at most `maximumSize` + 1, so a larger one is refused later); nil
    /// when the editor removed it.
    func readEdited(maximumSize: Int) throws -> Data? {
        guard let handle = FileHandle(forReadingAtPath: edited.path) else { return nil }
        defer { try? handle.close() }
        do {
            return try handle.read(upToCount: maximumSize + 1) ?? Data()
        } catch {
            throw InvalidInput("Cannot read the edited file \(edited.path).")
        }
    }

    /// Removes the folder and everything in it.
    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }

    /// Removes the reference files and keeps the edited one; returns its path.
    func keepEdited() -> String {
        for reference in references { try? FileManager.default.removeItem(at: reference) }
        return edited.path
    }
}

/// The user's editor: `$VISUAL`, else `$EDITOR`, else `vi`, a shell command that may carry
/// arguments, run as `/bin/sh -c 'EDITOR "$@"' sh FILE…` so that every path reaches it quoted.
enum Editor {
    /// The editor command from `environment`.
    static func command(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        for name in ["VISUAL", "EDITOR"] {
            if let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty { return value }
        }
        return "vi"
    }

    /// Runs `command` on `files` with the terminal, and waits for it. While it runs, this process
    /// ignores SIGINT and SIGQUIT (the editor gets them, as with git). Returns its exit status, or
    /// 128 + the signal that ended it.
    static func run(_ command: String, files: [String]) throws -> Int32 {
        let arguments = ["/bin/sh", "-c", command + " \"$@\"", "sh"] + files
        let environment = ProcessInfo.processInfo.environment.map { "\($0.key)=\($0.value)" }
        let previousInterrupt = signal(SIGINT, SIG_IGN)
        let previousQuit = signal(SIGQUIT, SIG_IGN)
        defer {
            signal(SIGINT, previousInterrupt)
            signal(SIGQUIT, previousQuit)
        }
        let pid = try spawn(arguments, environment: environment)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            guard errno == EINTR else { throw InvalidInput("Lost track of the editor `\(command)`.") }
        }
        let signalled = status & 0x7f
        return signalled == 0 ? (status >> 8) & 0xff : 128 + signalled
    }

    /// Starts `arguments` with SIGINT and SIGQUIT back to their default actions.
    private static func spawn(_ arguments: [String], environment: [String]) throws -> pid_t {
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        sigaddset(&defaults, SIGINT)
        sigaddset(&defaults, SIGQUIT)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF))
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = environment.map { strdup($0) } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, "/bin/sh", nil, &attributes, argv, envp)
        guard result == 0 else {
            throw InvalidInput("Cannot start the editor with /bin/sh (error \(result)); set VISUAL or EDITOR.")
        }
        return pid
    }
}
