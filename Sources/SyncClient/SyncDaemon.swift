import Foundation
public import Logging
import ReplicaStore
public import ServiceLifecycle
import Synchronization

/// The field replica's sync loop as a service: syncs at start, soon after a local write by any
/// process, on an interval, and with backoff while the hub fails (see ``SyncSchedule``). One
/// exchange at a time; one log line per outcome. On graceful shutdown (SIGTERM, SIGINT through a
/// `ServiceGroup`) the exchange in flight is cancelled between transactions, so nothing is half
/// applied, and `run()` returns.
///
/// When the hub refuses the device itself (revoked, or an unknown credential), retrying cannot
/// help: the daemon logs one line and `run()` throws that ``SyncClientError`` (`syncd run` exits
/// with 77). Local versions are kept.
public struct SyncDaemon: Service {
    public struct Configuration: Sendable, Hashable {
        public var schedule: SyncSchedule.Configuration
        /// How often the replica is polled for local writes.
        public var pollInterval: Duration
        /// The most bytes to move on the wire per UTC day, counted in the tally file at
        /// `tallyPath` (``DailyByteTally``); nil for no bound.
        public var bytesPerDay: Int?
        public var tallyPath: String?

        public init(
            schedule: SyncSchedule.Configuration = .init(), pollInterval: Duration = .milliseconds(500),
            bytesPerDay: Int? = nil, tallyPath: String? = nil
        ) {
            self.schedule = schedule
            self.pollInterval = max(.milliseconds(10), pollInterval)
            self.bytesPerDay = bytesPerDay.map { max(0, $0) }
            self.tallyPath = tallyPath
        }
    }

    public let synchronizer: Synchronizer
    public let configuration: Configuration
    let logger: Logger
    let onSuccess: @Sendable (SyncSummary) -> Void

    /// `onSuccess` runs after each successful sync (`syncd run` saves the token there).
    public init(
        synchronizer: Synchronizer, configuration: Configuration = Configuration(), logger: Logger,
        onSuccess: @escaping @Sendable (SyncSummary) -> Void = { _ in }
    ) {
        self.synchronizer = synchronizer
        self.configuration = configuration
        self.logger = logger
        self.onSuccess = onSuccess
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown { try await self.loop() }
        } catch is CancellationError {
            // Shutdown: the loop stopped between transactions.
        }
        logger.info("sync daemon stopped", metadata: ["sync.peer": "\(synchronizer.peer)"])
    }

    private func loop() async throws {
        let clock = ContinuousClock()
        var schedule = SyncSchedule(configuration: configuration.schedule, now: clock.now)
        var generator = SystemRandomNumberGenerator()
        var announcedDay: Int?
        let store = synchronizer.store
        while true {
            try Task.checkCancellation()
            if let counter = try? store.counter() { schedule.observe(counter: counter, at: clock.now) }
            if schedule.isDue(at: clock.now) {
                guard let synchronizer = budgeted(&announcedDay) else {
                    try await Task.sleep(for: configuration.pollInterval)
                    continue
                }
                let moved = Mutex(0)
                // What the transport moved, failed round trips and retries included: the pages'
                // progress counts only what was applied.
                let trafficBefore = synchronizer.transport.bytesMoved
                defer {
                    let metered = synchronizer.transport.bytesMoved.map { $0 - (trafficBefore ?? 0) } ?? 0
                    countToday(max(moved.withLock { $0 }, metered))
                }
                // Read before the sync: a write landing after the sync's last read of the replica
                // (during an attachment upload, say) moves the counter past it and is synced next.
                let counterBefore = try? store.counter()
                do {
                    let summary = try await synchronizer.run { progress in
                        moved.withLock { $0 = max($0, progress.bytesSent + progress.bytesReceived) }
                    }
                    moved.withLock { $0 = max($0, summary.bytesSent + summary.bytesReceived) }
                    schedule.recordSuccess(at: clock.now, counter: counterBefore)
                    log(summary)
                    onSuccess(summary)
                } catch is CancellationError {
                    throw CancellationError()
                } catch let error as SyncClientError where error.isDeviceRefused {
                    logger.error("\(error.message) Syncing stops until the device is enrolled again.", metadata: ["sync.peer": "\(synchronizer.peer)"])
                    throw error
                } catch {
                    if Task.isCancelled { throw CancellationError() }
                    // A failure of the hub or the link passes; any other refusal or bad answer of
                    // the hub stays until someone acts on one side.
                    let lasting = (error as? SyncClientError).map { !$0.isTransient } ?? false
                    schedule.recordFailure(at: clock.now, lasting: lasting, using: &generator)
                    let wait = (schedule.nextDue - clock.now).seconds
                    logger.warning(
                        "\(Self.sentence(error))",
                        metadata: [
                            "sync.peer": "\(synchronizer.peer)", "sync.failures": "\(schedule.failures)",
                            "sync.retryIn": "\(Int(wait.rounded(.up)))s",
                        ])
                }
            }
            try await Task.sleep(for: min(configuration.pollInterval, max(.milliseconds(10), schedule.nextDue - clock.now)))
        }
    }

    /// The synchronizer for the next sync, with what is left of today's budget; nil when it is
    /// spent (said once a day: syncing waits for the next UTC day).
    private func budgeted(_ announcedDay: inout Int?) -> Synchronizer? {
        guard let perDay = configuration.bytesPerDay, let path = configuration.tallyPath else { return synchronizer }
        let today = DailyByteTally.day(of: Date())
        let remaining = (DailyByteTally.load(from: path) ?? DailyByteTally(day: today)).remaining(of: perDay, on: today)
        guard remaining < Synchronizer.smallestRound else { return synchronizer.withByteBudget(remaining) }
        if announcedDay != today {
            announcedDay = today
            logger.notice(
                "today's budget of \(perDay) bytes is spent; syncing waits for the next UTC day",
                metadata: ["sync.peer": "\(synchronizer.peer)"])
        }
        return nil
    }

    /// Adds `bytes` to today's tally (those of a sync that failed midway too, as far as its
    /// round trips reported them).
    private func countToday(_ bytes: Int) {
        guard configuration.bytesPerDay != nil, let path = configuration.tallyPath, bytes > 0 else { return }
        let today = DailyByteTally.day(of: Date())
        var tally = DailyByteTally.load(from: path) ?? DailyByteTally(day: today)
        tally.record(bytes, on: today)
        do {
            try tally.save(to: path)
        } catch {
            logger.warning("the day's byte tally could not be saved at \(path): \(error)")
        }
    }

    private func log(_ summary: SyncSummary) {
        logger.info(
            "sync ok pushed=\(summary.versionsPushed) pulled=\(summary.versionsPulled) bytes=\(summary.bytesSent + summary.bytesReceived)",
            metadata: [
                "sync.peer": "\(synchronizer.peer)", "sync.rejected": "\(summary.rejected)",
                "sync.roundTrips": "\(summary.roundTrips)", "sync.bytesSent": "\(summary.bytesSent)",
                "sync.bytesReceived": "\(summary.bytesReceived)",
            ])
    }

    /// The one sentence for a failure.
    static func sentence(_ error: any Error) -> String {
        switch error {
        case let error as SyncClientError: error.message
        case let error as StoreError: error.message
        default: "The sync failed unexpectedly: \(error)"
        }
    }
}

extension SyncDaemon: CustomStringConvertible {
    /// Short, for the service group's logs (never the token).
    public var description: String { "SyncDaemon(\(synchronizer.peer))" }
}
