public import AtRest
public import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Where the unlock agents of this user listen: one socket per replica, named by the replica's
/// data key id, in a folder only this user can enter (0700, owned by this user, not a symbolic
/// link): `$XDG_RUNTIME_DIR/vigil-agents`, else `/tmp/vigil-agents-UID`.
public struct UnlockAgentLocation: Sendable {
    /// The folder holding the sockets.
    public let directory: String

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        if let runtime = environment["XDG_RUNTIME_DIR"], !runtime.isEmpty {
            directory = runtime + "/vigil-agents"
        } else {
            directory = "/tmp/vigil-agents-\(geteuid())"
        }
    }

    /// The socket of the agent for the replica whose data key has id `keyID`.
    public func socketPath(keyID: String) -> String { directory + "/" + keyID + ".sock" }

    /// Creates the folder (0700) unless it exists; throws unless it is this user's alone.
    func prepare() throws {
        if mkdir(directory, 0o700) != 0, errno != EEXIST {
            throw UnlockAgentError(.unavailable, "Cannot create the folder \(directory) for the unlock agent.")
        }
        guard isPrivate else {
            throw UnlockAgentError(.unavailable, "The folder \(directory) is not private to this user (it must be a folder, not a link, owned by this user, mode 0700); no unlock agent is used.")
        }
    }

    /// Whether the folder is a real folder owned by this user that nobody else may enter.
    var isPrivate: Bool {
        var info = stat()
        guard lstat(directory, &info) == 0 else { return false }
        return info.st_mode & S_IFMT == S_IFDIR && info.st_uid == geteuid() && info.st_mode & 0o077 == 0
    }
}

/// Talks to the unlock agent of one replica: asks it for the data key, feeds it one, tells it to
/// lock. The protocol is one line each way (at most 256 bytes, 2 seconds), and a client talks only
/// to an agent in a private folder running as its own user (checked with `SO_PEERCRED`).
///
/// - `GET <key id>` → `KEY <base64 key> <seconds left>` or `NONE`
/// - `PUT <key id> <base64 key> <seconds>` → `OK <seconds left>` or `ERR`
/// - `LOCK <key id>` → `OK`, and the agent forgets the key and exits
public struct UnlockAgentClient: Sendable {
    /// How long a client waits for each read or write.
    static let timeout = 2
    public let location: UnlockAgentLocation

    public init(location: UnlockAgentLocation = UnlockAgentLocation()) { self.location = location }

    /// The data key with id `keyID`, if an agent holds it; nil on anything else, silently.
    public func key(for keyID: String) -> DataKey? {
        guard let answer = exchange(keyID: keyID, "GET \(keyID)") else { return nil }
        let words = answer.split(separator: " ")
        guard words.count == 3, words[0] == "KEY", let raw = Data(base64Encoded: String(words[1])) else { return nil }
        return try? DataKey(rawBytes: raw, id: keyID)
    }

    /// Hands `key` to its agent for `seconds`; false when no agent answers. Throws when one
    /// answered but refused.
    public func feed(_ key: DataKey, seconds: Int) throws -> Bool {
        let request = "PUT \(key.id) \(key.rawBytes.base64EncodedString()) \(seconds)"
        guard let answer = exchange(keyID: key.id, request) else { return false }
        guard answer.hasPrefix("OK") else {
            throw UnlockAgentError(.unavailable, "The unlock agent refused the key.")
        }
        return true
    }

    /// Tells the agent of `keyID` to forget its key and exit; false when none answered.
    public func lock(keyID: String) -> Bool { exchange(keyID: keyID, "LOCK \(keyID)") == "OK" }

    /// Sends one line to the agent of `keyID` and returns its one-line answer; nil when there is
    /// no agent, it runs as another user, its folder is not private, or it does not answer in time.
    func exchange(keyID: String, _ request: String) -> String? {
        guard DataKey.isWellFormedID(keyID), location.isPrivate,
            let descriptor = UnixSocket.connect(to: location.socketPath(keyID: keyID), timeout: Self.timeout)
        else { return nil }
        defer { close(descriptor) }
        guard UnixSocket.peerUserID(descriptor) == geteuid(), UnixSocket.writeLine(descriptor, request) else { return nil }
        return UnixSocket.readLine(descriptor)
    }
}

/// The unlock agent cannot be used: its folder is not private, it cannot be started, or it
/// refused a key.
public struct UnlockAgentError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable {
        let value: String
        /// No agent can be had for this replica.
        public static let unavailable = Code(value: "unavailable")
    }

    public let code: Code
    public let message: String

    init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
