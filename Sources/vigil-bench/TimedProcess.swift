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

    /// What one run cost.
    struct Cost {
        /// Wall time from spawn to exit.
        var seconds: Double
        /// The child's user and system CPU time: the part of ``seconds`` that is not waiting
        /// (for the disk's fsync, for the other processes sharing the machine).
        var cpuSeconds: Double
    }

    /// Runs the program once. Throws when it does not exit with 0.
    func run() throws -> Cost {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
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
        while wait4(pid, &status, 0, &usage) < 0 {
            guard errno == EINTR else {
                throw BenchError(.tool, "Lost track of \(executable): \(String(cString: strerror(errno))).")
            }
        }
        let seconds = MonotonicClock.now() - start

        let signal = status & 0x7f
        let exitCode = (status >> 8) & 0xff
        guard signal == 0, exitCode == 0 else {
            let stderr = (try? String(contentsOfFile: standardErrorPath, encoding: .utf8)) ?? ""
            let how = signal == 0 ? "exited with \(exitCode)" : "was killed by signal \(signal)"
            throw BenchError(
                .tool,
                "\(executable) \(how): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines).prefix(500))")
        }
        func value(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) / 1e6 }
        return Cost(seconds: seconds, cpuSeconds: value(usage.ru_utime) + value(usage.ru_stime))
    }
}
