public import AtRest
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension UnlockAgent {
    /// Hands `key` to the agent of its replica for `seconds`, starting one first when none
    /// answers: this program again (`executable`, `/proc/self/exe` by default) with `arguments`
    /// (the hidden subcommand that runs ``run()``), detached, its input and output on /dev/null,
    /// no other descriptor inherited. Waits at most 5 seconds for it to listen.
    public static func feed(
        _ key: DataKey, seconds: Int, arguments: [String], executable: String? = nil,
        location: UnlockAgentLocation = UnlockAgentLocation()
    ) throws {
        guard (1...maximumSeconds).contains(seconds) else {
            throw UnlockAgentError(.unavailable, "An unlock lasts from 1 second to \(maximumSeconds / 3600) hours.")
        }
        let client = UnlockAgentClient(location: location)
        if try client.feed(key, seconds: seconds) { return }
        try location.prepare()
        let socket = location.socketPath(keyID: key.id)
        guard UnixSocket.withAddress(socket, { _, _ in true }) != nil else {
            throw UnlockAgentError(.unavailable, "The unlock agent's socket path \(socket) is too long for a socket; set XDG_RUNTIME_DIR to a shorter folder.")
        }
        guard let program = executable ?? (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments.first
        else { throw UnlockAgentError(.unavailable, "Cannot find this program to start the unlock agent.") }
        try spawnDetached(program, arguments)
        for _ in 0..<100 {
            if try client.feed(key, seconds: seconds) { return }
            usleep(50_000)
        }
        throw UnlockAgentError(.unavailable, "The unlock agent did not start within 5 seconds.")
    }

    /// Starts `program` with `arguments`, not waited for.
    static func spawnDetached(_ program: String, _ arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        closeFrom(&actions, 3)
        let argv = ([program] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, program, &actions, nil, argv, environ)
        guard result == 0 else {
            throw UnlockAgentError(.unavailable, "Cannot start the unlock agent (error \(result)).")
        }
    }

    /// `posix_spawn_file_actions_addclosefrom_np` (glibc 2.34), looked up at run time; without it
    /// the child inherits only descriptors not marked close-on-exec.
    private static func closeFrom(_ actions: UnsafeMutablePointer<posix_spawn_file_actions_t>, _ lowest: Int32) {
        #if canImport(Glibc)
        typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
        guard let symbol = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np") else { return }
        _ = unsafeBitCast(symbol, to: CloseFrom.self)(actions, lowest)
        #endif
    }
}
