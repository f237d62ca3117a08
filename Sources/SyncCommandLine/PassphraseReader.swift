public import AtRest
public import Foundation
import ReplicaStore
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where an encrypted replica's passphrase comes from: a file named by `--passphrase-file` or
/// `VIGIL_PASSPHRASE_FILE` (for scripts and daemons; its first line, the file private to its
/// owner), else the terminal, without echo. Never from a flag's value or the environment's.
public struct PassphraseReader: Sendable {
    /// The environment variable naming a passphrase file.
    public static let fileEnvironmentKey = "VIGIL_PASSPHRASE_FILE"
    /// The largest passphrase file read.
    static let maximumFileSize = 4096

    /// The passphrase file, if one was named.
    public var file: String?

    public init(file: String?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        let named = file ?? environment[Self.fileEnvironmentKey]
        self.file = (named?.isEmpty ?? true) ? nil : named
    }

    /// The passphrase to open an existing replica at `replicaPath`.
    public func unlock(replicaPath: String) throws -> Passphrase {
        if let file { return try Self.readFile(file) }
        return try Self.prompt("Passphrase for \(replicaPath): ")
    }

    /// A new passphrase: from the file, or typed twice on the terminal.
    public func choose() throws -> Passphrase {
        if let file { return try Self.readFile(file) }
        let first = try Self.prompt("New passphrase: ")
        guard try Self.prompt("Same passphrase again: ") == first else {
            throw PassphraseError(.mismatch, "The two passphrases typed differ; nothing was created.")
        }
        return first
    }

    static func readFile(_ path: String) throws -> Passphrase {
        guard let exposed = PrivateFile.isExposed(path) else {
            throw PassphraseError(.unreadable, "The passphrase file \(path) does not exist.")
        }
        guard !exposed else {
            throw PassphraseError(.unreadable, "The passphrase file \(path) can be read or written by other users; it is not used (run `chmod 600` on it).")
        }
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw PassphraseError(.unreadable, "The passphrase file \(path) cannot be read.")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: maximumFileSize)) ?? Data()
        let line = data.split(separator: 0x0A, maxSplits: 1, omittingEmptySubsequences: false).first ?? Data()
        return try passphrase(Data(line.last == 0x0D ? line.dropLast() : line))
    }

    static func passphrase(_ bytes: Data) throws -> Passphrase {
        do {
            return try Passphrase(bytes: bytes)
        } catch {
            throw PassphraseError(.empty, bytes.isEmpty ? "The passphrase is empty." : "The passphrase is longer than \(Passphrase.maximumLength) bytes.")
        }
    }

    /// Reads one line from the controlling terminal with echo off.
    static func prompt(_ text: String) throws -> Passphrase {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else {
            throw PassphraseError(.noTerminal, "The replica is encrypted and there is no terminal to ask for its passphrase.")
        }
        defer { close(tty) }
        var saved = termios()
        let hasTermios = tcgetattr(tty, &saved) == 0
        if hasTermios {
            var silent = saved
            silent.c_lflag &= ~tcflag_t(ECHO)
            silent.c_lflag |= tcflag_t(ICANON)
            _ = tcsetattr(tty, TCSAFLUSH, &silent)
        }
        defer { if hasTermios { _ = tcsetattr(tty, TCSAFLUSH, &saved) } }
        _ = text.withCString { write(tty, $0, strlen($0)) }
        var line = Data()
        var byte: UInt8 = 0
        while line.count <= Passphrase.maximumLength {
            let count = read(tty, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1, byte != 0x0A else { break }
            line.append(byte)
        }
        _ = "\n".withCString { write(tty, $0, 1) }
        defer { line.resetBytes(in: 0..<line.count) }
        return try passphrase(line.last == 0x0D ? line.dropLast() : line)
    }
}

/// A yes-or-no question asked on the controlling terminal (not standard input, so a pipe cannot
/// answer it by accident).
public enum Confirmation {
    /// The line typed after `question`, trimmed; throws ``PassphraseError/Code/noTerminal``
    /// without a terminal.
    public static func ask(_ question: String) throws -> String {
        let tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC)
        guard tty >= 0 else {
            throw PassphraseError(.noTerminal, "There is no terminal to confirm on; pass --now to skip the question.")
        }
        defer { close(tty) }
        _ = question.withCString { write(tty, $0, strlen($0)) }
        var line = Data()
        var byte: UInt8 = 0
        while line.count < 256 {
            let count = read(tty, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1, byte != 0x0A else { break }
            line.append(byte)
        }
        return String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A passphrase could not be had: no terminal, two different entries, an empty one, an unusable file.
public struct PassphraseError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let value: String
        public static let noTerminal = Code(value: "noTerminal")
        public static let mismatch = Code(value: "mismatch")
        public static let empty = Code(value: "empty")
        public static let unreadable = Code(value: "unreadable")
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
