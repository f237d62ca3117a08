import Dispatch
import Foundation
import Synchronization

/// The executor a push runs on while it may hold its guards and the feed's append lock: one
/// thread of its own.
///
/// Every hub process's push waits for the feed's lock (and pushes of the same origins or
/// documents for their guards), so what happens between the statements of the one holding them
/// must not wait either. On the cooperative pool it does: each answer from
/// PostgreSQL resumes the push behind whatever the pool's few threads are doing (verifying
/// signatures, encoding and compressing pages), and under load the lock was held for many
/// times the statements' own time. On this thread the push resumes as soon as the system
/// schedules it; the work it does here (building statements, reading rows, deciding) is small.
final class FeedLockExecutor: TaskExecutor, Sendable {
    /// The process's one: what a push does between its statements is small.
    static let shared = FeedLockExecutor(name: "vigil.feed-lock")

    private let jobs = Mutex<[UnownedJob]>([])
    private let ready = DispatchSemaphore(value: 0)

    private init(name: String) {
        let thread = Thread { [self] in run() }
        thread.name = name
        thread.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let unowned = UnownedJob(job)
        jobs.withLock { $0.append(unowned) }
        ready.signal()
    }

    /// Runs the jobs in the order they came, for the life of the process.
    private func run() -> Never {
        while true {
            ready.wait()
            guard let job = jobs.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else { continue }
            job.runSynchronously(on: asUnownedTaskExecutor())
        }
    }
}
