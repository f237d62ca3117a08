import HubStore
import Logging
import ServiceLifecycle
import SyncEngine
import Synchronization

/// Counts refused enrollments and failed authentications per client address, and writes them to
/// the hub's audit log as one entry per address and kind each ``interval``, with the count and
/// the reasons: a flood of bad requests costs one row a minute, not one row each.
///
/// Run it as a `Service` (it writes every interval, and once more at shutdown); the table is
/// bounded by ``maxAddresses`` (beyond it, new addresses are counted under `other`).
final class RefusalAudit: Service, Sendable {
    /// What was refused.
    enum Kind: Sendable, Hashable {
        case enrollment, authentication

        var action: AuditAction { self == .enrollment ? .enrollmentRefused : .authenticationFailed }
    }

    /// One entry to write: the address (its subject) and the counts by reason.
    struct Tally: Sendable, Equatable {
        var kind: Kind
        var address: String
        var reasons: [String: Int]
        var count: Int { reasons.values.reduce(0, +) }
    }

    /// Writes the entries; throws when the log cannot be written (they are logged instead).
    typealias Sink = @Sendable ([Tally]) async throws -> Void

    private struct Key: Hashable {
        var kind: Kind
        var address: String
    }

    let interval: Duration
    let maxAddresses: Int
    private let sink: Sink
    private let logger: Logger
    private let counts: Mutex<[Key: [String: Int]]>

    init(interval: Duration, maxAddresses: Int = 10_000, logger: Logger, sink: @escaping Sink) {
        self.interval = interval
        self.maxAddresses = maxAddresses
        self.sink = sink
        self.logger = logger
        counts = Mutex([:])
    }

    /// Counts one refusal of `kind` from `address`, for `reason` (a short code such as `unknown-code`).
    func record(_ kind: Kind, address: String, reason: String) {
        counts.withLock { counts in
            var key = Key(kind: kind, address: address)
            if counts[key] == nil, counts.count >= maxAddresses { key.address = "other" }
            counts[key, default: [:]][reason, default: 0] += 1
        }
    }

    /// The counts since the last call, emptied.
    func drain() -> [Tally] {
        let taken = counts.withLock { counts in
            defer { counts.removeAll() }
            return counts
        }
        return taken.map { Tally(kind: $0.key.kind, address: $0.key.address, reasons: $0.value) }
            .sorted { ($0.address, $0.count) < ($1.address, $1.count) }
    }

    /// Writes what was counted since the last call.
    func flush() async {
        let tallies = drain()
        guard !tallies.isEmpty else { return }
        do {
            try await sink(tallies)
        } catch {
            logger.error(
                "refusals not audited", metadata: ["audit.entries": "\(tallies.count)", "error": "\(String(reflecting: error))"])
        }
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: self.interval) }
            } catch {
                break
            }
            await flush()
        }
        await flush()
    }
}

extension RefusalAudit {
    /// A sink writing to a hub's audit log (any backend's), one entry per tally, as the hub, in
    /// one transaction.
    static func auditLog(_ log: any HubAuditLog) -> Sink {
        { tallies in try await log.append(tallies.map(event)) }
    }

    /// The entry of `tally`: its count, and its count by reason.
    static func event(_ tally: Tally) -> AuditEvent {
        var detail = ["count": String(tally.count)]
        for (reason, count) in tally.reasons { detail["reason." + reason] = String(count) }
        return AuditEvent(actor: AuditEntry.hubActor, action: tally.kind.action, subject: tally.address, detail: detail)
    }
}
