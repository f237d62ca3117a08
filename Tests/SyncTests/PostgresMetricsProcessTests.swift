import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TestSupport

/// `syncd serve --postgres --metrics-listen`: the figures a PostgreSQL hub reads from its database
/// (devices by state, the feed's position, what it holds apart) are the database's, and the
/// exchange counters count what the process served. Needs a server (`VIGIL_TEST_POSTGRES`).
@Suite(
    "syncd serve on PostgreSQL: metrics", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct PostgresMetricsProcessTests {
    @Test("a PostgreSQL hub's /metrics counts its devices, feed and exchanges")
    func metricsComeFromTheDatabase() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let serve = try fixture.start(
                    "syncd", ["serve"] + backend + ["--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0"])
                let hub = RunningHub(process: serve, port: try await Self.port(of: serve, after: "listening on http://127.0.0.1:"), backend: backend)
                let metricsPort = try await Self.port(of: serve, after: "metrics on http://127.0.0.1:")
                let (writer, revoked) = (fixture.path("writer.sqlite"), fixture.path("revoked.sqlite"))
                for replica in [writer, revoked] {
                    try await fixture.initReplica(replica)
                    try await fixture.enroll(replica, hubURL: hub.url, hubBackend: backend)
                }
                for title in ["Bridge out", "Road closed", "Market burned"] {
                    _ = try await fixture.put(writer, "reports", body: #"{"title":"\#(title)"}"#)
                }
                #expect(try await fixture.syncSucceeding(writer, hub: hub.url).versionsPushed == 3)
                let listed = try await fixture.run("syncd", ["devices", "list", "--json"] + backend)
                let names = ((try listed.json()["devices"] as? [[String: Any]]) ?? []).compactMap { $0["name"] as? String }
                let second = try #require(names.sorted().last, "\(listed)")
                #expect(try await fixture.run("syncd", ["devices", "revoke", second] + backend).exitStatus == 0)

                let text = try await Self.scrape(port: metricsPort)
                #expect(HubMetricsTests.value(text, #"vigil_hub_devices{state="active"}"#) == 1, "\(text)")
                #expect(HubMetricsTests.value(text, #"vigil_hub_devices{state="revoked"}"#) == 1)
                #expect(HubMetricsTests.value(text, "vigil_hub_feed_position") == 3)
                #expect(HubMetricsTests.value(text, "vigil_hub_quarantined_versions") == 0)
                #expect(HubMetricsTests.value(text, "vigil_hub_versions_accepted_total") == 3)
                #expect((HubMetricsTests.value(text, #"vigil_hub_exchanges_total{outcome="ok"}"#) ?? 0) >= 1)
            }
        }
    }

    /// The port in `serve`'s line that starts with `prefix` (after "syncd: ").
    private static func port(of serve: ChildProcess, after prefix: String) async throws -> Int {
        let line = try await serve.waitForLine(timeout: .seconds(60)) { $0.hasPrefix("syncd: " + prefix) }
        let port = Int(line.dropFirst(("syncd: " + prefix).count).prefix { $0.isNumber }) ?? 0
        guard port > 0 else { throw ProcessFixtureError("Cannot read a port from the hub's line: \(line)") }
        return port
    }

    private static func scrape(port: Int) async throws -> String {
        let url = try #require(URL(string: "http://127.0.0.1:\(port)/metrics"))
        let (data, response) = try await URLSession.shared.data(from: url)
        #expect((response as? HTTPURLResponse)?.statusCode == 200)
        return String(decoding: data, as: UTF8.self)
    }
}
