import Foundation
import SyncEngine

/// Where a command reads a JSON body from: `--body`, `--file` (`-` for stdin), or stdin when it
/// is not a terminal.
struct BodyInput {
    var body: String?
    var file: String?

    /// Whether a body can be read without a flag: stdin is a pipe or a file.
    static var stdinIsPiped: Bool { isatty(STDIN_FILENO) == 0 }

    /// Whether a body was given one way or another.
    var isGiven: Bool { body != nil || file != nil || Self.stdinIsPiped }

    /// The body bytes, at most `maximumSize` (a larger one is left for validation to refuse).
    func read(maximumSize: Int = JSONBody.defaultMaximumSize) throws -> Data {
        let data = try readBytes(maximumSize: maximumSize)
        guard !data.isEmpty else {
            throw InvalidInput("The body is empty; give one JSON object with --body, --file or on stdin.")
        }
        return data
    }

    private func readBytes(maximumSize: Int) throws -> Data {
        if let body { return Data(body.utf8) }
        if let file, file != "-" {
            guard let handle = FileHandle(forReadingAtPath: file) else {
                throw InvalidInput("Cannot read the body file \(file); check the path and its permissions.")
            }
            defer { try? handle.close() }
            return try readAll(handle, from: file, maximumSize: maximumSize)
        }
        return try readAll(FileHandle.standardInput, from: "standard input", maximumSize: maximumSize)
    }

    private func readAll(_ handle: FileHandle, from source: String, maximumSize: Int) throws -> Data {
        do {
            return try handle.read(upToCount: maximumSize + 1) ?? Data()
        } catch {
            throw InvalidInput("Cannot read the body from \(source); check that it is a readable file.")
        }
    }
}
