import Foundation

/// Starts a program and measures the wall time from just before its start to its exit, so the
/// figure includes everything a person typing the command waits for: exec, dynamic linking,
/// opening the database, the work, and exit.
///
/// It uses `posix_spawn` directly (no Foundation `Process`, no shell) to add as little as possible
/// of its own, and the same way for every program compared.
struct TimedProcess {
    /// The absolute path of the program.
    let executable: String
    let arguments: [String]
    /// Entries added to (or replacing) this process's environment.
    let environment: [String: String]
    /// Where the program's standard error goes, so that a failure can be shown.
    let standardErrorPath: String
    /// Where its standard output goes (`/dev/null` when nil).
    var standardOutputPath: String?
    /// Whether to follow the child's peak resident memory (`VmHWM` in `/proc/PID/status`, read
    /// every 5 ms while it runs). `ru_maxrss` cannot be used: a child started with `posix_spawn`
    /// (a `vfork`) inherits the parent's high-water mark at `exec`, so it would report the
    /// benchmark's own memory.
    var followMemory = false

    init(
        executable: String, arguments: [String], environment: [String: String], standardErrorPath: String,
        standardOutputPath: String? = nil
    ) {
        self.executable = executable
        self.arguments = arguments
        self.environment = environment
        self.standardErrorPath = standardErrorPath
        self.standardOutputPath = standardOutputPath
    }

    /// What one run cost.
    struct Cost {
        /// Wall time from spawn to exit.
        var seconds: Double
        /// The child's user and system CPU time: the part of ``seconds`` that is not waiting
        /// (for the disk's fsync, for the other processes sharing the machine).
        var cpuSeconds: Double
        /// The child's peak resident memory in bytes: `VmHWM` with ``followMemory``, else
        /// `ru_maxrss` (which includes the benchmark's own at the spawn, see ``followMemory``).
        var maxResidentBytes: Int
        /// Whether the run was cut by ``run(killAfter:)`` before it exited.
        var killed = false
    }

    /// Runs the program once. Throws when it does not exit with 0.
    func run() throws -> Cost { try run(killAfter: nil) }

    /// Runs the program once and kills it with SIGKILL after `killAfter` seconds if it has not
    /// exited by then (the cost then says ``Cost/killed``). Throws when it exits with non-zero.
    func run(killAfter: Double?) throws -> Cost {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        if let standardOutputPath {
            posix_spawn_file_actions_addopen(&actions, 1, standardOutputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 2, standardErrorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)

        let merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = merged.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }

        var pid = pid_t()
        let start = MonotonicClock.now()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard spawned == 0 else {
            throw BenchError(.tool, "Cannot start \(executable): \(String(cString: strerror(spawned))).")
        }
        var status: Int32 = 0
        var usage = rusage()
        var killed = false
        var peak = 0
        if killAfter != nil || followMemory {
            // Poll, so that the kill lands at the chosen moment whatever the child does.
            while true {
                let waited = wait4(pid, &status, WNOHANG, &usage)
                if waited == pid { break }
                if waited < 0 && errno != EINTR {
                    throw BenchError(.tool, "Lost track of \(executable): \(String(cString: strerror(errno))).")
                }
                if followMemory { peak = max(peak, Self.highWaterMark(of: pid)) }
                if let killAfter, MonotonicClock.now() - start >= killAfter {
                    kill(pid, SIGKILL)
                    killed = true
                    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                    break
                }
                usleep(followMemory ? 5_000 : 2_000)
            }
        } else {
            while wait4(pid, &status, 0, &usage) < 0 {
                guard errno == EINTR else {
                    throw BenchError(.tool, "Lost track of \(executable): \(String(cString: strerror(errno))).")
                }
            }
        }
        let seconds = MonotonicClock.now() - start
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        let resident = followMemory ? peak : Int(usage.ru_maxrss) * 1024
        if killed {
            return Cost(
                seconds: seconds, cpuSeconds: value(usage.ru_utime) + value(usage.ru_stime),
                maxResidentBytes: resident, killed: true)
        }

        let signal = status & 0x7f
        let exitCode = (status >> 8) & 0xff
        guard signal == 0, exitCode == 0 else {
            let stderr = (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? ""
            let how = signal == 0 ? "exited with \(exitCode)" : "was killed by signal \(signal)"
            throw BenchError(
                .tool,
                "\(executable) \(how): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(500))")
        }
        return Cost(
            seconds: seconds, cpuSeconds: value(usage.ru_utime) + value(usage.ru_stime),
            maxResidentBytes: resident)
    }

    /// `VmHWM` of a running process, in bytes; 0 when it cannot be read.
    static func highWaterMark(of pid: pid_t) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }
}
