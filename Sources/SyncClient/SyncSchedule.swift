/// When the daemon syncs next, decided without I/O from what it observed.
///
/// - At start, a sync is due at once.
/// - After a success, the next is due after ``Configuration/interval``, or as soon as a local
///   write is seen (the replica's counter moved).
/// - After a failure, the next attempt (the probe) waits an exponential backoff with full jitter:
///   ``Configuration/initialBackoff`` doubling up to ``Configuration/maxBackoff``. A local write
///   seen meanwhile brings the probe forward to ``Configuration/writeProbeGap`` after the last
///   attempt at the earliest, so writes never hammer a hub that is down. When a probe succeeds,
///   everything waiting goes at once (the sync itself loops until nothing is left).
/// - A failure that lasts until someone acts (`lasting`: a redirect, an untrusted or
///   incompatible hub, an answer too large, a push refused): the backoff grows up to
///   ``Configuration/maxLastingBackoff``, and local writes do not bring the probe forward. Until
///   7 December 2026 these were tried every minute, each try sending or reading up to a page (or
///   32 MiB) on a link paid by the megabyte.
public struct SyncSchedule: Sendable, Hashable {
    public struct Configuration: Sendable, Hashable {
        /// Sync this often when nothing happens.
        public var interval: Duration
        /// The first backoff after a failure; doubled after each further failure.
        public var initialBackoff: Duration
        /// No backoff is longer than this.
        public var maxBackoff: Duration
        /// While the hub is failing, a local write brings the next probe to this long after the
        /// last attempt at the earliest.
        public var writeProbeGap: Duration
        /// No backoff after a lasting failure is longer than this.
        public var maxLastingBackoff: Duration

        public init(
            interval: Duration = .seconds(60), initialBackoff: Duration = .seconds(1), maxBackoff: Duration = .seconds(60),
            writeProbeGap: Duration = .seconds(5), maxLastingBackoff: Duration = .seconds(3_600)
        ) {
            self.interval = max(.milliseconds(100), interval)
            self.initialBackoff = max(.milliseconds(10), initialBackoff)
            self.maxBackoff = max(self.initialBackoff, maxBackoff)
            self.writeProbeGap = max(.zero, writeProbeGap)
            self.maxLastingBackoff = max(self.maxBackoff, maxLastingBackoff)
        }
    }

    public let configuration: Configuration
    /// When the next sync is due.
    public private(set) var nextDue: ContinuousClock.Instant
    /// Failures in a row.
    public private(set) var failures = 0
    private var lastAttempt: ContinuousClock.Instant?
    private var lastCounter: UInt64?
    /// Whether the last failure lasts until someone acts.
    private var lasting = false

    /// A schedule whose first sync is due at `now`.
    public init(configuration: Configuration, now: ContinuousClock.Instant) {
        self.configuration = configuration
        nextDue = now
    }

    /// Whether a sync is due at `now`.
    public func isDue(at now: ContinuousClock.Instant) -> Bool { now >= nextDue }

    /// Takes the replica's counter into account: when it moved since last seen, a local write
    /// happened and a sync becomes due (soon after a success, no sooner than the probe gap after
    /// a failure).
    public mutating func observe(counter: UInt64, at now: ContinuousClock.Instant) {
        defer { lastCounter = counter }
        guard let lastCounter, counter != lastCounter else { return }
        if failures == 0 {
            nextDue = min(nextDue, now)
        } else if !lasting, let lastAttempt {
            nextDue = min(nextDue, lastAttempt + configuration.writeProbeGap)
        }
    }

    /// Records a successful sync that ended at `now`, and the counter read before it began: a write
    /// made while it ran (after its last read of the replica) is then seen as new and synced soon.
    public mutating func recordSuccess(at now: ContinuousClock.Instant, counter: UInt64?) {
        failures = 0
        lasting = false
        lastAttempt = now
        nextDue = now + configuration.interval
        if let counter { lastCounter = counter }
    }

    /// Records a failed sync at `now`; the next probe waits a jittered exponential backoff, up to
    /// ``Configuration/maxLastingBackoff`` when the failure is `lasting`.
    public mutating func recordFailure(
        at now: ContinuousClock.Instant, lasting: Bool = false, using generator: inout some RandomNumberGenerator
    ) {
        failures += 1
        lastAttempt = now
        self.lasting = lasting
        nextDue = now + backoff(using: &generator)
    }

    /// The wait before the next probe after ``failures`` failures: uniform between half and the
    /// whole of `min(maxBackoff, initialBackoff * 2^(failures - 1))` (`maxLastingBackoff` after a
    /// lasting failure).
    func backoff(using generator: inout some RandomNumberGenerator) -> Duration {
        let policy = RetryPolicy(
            maxAttempts: .max, baseDelay: configuration.initialBackoff,
            maxDelay: lasting ? configuration.maxLastingBackoff : configuration.maxBackoff)
        let ceiling = policy.ceiling(forRetry: max(1, failures)).seconds
        return .seconds(Double.random(in: (ceiling / 2)...ceiling, using: &generator))
    }
}
