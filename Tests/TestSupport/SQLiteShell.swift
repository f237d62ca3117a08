import Foundation

/// The system's `sqlite3` shell, for tests that change a replica file behind the program's back
/// (tampering, an older schema, an injected failure). It runs in a child process: opening the
/// file in the test's own process and closing it would drop that process's SQLite locks on it.
public enum SQLiteShell {
    public static let path = "/usr/bin/sqlite3"

    /// Whether the shell is installed (`.ci/run` installs it; tests that need it are skipped without).
    public static let isInstalled = FileManager.default.isExecutableFile(atPath: path)

    /// Runs `sqlite3 FILE SQL`; returns its exit status and what it wrote on standard error.
    @discardableResult
    public static func run(_ file: String, _ sql: String) throws -> (status: Int32, stderr: String) {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = [file, sql]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try spawn(process)
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stderr, as: UTF8.self))
    }
}
