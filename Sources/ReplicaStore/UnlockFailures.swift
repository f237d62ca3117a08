import Foundation

/// The count of attempts to unlock an encrypted replica since the last one that succeeded, kept
/// beside it in `<replica>.unlock-failures`, so that wrong passphrases are answered ever more
/// slowly across commands. Each attempt counts itself before it waits and derives, and a success
/// clears the count, so interrupting a slow attempt gains nothing. (Against a captor who copies
/// the disk the delay does nothing; scrypt's cost is what slows guessing there.)
struct UnlockFailures {
    let path: String

    init(replicaPath: String) { path = replicaPath + ".unlock-failures" }

    /// Failed (or interrupted) attempts so far.
    var count: Int {
        guard let data = FileManager.default.contents(atPath: path), data.count < 32 else { return 0 }
        return max(0, Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0)
    }

    /// Counts this attempt, then waits `base` doubled for each earlier failure beyond the first
    /// (none after no failure, at most 64 × `base`).
    func wait(base: Duration) throws {
        let earlier = count
        try PrivateFile.write(Data("\(earlier + 1)\n".utf8), to: path)
        guard earlier > 0, base > .zero else { return }
        let delay = base * (1 << min(earlier - 1, 6))
        let (seconds, attoseconds) = delay.components
        var request = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
        var remaining = timespec()
        while nanosleep(&request, &remaining) != 0, errno == EINTR { request = remaining }
    }

    /// Clears the count after a success.
    func reset() { unlink(path) }
}
