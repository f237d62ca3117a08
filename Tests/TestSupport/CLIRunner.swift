public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs a built executable (by default `fieldcli`) as a child process and captures what it did.
///
/// The executable is looked up in `$VIGIL_BIN_DIR`, else in the nearest folder at or above the
/// running test binary that holds it (SwiftPM puts products and test bundles side by side).
/// Output goes through temporary files, so a large output can never block the child.
public struct CLIRunner: Sendable {
    /// The executable this runner starts.
    public let executable: URL
    /// Variables set for every run, over this process's environment (minus `VIGIL_DB`).
    public var environment: [String: String]

    /// A runner for the built product `name`.
    public init(product name: String = "fieldcli", environment: [String: String] = [:]) throws {
        let folder = try Self.productsDirectory(containing: name)
        self.init(executable: folder.appendingPathComponent(name), environment: environment)
    }

    /// A runner for any executable, such as `/bin/mount`.
    public init(executable: URL, environment: [String: String] = [:]) {
        self.executable = executable
        self.environment = environment
    }

    /// The folder holding the built product `name`: `$VIGIL_BIN_DIR`, else the nearest folder at or
    /// above the running test binary that holds it.
    public static func productsDirectory(containing name: String = "fieldcli") throws -> URL {
        let fileManager = FileManager.default
        func holds(_ folder: URL) -> Bool {
            fileManager.isExecutableFile(atPath: folder.appendingPathComponent(name).path)
        }
        if let override = ProcessInfo.processInfo.environment["VIGIL_BIN_DIR"], !override.isEmpty {
            let folder = URL(fileURLWithPath: override, isDirectory: true)
            guard holds(folder) else { throw CLIRunnerError("VIGIL_BIN_DIR=\(override) holds no executable \(name).") }
            return folder
        }
        var starts = [Bundle.main.bundleURL]
        if let first = CommandLine.arguments.first { starts.append(URL(fileURLWithPath: first)) }
        if let exe = try? fileManager.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            starts.append(URL(fileURLWithPath: exe))
        }
        for start in starts {
            var folder = start.standardizedFileURL.resolvingSymlinksInPath()
            for _ in 0..<8 {
                if holds(folder) { return folder }
                let parent = folder.deletingLastPathComponent()
                if parent.path == folder.path { break }
                folder = parent
            }
        }
        throw CLIRunnerError(
            "Cannot find the built \(name) near \(starts.map(\.path)); run `swift build --product \(name)` or set VIGIL_BIN_DIR.")
    }

    /// Runs the executable with `arguments` and waits for it (at most `timeout`, then SIGKILL and
    /// a thrown error). `stdin` is fed as standard input; without it, stdin is `/dev/null`.
    public func run(
        _ arguments: [String], stdin: Data? = nil, environment overrides: [String: String] = [:],
        currentDirectory: URL? = nil, timeout: Duration = .seconds(60)
    ) async throws -> CLIResult {
        let fileManager = FileManager.default
        let scratch = fileManager.temporaryDirectory.appendingPathComponent("vigil-run-\(UUID().uuidString)")
        try fileManager.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? fileManager.removeItem(at: scratch) }
        let stdoutURL = scratch.appendingPathComponent("stdout")
        let stderrURL = scratch.appendingPathComponent("stderr")
        let stdinURL = scratch.appendingPathComponent("stdin")
        for (url, contents) in [(stdoutURL, Data()), (stderrURL, Data()), (stdinURL, stdin ?? Data())] {
            guard fileManager.createFile(atPath: url.path, contents: contents) else {
                throw CLIRunnerError("Cannot create \(url.path) for a child's input or output.")
            }
        }

        let process = SpawnedProcess()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["VIGIL_DB"] = nil
        environment["NO_COLOR"] = "1"
        environment.merge(self.environment) { _, new in new }
        environment.merge(overrides) { _, new in new }
        process.environment = environment
        if let currentDirectory { process.currentDirectoryURL = currentDirectory }
        let output = try FileHandle(forWritingTo: stdoutURL)
        let errors = try FileHandle(forWritingTo: stderrURL)
        let input = stdin == nil ? FileHandle.nullDevice : try FileHandle(forReadingFrom: stdinURL)
        defer {
            try? output.close()
            try? errors.close()
            if stdin != nil { try? input.close() }
        }
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = input
        try spawn(process)

        let deadline = ContinuousClock.now + timeout
        var pause = Duration.milliseconds(2)
        while process.isRunning {
            if ContinuousClock.now >= deadline {
                kill(process.processIdentifier, SIGKILL)
                process.waitUntilExit()
                throw CLIRunnerError("\(commandLine(arguments)) did not finish within \(timeout).")
            }
            try await Task.sleep(for: pause)
            pause = min(pause * 2, .milliseconds(50))
        }
        return CLIResult(
            commandLine: commandLine(arguments),
            exitCode: process.terminationStatus,
            signaled: process.terminationReason == .uncaughtSignal,
            stdout: (try? String(contentsOf: stdoutURL, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: stderrURL, encoding: .utf8)) ?? "")
    }

    private func commandLine(_ arguments: [String]) -> String {
        ([executable.lastPathComponent] + arguments).joined(separator: " ")
    }
}

/// How a run ended and what it printed.
public struct CLIResult: Sendable, CustomStringConvertible {
    public var commandLine: String
    /// The exit status (the signal number when ``signaled``).
    public var exitCode: Int32
    /// Whether a signal ended the process.
    public var signaled: Bool
    public var stdout: String
    public var stderr: String

    /// Whether it exited with status 0.
    public var succeeded: Bool { !signaled && exitCode == 0 }

    /// Standard output without surrounding whitespace.
    public var output: String { stdout.trimmingCharacters(in: .whitespacesAndNewlines) }

    /// Standard output parsed as one JSON object.
    public func json() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(stdout.utf8)) as? [String: Any] else {
            throw CLIRunnerError("\(commandLine) printed JSON that is not an object: \(stdout.prefix(500))")
        }
        return object
    }

    public var description: String {
        "`\(commandLine)` ended with \(signaled ? "signal" : "exit") \(exitCode)\nstdout: \(stdout.suffix(2000))\nstderr: \(stderr.suffix(2000))"
    }
}

/// A runner step that failed: a missing executable, a timeout.
public struct CLIRunnerError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) { self.description = description }
}
