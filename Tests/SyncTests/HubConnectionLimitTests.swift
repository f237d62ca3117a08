import CompressNIO
import Foundation
import HTTPTypes
import HubStore
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import Synchronization
import SyncEngine
@testable import SyncHub
import Testing
import TestSupport

/// The hub under slow and greedy clients (issue 10 §7): connections above the limit are shed with
/// a 503 problem, idle and slow-header connections are closed, and inflating gzip bodies is bounded
/// hub-wide. Limits and timeouts are configured small, so each test takes seconds.
@Suite("Hub connection limits")
struct HubConnectionLimitTests {
    typealias HTTP = HubHTTPTests

    /// Replays the outside run's slow-connection attack at a limit of 20: 25 connections. The 5
    /// above the limit are answered 503 `busy` at once; the 20 held ones send half a head and stop,
    /// and are closed by the header timeout; then a health check and a sync get through.
    @Test func slowConnectionsAboveTheLimitAreShedAndTimedOut() async throws {
        try await HubFixture.withHub(configure: {
            $0.limits.maxConnections = 20
            $0.limits.headerTimeoutSeconds = 1
            $0.limits.idleTimeoutSeconds = 30
        }) { hub in
            var slow: [RawHTTPConnection] = []
            for _ in 0..<20 { slow.append(try await RawHTTPConnection(port: hub.port)) }
            try await Task.sleep(for: .milliseconds(200))
            for _ in 0..<5 {
                let extra = try await RawHTTPConnection(port: hub.port)
                let response = try await extra.readResponse()
                #expect(response.status == 503)
                #expect(response.problem?["type"] as? String == "busy")
                #expect(response.headers["retry-after"] == "1")
            }
            // Now each of the 20 sends half a head and stops: the header timeout closes them.
            for connection in slow { await connection.send("POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ") }
            let started = ContinuousClock.now
            for connection in slow {
                let closed = await connection.closedByHub()
                #expect(closed, "a connection whose head stopped is closed")
            }
            #expect(ContinuousClock.now - started < .seconds(8))
            let health = try await Self.healthAfterShedding(port: hub.port)
            #expect(health.status == 200)
            try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))) { client in
                try await HTTP.expectServing(client, hub)
            }
        }
    }

    /// The connection limit stays below the open-file limit whatever is configured, and the limits'
    /// one table reads its environment variables with each limit's minimum.
    @Test func connectionLimitAndTheLimitsTable() {
        var limits = HubConfiguration.Limits()
        #expect(limits.connectionLimit(fileLimit: 1_024) == 720)
        #expect(limits.connectionLimit(fileLimit: 100) == 27)
        limits.maxConnections = 5_000
        #expect(limits.connectionLimit(fileLimit: 1_024) == 960, "never above the files left after the reserve")
        #expect(limits.connectionLimit(fileLimit: nil) == 5_000)
        let configured = HubConfiguration.fromEnvironment([
            "VIGIL_HUB_MAX_CONNECTIONS": "20", "VIGIL_HUB_IDLE_TIMEOUT": "0", "VIGIL_HUB_HEADER_TIMEOUT": "x",
            "VIGIL_HUB_MAX_BUFFERED_BODY_BYTES": "1048576",
        ]).limits
        #expect(configured.maxConnections == 20)
        #expect(configured.idleTimeoutSeconds == 150, "below its minimum of 1: ignored")
        #expect(configured.headerTimeoutSeconds == 10, "not a number: ignored")
        #expect(configured.maxBufferedBodyBytes == 1 << 20)
        let names = HubConfiguration.Limits.settings.map(\.flag)
        #expect(Set(names).count == names.count, "one flag per limit")
        #expect(HubConfiguration.Limits.setting(flag: "--failed-authentications-per-minute")?.environmentKey
            == "VIGIL_HUB_FAILED_AUTHENTICATIONS_PER_MINUTE")
    }

    /// `GET /healthz` on a new connection, retried (bounded) while the hub sheds connections.
    static func healthAfterShedding(port: Int) async throws -> RawHTTPConnection.Response {
        var response: RawHTTPConnection.Response?
        for _ in 0..<50 {
            let connection = try await RawHTTPConnection(port: port)
            await connection.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            response = try await connection.readResponse()
            if response?.status == 200 { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return try #require(response)
    }

    /// A connection that sends nothing, and one that trickles a header line every 300 ms (so it is
    /// never idle), are both closed: the first by the idle timeout, the second by the header timeout
    /// (1 s here; within 11 s, before the trickle would have ended at 12 s: on a loaded machine,
    /// the whole suite on two cores beside a build, up to 9 s was seen).
    @Test func idleAndTricklingConnectionsAreClosed() async throws {
        try await HubFixture.withHub(configure: {
            $0.limits.headerTimeoutSeconds = 1
            $0.limits.idleTimeoutSeconds = 2
        }) { hub in
            let idle = try await RawHTTPConnection(port: hub.port, timeout: 8)
            let trickling = try await RawHTTPConnection(port: hub.port, timeout: 8)
            await trickling.send("GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            let started = ContinuousClock.now
            var closed = false
            for line in 0..<40 {
                try await Task.sleep(for: .milliseconds(300))
                guard await trickling.send("X-Line-\(line): v\r\n") else {
                    closed = true
                    break
                }
            }
            if !closed { closed = await trickling.closedByHub() }
            #expect(closed, "a head trickled for 12 s is cut off")
            #expect(ContinuousClock.now - started < .seconds(11))
            let idleClosed = await idle.closedByHub()
            #expect(idleClosed, "an idle connection is closed")
        }
    }

    /// Replays the outside run's memory attack, scaled down: six concurrent gzip requests (each on
    /// its own connection), each small on the wire and inflating to 600 KB. With room for two in the
    /// hub's body budget, two are served (held in the storage until the test lets them go) and four
    /// are refused with 503 `busy` and `Retry-After`; once the two are answered, the budget is
    /// whole again.
    @Test func concurrentInflationIsBoundedByTheBodyBudget() async throws {
        let gate = Gate()
        let hub = try await HubFixture.start(
            configure: {
                $0.limits.maxRequestBytes = 64 << 10
                $0.limits.maxDecompressedBytes = 1 << 20
                $0.limits.maxBufferedBodyBytes = (2 << 20) + (32 << 10)
            },
            wrapStorage: { GatedHubStorage($0, gate: gate) })
        do {
            try await Self.inflateConcurrently(hub: hub, gate: gate)
        } catch {
            await hub.stop()
            throw error
        }
        await hub.stop()
    }

    static func inflateConcurrently(hub: HubFixture, gate: Gate) async throws {
        let padded = String(buffer: HostileInputTests.request(hub.deviceID)).dropLast() + String(repeating: " ", count: 600_000) + "}"
        let body = try HTTP.gzip(ByteBuffer(string: String(padded)))
        #expect(body.readableBytes < 8 << 10)
        let answers = Collected<TestClient.Response>()
        let requests = (0..<6).map { _ in
            Task {
                try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(60))) { client in
                    let response = try await HTTP.post(client, hub, body: body, extra: [.contentEncoding: "gzip"])
                    answers.items.withLock { $0.append(response) }
                }
            }
        }
        // Bounded wait until four are answered and two are held in the storage.
        for _ in 0..<500 where answers.items.withLock({ $0.count }) < 4 || gate.entered.withLock({ $0 }) < 2 {
            try await Task.sleep(for: .milliseconds(20))
        }
        let refusals = answers.items.withLock { $0 }
        #expect(refusals.count == 4)
        #expect(refusals.allSatisfy { $0.status == .serviceUnavailable })
        for response in refusals {
            #expect(response.headers[.retryAfter] == "1")
            #expect(try HTTP.problem(response)["type"] as? String == "busy")
        }
        #expect(gate.entered.withLock { $0 } == 2, "two requests fit in the budget at once")
        gate.open.withLock { $0 = true }
        for request in requests { try await request.value }
        #expect(answers.items.withLock { $0.filter { $0.status == .ok }.count } == 2)
        try await TestClient.withClient(host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))) { client in
            let again = try await HTTP.post(client, hub, body: body, extra: [.contentEncoding: "gzip"])
            #expect(again.status == .ok, "the budget is given back once requests are answered")
        }
    }

    /// A gzip body whose trailer says it inflates above the cap is refused before inflating.
    @Test func gzipAboveTheCapIsRefusedFromItsTrailer() async throws {
        try await HTTP.withHub(configure: { $0.limits.maxDecompressedBytes = 1 << 20 }) { hub, client in
            let padded = String(buffer: HostileInputTests.request(hub.deviceID)).dropLast() + String(repeating: " ", count: 2 << 20) + "}"
            let body = try HTTP.gzip(ByteBuffer(string: String(padded)))
            let detail = try await HostileInputTests.expectRefused(
                client, hub, body: body, status: .contentTooLarge, type: "too-large", extra: [.contentEncoding: "gzip"])
            #expect(detail.contains("\(1 << 20)"))
            // A trailer that lies (says 100 bytes) is refused as corrupt, having inflated at most 100.
            var lying = body
            lying.moveWriterIndex(to: lying.writerIndex - 4)
            lying.writeInteger(UInt32(100), endianness: .little)
            try await HostileInputTests.expectRefused(
                client, hub, body: lying, status: .badRequest, type: "corrupt-encoding", extra: [.contentEncoding: "gzip"])
        }
    }
}

/// What concurrent tasks hand back.
final class Collected<Item: Sendable>: Sendable {
    let items = Mutex<[Item]>([])
}

/// Holds the pages of a ``GatedHubStorage`` until opened, and counts who waits.
final class Gate: Sendable {
    let open = Mutex(false)
    let entered = Mutex(0)
}

/// A hub storage whose pages wait (bounded) until its gate opens.
final class GatedHubStorage: HubStorage {
    let base: any HubStorage
    let gate: Gate

    init(_ base: any HubStorage, gate: Gate) {
        self.base = base
        self.gate = gate
    }

    var hubID: ReplicaID { base.hubID }
    var hubKey: PublicDeviceKey { base.hubKey }
    var receiptKey: AdmissionReceiptKey { base.receiptKey }

    func take(_ push: PushPlan) async throws -> PushReport { try await base.take(push) }

    func page(_ query: PageQuery) async throws -> FeedPage {
        gate.entered.withLock { $0 += 1 }
        for _ in 0..<1_500 where !gate.open.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
        return try await base.page(query)
    }

    func versions(at dots: [Dot]) async throws -> [Version] { try await base.versions(at: dots) }

    func versions(from origins: Set<ReplicaID>, matching probes: [ReissueProbe]) async throws -> [Version] {
        try await base.versions(from: origins, matching: probes)
    }

    func authors(among origins: Set<ReplicaID>, within scope: Scope) async throws -> Set<ReplicaID> {
        try await base.authors(among: origins, within: scope)
    }
}
