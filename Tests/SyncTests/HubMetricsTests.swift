import Foundation
import HummingbirdTesting
import NIOCore
import ReplicaStore
import SyncClient
import SyncEngine
@testable import SyncHub
import Testing
import TestSupport

/// `syncd serve --metrics-listen`: the hub's figures in Prometheus' text format, on a listener of
/// their own, with label values from closed sets only.
@Suite("Hub metrics")
struct HubMetricsTests {
    /// The metrics page of `exchange`, through its own application (no network).
    static func scrape(_ exchange: HubExchange) async throws -> String {
        let app = buildMetricsApplication(exchange: exchange, host: "127.0.0.1", port: 0, logger: HubFixture.silentLogger)
        return try await app.test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                return String(buffer: response.body)
            }
        }
    }

    /// The value of the sample `line` starts with (name and labels), nil when absent.
    static func value(_ text: String, _ sample: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(sample + " ") }
            .flatMap { Double($0.dropFirst(sample.count + 1)) }
    }

    @Test("a sync over HTTP is counted: the exchange, what it pushed and pulled, the devices and the feed")
    func syncIsCounted() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let writer = try await hub.enroll(replicas[0])
                let reader = try await hub.enroll(replicas[1])
                for index in 0..<3 { try ScopeTests.write(replicas[0], "n\(index)", in: "SD-DN") }
                _ = try await ScopeTests.synchronizer(replicas[0], hub, writer).run()
                _ = try await ScopeTests.synchronizer(replicas[1], hub, reader).run()
                let text = try await Self.scrape(hub.exchange)
                #expect((Self.value(text, #"vigil_hub_exchanges_total{outcome="ok"}"#) ?? 0) >= 2, "\(text)")
                #expect(Self.value(text, "vigil_hub_versions_pushed_total") == 3)
                #expect(Self.value(text, "vigil_hub_versions_accepted_total") == 3)
                #expect(Self.value(text, "vigil_hub_versions_pulled_total") == 3)
                #expect((Self.value(text, "vigil_hub_answer_bytes_total") ?? 0) > 0)
                #expect((Self.value(text, "vigil_hub_exchange_duration_seconds_count") ?? 0) >= 2)
                // The fixture's own device and the two enrolled here.
                #expect(Self.value(text, #"vigil_hub_devices{state="active"}"#) == 3)
                #expect(Self.value(text, "vigil_hub_feed_position") == 3)
                #expect(Self.value(text, "vigil_hub_quarantined_versions") == 0)
            }
        }
    }

    /// Attack replayed: labels taken from what a client sends would let it grow the hub's series
    /// without bound. Outcomes and reasons outside the known sets are counted together.
    @Test("outcomes and rejection reasons outside the known sets are counted as internal and other")
    func labelsComeFromClosedSets() throws {
        let metrics = HubMetrics()
        metrics.recordExchange(outcome: "malformed-request", elapsed: .milliseconds(3))
        for index in 0..<50 { metrics.recordExchange(outcome: "made-up-\(index)", elapsed: .milliseconds(1)) }
        let dot = Dot(replica: .random(), counter: 1)
        metrics.recordVersions(
            pushed: 2, accepted: 0, pulled: 0,
            rejected: [
                Rejection(dot: dot, reason: .outOfScope, message: "", quarantined: true),
                Rejection(dot: dot, reason: Rejection.Reason(rawValue: "client-chosen"), message: "", quarantined: true),
            ])
        let text = metrics.exposition(nil)
        #expect(Self.value(text, #"vigil_hub_exchanges_total{outcome="malformed-request"}"#) == 1)
        #expect(Self.value(text, #"vigil_hub_exchanges_total{outcome="internal"}"#) == 50)
        #expect(!text.contains("made-up"))
        #expect(Self.value(text, #"vigil_hub_versions_rejected_total{reason="out-of-scope"}"#) == 1)
        #expect(Self.value(text, #"vigil_hub_versions_rejected_total{reason="other"}"#) == 1)
        #expect(!text.contains("client-chosen"))
    }
}
