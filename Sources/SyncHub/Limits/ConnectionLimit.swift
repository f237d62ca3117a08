#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension HubConfiguration.Limits {
    /// Files kept out of the connection limit: the database, its WAL and readers, logs, TLS files.
    static let reservedFiles = 64

    /// The connections the hub serves at once: ``maxConnections`` when set, else three quarters of
    /// what the open-file limit leaves after ``reservedFiles`` (720 under systemd's 1,024), and never
    /// so many that accepting one more would run the process out of files.
    func connectionLimit(fileLimit: Int? = Self.openFileLimit()) -> Int {
        let ceiling = fileLimit.map { max(1, $0 - Self.reservedFiles) } ?? Int.max
        guard maxConnections == 0 else { return min(maxConnections, ceiling) }
        return fileLimit.map { max(1, ($0 - Self.reservedFiles) * 3 / 4) } ?? 1_024
    }

    /// The soft limit on open files of this process (`RLIMIT_NOFILE`); nil when unknown or unlimited.
    static func openFileLimit() -> Int? {
        var limit = rlimit()
        #if canImport(Glibc)
        guard getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return nil }
        #else
        guard getrlimit(RLIMIT_NOFILE, &limit) == 0 else { return nil }
        #endif
        guard limit.rlim_cur < rlim_t(Int.max) else { return nil }  // RLIM_INFINITY is all ones
        return Int(limit.rlim_cur)
    }
}
