public import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, with the part of Foundation's `Process` API the
/// tests use.
///
/// Foundation's `Process.run()` on Linux (Swift 6.3.1) crashes now and then: before it spawns, it
/// lists `/proc/self/fd` and copies each entry's whole 256-byte `d_name`, which reads past the end
/// of glibc's readdir buffer when the listing is long (swift-corelibs-foundation #5472, fixed after
/// this toolchain). A parallel suite holds over a thousand descriptors (SQLite files of many
/// replicas and hubs), and crashed in it (signal 11 in a `memmove` inside `run()`) in two of three
/// runs. This type never lists descriptors: the child closes everything above 2 with
/// `posix_spawn_file_actions_addclosefrom_np`.
public final class SpawnedProcess: @unchecked Sendable {
    public var executableURL: URL?
    public var arguments: [String] = []
    /// The child's environment; nil inherits this process's.
    public var environment: [String: String]?
    public var currentDirectoryURL: URL?
    /// A `FileHandle` or a `Pipe` (its writing end for output, its reading end for input); nil inherits.
    public var standardInput: Any?
    public var standardOutput: Any?
    public var standardError: Any?

    private let state = Mutex<(pid: pid_t, status: Int32?)>((0, nil))

    public init() {}

    public var processIdentifier: Int32 { state.withLock { $0.pid } }

    /// Starts the child. Throws when it cannot be spawned.
    public func run() throws {
        guard let executable = executableURL?.path else { throw CLIRunnerError("no executable to start") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var parentEnds: [FileHandle] = []
        for (target, handle) in [(0, standardInput), (1, standardOutput), (2, standardError)] {
            guard let fd = Self.descriptor(of: handle, forInput: target == 0, parentEnds: &parentEnds) else { continue }
            posix_spawn_file_actions_adddup2(&actions, fd, Int32(target))
        }
        guard Self.closeFrom(&actions, 3) == 0 else { throw CLIRunnerError("posix_spawn cannot close inherited descriptors") }
        if let directory = currentDirectoryURL?.path {
            guard Self.changeDirectory(&actions, directory) == 0 else {
                throw CLIRunnerError("posix_spawn cannot change the directory to \(directory)")
            }
        }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let variables = environment ?? ProcessInfo.processInfo.environment
        let envp = variables.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else { throw CLIRunnerError("cannot start \(executable): error \(result)") }
        // The child holds its ends of the pipes now.
        for end in parentEnds { try? end.close() }
        state.withLock { $0 = (pid, nil) }
    }

    /// Whether the child has not exited yet (reaps it when it has).
    public var isRunning: Bool { reap(blocking: false) == nil }

    /// Waits until the child exits.
    public func waitUntilExit() { _ = reap(blocking: true) }

    /// The exit code, or the signal that ended the child.
    public var terminationStatus: Int32 {
        let status = reap(blocking: false) ?? 0
        return Self.exited(status) ? (status >> 8) & 0xff : status & 0x7f
    }

    /// Whether the child exited or was ended by a signal.
    public var terminationReason: Process.TerminationReason {
        Self.exited(reap(blocking: false) ?? 0) ? .exit : .uncaughtSignal
    }

    private static func exited(_ status: Int32) -> Bool { status & 0x7f == 0 }

    /// The child's wait status once it exited; nil while it runs.
    private func reap(blocking: Bool) -> Int32? {
        let (pid, known) = state.withLock { ($0.pid, $0.status) }
        if let known { return known }
        guard pid > 0 else { return nil }
        var status: Int32 = 0
        var result: pid_t
        repeat {
            result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
        } while result < 0 && errno == EINTR
        guard result == pid else { return nil }
        state.withLock { $0.status = status }
        return status
    }

    private static func descriptor(of handle: Any?, forInput: Bool, parentEnds: inout [FileHandle]) -> Int32? {
        switch handle {
        case let file as FileHandle:
            return file.fileDescriptor
        case let pipe as Pipe:
            let childEnd = forInput ? pipe.fileHandleForReading : pipe.fileHandleForWriting
            parentEnds.append(childEnd)
            return childEnd.fileDescriptor
        default:
            return nil
        }
    }

    /// `posix_spawn_file_actions_addchdir_np` (glibc 2.29), looked up at run time.
    private static func changeDirectory(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ path: String) -> Int32 {
        typealias AddChdir = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addchdir_np") else { return -1 }
        return path.withCString { unsafeBitCast(symbol, to: AddChdir.self)(actions, $0) }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34), looked up at run time.
    private static func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) -> Int32 {
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else {
            return -1
        }
        return unsafeBitCast(symbol, to: CloseFrom.self)(actions, lowest)
    }
}

/// Starts `process`, one start at a time in this test process.
public func spawn(_ process: SpawnedProcess) throws {
    try spawnLock.withLock { _ in try process.run() }
}

private let spawnLock = Mutex(())
