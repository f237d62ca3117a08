public import Prometheus
public import HubStore
public import SyncEngine

/// The hub's figures for Prometheus: exchanges by outcome and their durations, versions pushed,
/// accepted, pulled and rejected by reason, answer bytes; and, read at each scrape, devices by
/// state, the feed's length and what is held apart. Label values come from closed sets (problem
/// types, rejection reasons), so a client cannot make the hub grow a series per request.
public final class HubMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let duration: DurationHistogram
    private let pushed: Counter
    private let accepted: Counter
    private let pulled: Counter
    private let answerBytes: Counter

    /// The outcomes an exchange is counted under: `ok`, or the problem type it ended with.
    static let outcomes: Set<String> = Set(SyncHubError.Code.Value.allCases.map(\.rawValue)).union(["ok", "internal"])

    /// The rejection reasons counted by name; any other is counted as `other`.
    static let reasons: Set<Rejection.Reason> = [
        .fork, .invalidRecord, .badSignature, .outOfScope, .implausibleContext, .revoked, .gap,
    ]

    /// `vigil_hub_NAME_UNIT`.
    static func name(_ name: String, unit: String, help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "vigil", subsystem: "hub", metricName: name, unitName: unit, helpText: help)
    }

    static var exchanges: MetricNameDescriptor { name("exchanges", unit: "total", help: "Sync exchanges by outcome.") }
    static var rejected: MetricNameDescriptor {
        name("versions_rejected", unit: "total", help: "Pushed versions the hub did not take into the shared state, by reason.")
    }
    static var devices: MetricNameDescriptor { name("devices", unit: "", help: "Enrolled devices by state.") }

    public init() {
        duration = registry.makeDurationHistogram(
            descriptor: Self.name("exchange_duration", unit: "seconds", help: "Time from a sync request to its answer."),
            buckets: [.milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
                      .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10)])
        pushed = registry.makeCounter(descriptor: Self.name("versions_pushed", unit: "total", help: "Versions devices pushed."))
        accepted = registry.makeCounter(
            descriptor: Self.name("versions_accepted", unit: "total", help: "Pushed versions stored and merged for the first time."))
        pulled = registry.makeCounter(descriptor: Self.name("versions_pulled", unit: "total", help: "Versions sent to devices in pages."))
        answerBytes = registry.makeCounter(
            descriptor: Self.name("answer_bytes", unit: "total", help: "JSON bytes of sync answers, before compression."))
    }

    /// Counts one exchange that ended with `outcome` (`ok` or a problem type) after `elapsed`.
    public func recordExchange(outcome: String, elapsed: Duration, answerBytes bytes: Int = 0) {
        let label = Self.outcomes.contains(outcome) ? outcome : "internal"
        registry.makeCounter(descriptor: Self.exchanges, labels: [("outcome", label)]).increment()
        duration.record(elapsed)
        if bytes > 0 { answerBytes.increment(by: Int64(bytes)) }
    }

    /// Counts what one exchange moved.
    public func recordVersions(pushed: Int, accepted: Int, pulled: Int, rejected: [Rejection]) {
        self.pushed.increment(by: Int64(pushed))
        self.accepted.increment(by: Int64(accepted))
        self.pulled.increment(by: Int64(pulled))
        for rejection in rejected {
            let reason = Self.reasons.contains(rejection.reason) ? rejection.reason.rawValue : "other"
            registry.makeCounter(descriptor: Self.rejected, labels: [("reason", reason)]).increment()
        }
    }

    /// The text exposition of every figure, with the counts read now.
    public func exposition(_ counts: HubCounts?) -> String {
        if let counts {
            registry.makeGauge(descriptor: Self.devices, labels: [("state", "active")]).set(to: Double(counts.activeDevices))
            registry.makeGauge(descriptor: Self.devices, labels: [("state", "revoked")]).set(to: Double(counts.revokedDevices))
            registry.makeGauge(
                descriptor: Self.name("feed_position", unit: "", help: "The feed's last position (every version stored takes one).")
            ).set(to: Double(counts.feedPosition))
            registry.makeGauge(
                descriptor: Self.name("quarantined_versions", unit: "", help: "Versions held apart (set aside and foreign quarantine).")
            ).set(to: Double(counts.quarantined))
        }
        return registry.emitToString()
    }
}
