import Foundation

/// A release `syncd serve` running as its own process on 127.0.0.1 (port chosen by the kernel),
/// with its resident memory readable from `/proc` while it runs.
final class HubProcess: @unchecked Sendable {
    /// The port it listens on.
    let port: Int
    let pid: pid_t
    private let logPath: String
    private var exited = false

    /// Starts `syncd serve --db databasePath` and waits (up to 60 s) until it listens.
    convenience init(syncd: String, databasePath: String, logPath: String, logLevel: String = "info") throws {
        try self.init(syncd: syncd, backend: ["--db", databasePath], logPath: logPath, logLevel: logLevel)
    }

    /// Starts `syncd serve` with its data where the flags `backend` say (`--db PATH`, or
    /// `--postgres URL --postgres-schema NAME`; `--tls-cert` and `--tls-key` for HTTPS) and waits
    /// (up to 60 s) until it listens.
    init(syncd: String, backend: [String], logPath: String, logLevel: String = "info") throws {
        self.logPath = logPath
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let arguments = [
            syncd, "serve", "--listen", "127.0.0.1:0", "--log-level", logLevel,
        ] + backend
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, syncd, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw BenchError(.tool, "Cannot start \(syncd): \(String(cString: strerror(spawned))).")
        }
        self.pid = pid
        let deadline = MonotonicClock.now() + 60
        var found: Int?
        while found == nil && MonotonicClock.now() < deadline {
            let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
            if let range = log.range(of: "listening on http://127.0.0.1:") ?? log.range(of: "listening on https://127.0.0.1:") {
                found = Int(log[range.upperBound...].prefix { $0.isNumber })
            }
            var status: Int32 = 0
            if found == nil, waitpid(pid, &status, WNOHANG) == pid {
                exited = true
                throw BenchError(.tool, "syncd serve exited at start: \(log.suffix(500))")
            }
            if found == nil { usleep(20_000) }
        }
        guard let found else {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
            exited = true
            throw BenchError(.tool, "syncd serve did not start listening within 60 s.")
        }
        port = found
    }

    deinit { stop() }

    /// The hub's base URL.
    var url: URL { URL(string: "http://127.0.0.1:\(port)") ?? URL(fileURLWithPath: "/") }

    /// Resident memory now and its peak so far (`VmRSS`, `VmHWM`), in bytes.
    func memory() -> (resident: Int, peak: Int) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(name + ":") }) else { return 0 }
            return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
        }
        return (field("VmRSS"), field("VmHWM"))
    }

    /// The CPU time (user + system) it has used so far, from `/proc/PID/stat`.
    func cpuSeconds() -> Double {
        let stat = (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)) ?? ""
        // Fields after the command name (which may hold spaces) start at field 3.
        guard let close = stat.lastIndex(of: ")") else { return 0 }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// Stops it with SIGTERM (SIGKILL after 10 s).
    func stop() {
        guard !exited else { return }
        exited = true
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = MonotonicClock.now() + 10
        while waitpid(pid, &status, WNOHANG) == 0 {
            if MonotonicClock.now() > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return
            }
            usleep(10_000)
        }
    }
}
