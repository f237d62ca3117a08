public import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A sandbox for tests that start the real `syncd` and `fieldcli` executables: a temporary
/// folder, the processes started in it, and their captured output.
///
/// Every wait is bounded. ``tearDown()`` kills whatever is still running and removes the folder;
/// ``withProcessFixture(_:)`` calls it however the test ends. Set `VIGIL_KEEP_TEST_DIRS=1` to keep
/// the folder (with every process's output) for a post-mortem.
public final class ProcessFixture: Sendable {
    /// The temporary folder; replicas and captured output live here.
    public let directory: URL
    /// The folder holding the built `syncd` and `fieldcli`.
    public let binaries: URL
    private let state = Mutex(State())

    private struct State {
        var children: [ChildProcess] = []
        var runs = 0
    }

    /// Creates an empty temporary folder and finds the built executables. Under
    /// `VIGIL_TEST_ENCRYPTED=1` every child reads ``TemporaryReplica/passphrase`` from a private
    /// file beside the folder (`VIGIL_PASSPHRASE_FILE`), with cheap scrypt (tests only).
    public init() throws {
        binaries = try Self.locateBinaries()
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-process-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if TemporaryReplica.encrypting {
            let text = Data((TemporaryReplica.passphrase + "\n").utf8)
            guard FileManager.default.createFile(atPath: passphraseFile, contents: text, attributes: [.posixPermissions: 0o600]) else {
                throw ProcessFixtureError("Cannot write \(passphraseFile).")
            }
        }
    }

    /// The passphrase file of the children under `VIGIL_TEST_ENCRYPTED=1`.
    private var passphraseFile: String { directory.path + ".passphrase" }

    /// The path of `name` inside the temporary folder.
    public func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Starts `executable` (a name in ``binaries``) with `arguments`; its standard output and error
    /// go to files in the temporary folder. The process is killed by ``tearDown()`` if still running.
    public func start(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:]
    ) throws -> ChildProcess {
        let number = state.withLock { state -> Int in
            state.runs += 1
            return state.runs
        }
        let label = "\(number)-\(executable)-\(arguments.first ?? "")"
        let stdoutPath = path("\(label).stdout")
        let stderrPath = path("\(label).stderr")
        guard FileManager.default.createFile(atPath: stdoutPath, contents: nil),
            FileManager.default.createFile(atPath: stderrPath, contents: nil)
        else { throw ProcessFixtureError("Cannot create output files in \(directory.path).") }
        let process = SpawnedProcess()
        process.executableURL = binaries.appendingPathComponent(executable)
        process.arguments = arguments
        process.environment = childEnvironment(environment)
        process.currentDirectoryURL = directory
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: stdoutPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrPath))
        try spawn(process)
        let child = ChildProcess(
            label: label, commandLine: ([executable] + arguments).joined(separator: " "), process: process,
            stdoutPath: stdoutPath, stderrPath: stderrPath)
        state.withLock { $0.children.append(child) }
        return child
    }

    /// Runs `executable` to completion with ``CLIRunner`` (in the temporary folder, with the same
    /// environment as ``start(_:_:environment:)``); kills it and throws if it runs longer than `timeout`.
    public func run(
        _ executable: String, _ arguments: [String], environment: [String: String] = [:],
        timeout: Duration = .seconds(120)
    ) async throws -> CLIResult {
        let runner = CLIRunner(
            executable: binaries.appendingPathComponent(executable), environment: childEnvironment(environment))
        return try await runner.run(arguments, currentDirectory: directory, timeout: timeout)
    }

    /// Kills (SIGKILL) every process still running, waits for each (bounded), and removes the folder.
    public func tearDown() async {
        let children = state.withLock { $0.children }
        for child in children where child.isRunning {
            child.send(signal: SIGKILL)
            _ = try? await child.waitForExit(timeout: .seconds(10), killOnTimeout: false)
        }
        if ProcessInfo.processInfo.environment["VIGIL_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(at: directory)
        }
        try? FileManager.default.removeItem(atPath: passphraseFile)
    }

    /// The environment of a child: this process's, with HOME pointed into the temporary folder, no
    /// inherited `VIGIL_DB`, `NO_COLOR` set, plus `overrides`.
    private func childEnvironment(_ overrides: [String: String]) -> [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["VIGIL_DB"] = nil
        environment["NO_COLOR"] = "1"
        environment["HOME"] = directory.path
        environment["XDG_DATA_HOME"] = directory.appendingPathComponent("xdg").path
        if TemporaryReplica.encrypting {
            environment["VIGIL_PASSPHRASE_FILE"] = passphraseFile
            environment["VIGIL_SCRYPT_LOGN"] = "10"
        }
        environment.merge(overrides) { _, new in new }
        return environment
    }

    /// Finds the folder holding `syncd` and `fieldcli` (see ``CLIRunner/productsDirectory(containing:)``).
    static func locateBinaries() throws -> URL {
        let folder = try CLIRunner.productsDirectory(containing: "syncd")
        guard FileManager.default.isExecutableFile(atPath: folder.appendingPathComponent("fieldcli").path) else {
            throw ProcessFixtureError("\(folder.path) holds syncd but no fieldcli; build both products.")
        }
        return folder
    }
}

/// Runs `body` with a fresh ``ProcessFixture`` and tears it down afterwards, also when `body` throws.
public func withProcessFixture<T>(_ body: (ProcessFixture) async throws -> T) async throws -> T {
    let fixture = try ProcessFixture()
    do {
        let result = try await body(fixture)
        await fixture.tearDown()
        return result
    } catch {
        await fixture.tearDown()
        throw error
    }
}

/// A process started by a ``ProcessFixture``.
public final class ChildProcess: Sendable {
    /// A short unique label (also the stem of its output files).
    public let label: String
    /// The command line, for messages.
    public let commandLine: String
    private let process: SpawnedProcess
    private let stdoutPath: String
    private let stderrPath: String

    init(label: String, commandLine: String, process: SpawnedProcess, stdoutPath: String, stderrPath: String) {
        self.label = label
        self.commandLine = commandLine
        self.process = process
        self.stdoutPath = stdoutPath
        self.stderrPath = stderrPath
    }

    /// The process id.
    public var pid: Int32 { process.processIdentifier }
    /// Whether the process has not exited yet.
    public var isRunning: Bool { process.isRunning }
    /// Everything written to standard output so far.
    public var standardOutput: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    /// Everything written to standard error so far.
    public var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` (SIGTERM, SIGKILL, …) to the process if it still runs.
    public func send(signal: Int32) {
        guard process.isRunning else { return }
        _ = kill(process.processIdentifier, signal)
    }

    /// Waits until a line of standard error satisfies `predicate` and returns it; throws when the
    /// process exits first or `timeout` passes.
    public func waitForLine(
        timeout: Duration = .seconds(30), where predicate: (String) -> Bool
    ) async throws -> String {
        let deadline = ContinuousClock.now + timeout
        while true {
            let exited = !process.isRunning
            if let line = standardError.split(separator: "\n").lazy.map(String.init).first(where: predicate) {
                return line
            }
            if exited {
                throw ProcessFixtureError("\(commandLine) exited (\(termination.map { "\($0)" } ?? "?")) before printing the awaited line; stderr:\n\(standardError.suffix(4000))")
            }
            if ContinuousClock.now >= deadline {
                throw ProcessFixtureError("\(commandLine) printed no awaited line within \(timeout); stderr:\n\(standardError.suffix(4000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits (polling, bounded) for the process to exit and returns how it ended. On timeout it
    /// throws, after sending SIGKILL when `killOnTimeout`.
    @discardableResult
    public func waitForExit(timeout: Duration, killOnTimeout: Bool = true) async throws -> Termination {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                if killOnTimeout { send(signal: SIGKILL) }
                throw ProcessFixtureError("\(commandLine) did not exit within \(timeout); stderr:\n\(standardError.suffix(4000))")
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        guard let termination else { throw ProcessFixtureError("\(commandLine) ended without a status.") }
        return termination
    }

    /// How the process ended; nil while it runs.
    public var termination: Termination? {
        guard !process.isRunning else { return nil }
        switch process.terminationReason {
        case .exit: return .exited(process.terminationStatus)
        case .uncaughtSignal: return .signaled(process.terminationStatus)
        @unknown default: return .exited(process.terminationStatus)
        }
    }
}

/// How a process ended.
public enum Termination: Sendable, Hashable, CustomStringConvertible {
    /// It exited with this status.
    case exited(Int32)
    /// A signal ended it.
    case signaled(Int32)

    /// The exit status; nil when a signal ended it.
    public var exitStatus: Int32? {
        if case .exited(let status) = self { return status }
        return nil
    }

    public var description: String {
        switch self {
        case .exited(let status): "exit \(status)"
        case .signaled(let signal): "signal \(signal)"
        }
    }
}

/// A fixture step that failed: a timeout, an early exit, a missing executable.
public struct ProcessFixtureError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// Binds a TCP socket on 127.0.0.1 port 0, reads the port the kernel chose, and closes it: a port
/// where nothing listens (until someone binds it).
public func freeLoopbackPort() throws -> Int {
    #if canImport(Glibc)
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
    let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard descriptor >= 0 else { throw ProcessFixtureError("socket() failed: errno \(errno).") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, length) }
    }
    guard bound == 0 else { throw ProcessFixtureError("bind() on 127.0.0.1 failed: errno \(errno).") }
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
    }
    guard named == 0 else { throw ProcessFixtureError("getsockname() failed: errno \(errno).") }
    return Int(UInt16(bigEndian: address.sin_port))
}
