public import Foundation
import Synchronization

/// Starts `process`, one start at a time in this test process.
///
/// Foundation's `Process.run()` on Linux is not safe when several threads start processes at the
/// same moment: a parallel suite crashed in it (signal 11 in a `memmove` inside `run()`). Starting
/// is quick; the processes still run side by side.
public func spawn(_ process: Process) throws {
    try spawnLock.withLock { _ in try process.run() }
}

private let spawnLock = Mutex(())
