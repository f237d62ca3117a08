import Synchronization

/// The pauses the commit-order proofs put between a transaction drawing its feed positions and
/// committing it.
enum CommitPauses {
    /// Each transaction pauses a random moment of up to `milliseconds`.
    static func random(upTo milliseconds: Int) -> @Sendable () async throws -> Void {
        { try await Task.sleep(for: .microseconds(Int.random(in: 0...(milliseconds * 1_000)))) }
    }

    /// The first transaction to reach its commit pauses `held` (the other writers commit positions
    /// drawn after its own meanwhile, and readers page past them); every other one pauses at
    /// random, up to `milliseconds`. Without the feed's lock this makes a skip all but certain,
    /// where random pauses alone made one a matter of chance on a loaded machine.
    static func firstHeld(for held: Duration, thenUpTo milliseconds: Int) -> @Sendable () async throws -> Void {
        let first = FirstCall()
        let others = random(upTo: milliseconds)
        return {
            if first.take() { try await Task.sleep(for: held) } else { try await others() }
        }
    }

    private final class FirstCall: Sendable {
        private let taken = Mutex(false)

        /// True once: for the first caller.
        func take() -> Bool {
            taken.withLock { taken in
                defer { taken = true }
                return !taken
            }
        }
    }
}
