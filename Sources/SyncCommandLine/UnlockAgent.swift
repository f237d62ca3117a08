import AtRest
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The unlock agent of one replica (Docs/Security.md, "The unlock agent"): a small process that
/// holds the replica's data key in memory for a bounded time and hands it to this user's commands
/// over a Unix socket (``UnlockAgentClient`` gives the protocol). It serves one connection at a
/// time, each bounded to one line of 256 bytes and 2 seconds; it answers only peers running as
/// its own user (`SO_PEERCRED`), in a folder only that user can enter. It exits by itself when its
/// time is up (counted on a clock that goes on while the device sleeps), on `LOCK`, and 10
/// seconds after starting if nobody fed it a key.
public struct UnlockAgent: Sendable {
    /// The longest an agent holds a key: 24 hours.
    public static let maximumSeconds = 24 * 3600
    /// How long a new agent waits for its key.
    static let startupSeconds = 10.0

    let keyID: String
    let location: UnlockAgentLocation

    public init(keyID: String, location: UnlockAgentLocation = UnlockAgentLocation()) {
        self.keyID = keyID
        self.location = location
    }

    /// What the agent holds while it runs.
    struct State {
        var key: DataKey?
        var deadline: Double
        var stopping = false
    }

    /// Serves until the time is up or a client says `LOCK`. Returns at once when another agent
    /// already serves this replica.
    public func run() throws {
        guard DataKey.isWellFormedID(keyID) else {
            throw UnlockAgentError(.unavailable, "The unlock agent was started for a malformed key id.")
        }
        Self.detach()
        try location.prepare()
        let path = location.socketPath(keyID: keyID)
        if UnlockAgentClient(location: location).exchange(keyID: keyID, "GET \(keyID)") != nil { return }
        let listener = try Self.listen(at: path)
        defer {
            close(listener)
            unlink(path)
        }
        var state = State(key: nil, deadline: Self.now() + Self.startupSeconds)
        while !state.stopping, Self.now() < state.deadline {
            // Wakes at least every second to read the clock that counts sleep too.
            let wait = Int32(max(1, min(1000, (state.deadline - Self.now()) * 1000)))
            var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, wait) > 0 else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            serve(connection, &state)
            close(connection)
        }
    }

    /// Answers one request on `connection`.
    func serve(_ connection: Int32, _ state: inout State) {
        _ = fcntl(connection, F_SETFD, FD_CLOEXEC)
        UnixSocket.setTimeouts(connection, seconds: UnlockAgentClient.timeout)
        guard UnixSocket.peerUserID(connection) == geteuid(), let line = UnixSocket.readLine(connection) else { return }
        UnixSocket.writeLine(connection, answer(line, &state))
    }

    /// The answer to one request line.
    func answer(_ line: String, _ state: inout State) -> String {
        let words = line.split(separator: " ").map(String.init)
        guard words.count >= 2, words[1] == keyID else { return "ERR" }
        let left = Int(max(0, state.deadline - Self.now()))
        switch (words[0], words.count) {
        case ("GET", 2):
            guard let key = state.key else { return "NONE" }
            return "KEY \(key.rawBytes.base64EncodedString()) \(left)"
        case ("PUT", 4):
            guard let raw = Data(base64Encoded: words[2]), let key = try? DataKey(rawBytes: raw, id: keyID),
                let seconds = Int(words[3]), (1...Self.maximumSeconds).contains(seconds)
            else { return "ERR" }
            state.key = key
            state.deadline = Self.now() + Double(seconds)
            return "OK \(seconds)"
        case ("LOCK", 2):
            state.key = nil
            state.stopping = true
            return "OK"
        default:
            return "ERR"
        }
    }

    /// Listens on a new socket at `path` (0600), replacing a stale one nobody answers on.
    static func listen(at path: String) throws -> Int32 {
        let listener = UnixSocket.make()
        guard listener >= 0 else { throw UnlockAgentError(.unavailable, "The unlock agent cannot make a socket.") }
        unlink(path)
        let bound = UnixSocket.withAddress(path) { bind(listener, $0, $1) } ?? -1
        guard bound == 0, chmod(path, 0o600) == 0, systemListen(listener, 8) == 0 else {
            close(listener)
            throw UnlockAgentError(.unavailable, "The unlock agent cannot listen at \(path).")
        }
        return listener
    }

    /// Leaves the terminal's session (so closing the terminal does not end the agent) and, on
    /// Linux, forbids other processes of the same user to attach to it or read its memory.
    static func detach() {
        _ = setsid()
        #if canImport(Glibc)
        typealias Control = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        if let symbol = dlsym(nil, "prctl") {
            let setDumpable: Int32 = 4  // PR_SET_DUMPABLE
            _ = unsafeBitCast(symbol, to: Control.self)(setDumpable, 0, 0, 0, 0)
        }
        #endif
    }

    /// Seconds on a clock that also counts the time the device sleeps.
    static func now() -> Double {
        var time = timespec()
        #if canImport(Glibc)
        _ = clock_gettime(CLOCK_BOOTTIME, &time)
        #else
        _ = clock_gettime(CLOCK_MONOTONIC, &time)
        #endif
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// The C library's `listen`, hidden inside `UnlockAgent.listen`.
private func systemListen(_ descriptor: Int32, _ backlog: Int32) -> Int32 { listen(descriptor, backlog) }
