import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Enrollment and authentication under attack (issue 10 §4 and §6): hostile enrollment bodies,
/// races on one code, incarnations of bound ids, per-address limits before any database work, and
/// the refusals audited as one entry per address and period.
@Suite("Hub refusals")
struct HubRefusalTests {
    typealias HTTP = HubHTTPTests

    /// No enrollment limits: the matrix enrolls many times from one address.
    static func unlimitedEnrollments(_ configuration: inout HubConfiguration) {
        configuration.limits.enrollmentsPerMinute = 0
        configuration.limits.enrollmentsPerAddressPerMinute = 0
    }

    static func post(
        _ client: TestClient, _ path: String, json: String, token: String? = nil, extra: HTTPFields = [:]
    ) async throws -> TestClient.Response {
        try await client.execute(
            TestClient.Request(
                path, method: .post, authority: "127.0.0.1",
                headers: HTTP.headers(token: token, extra: extra), body: ByteBuffer(string: json)))
    }

    /// A valid enrollment for a new replica with `code`, as JSON fields to break one by one.
    static func enrollment(code: String) throws -> [String: Any] {
        let request = try EnrollmentRequest(code: code, replica: ReplicaID.random(), key: DeviceKey())
        return try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(request)) as? [String: Any])
    }

    static func json(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
    }

    /// The enrolled devices' replica ids, to see that a refused enrollment stored nothing.
    static func enrolled(_ hub: HubFixture) throws -> Set<ReplicaID> {
        Set(try hub.store.devices().map(\.replicaID))
    }

    @Test func hostileEnrollmentBodiesAreRefusedAndStoreNothing() async throws {
        try await HTTP.withHub(configure: Self.unlimitedEnrollments) { hub, client in
            let code = try await hub.enrollmentCode(name: "target")
            let valid = try Self.enrollment(code: code)
            let key31 = Data(repeating: 1, count: 31).base64EncodedString()
            let key33 = Data(repeating: 1, count: 33).base64EncodedString()
            let cases: [(String, [String: Any], Set<Int>)] = [
                ("a public key of 31 bytes", valid.merging(["publicKey": key31]) { $1 }, [400]),
                ("a public key of 33 bytes", valid.merging(["publicKey": key33]) { $1 }, [400]),
                ("a public key not in base64", valid.merging(["publicKey": "not base64 at all!"]) { $1 }, [400]),
                ("a public key of the wrong type", valid.merging(["publicKey": 12]) { $1 }, [400]),
                ("a proof of 10 bytes", valid.merging(["proof": Data(count: 10).base64EncodedString()]) { $1 }, [400, 403]),
                ("a proof of 64 zero bytes", valid.merging(["proof": Data(count: 64).base64EncodedString()]) { $1 }, [403]),
                ("a proof not in base64", valid.merging(["proof": "%%%"]) { $1 }, [400]),
                ("a replica id too short", valid.merging(["replica": "abcd"]) { $1 }, [400]),
                ("a replica id not hex", valid.merging(["replica": String(repeating: "z", count: 32)]) { $1 }, [400]),
                // The proof covers the code: another code fails the proof (403) or is unknown (404).
                ("an empty code", valid.merging(["code": ""]) { $1 }, [400, 403, 404]),
                ("a code of 10,000 characters", valid.merging(["code": String(repeating: "A", count: 10_000)]) { $1 }, [400, 403, 404]),
            ]
            for (name, body, statuses) in cases {
                let before = try Self.enrolled(hub)
                let response = try await Self.post(client, "/v1/enroll", json: try Self.json(body))
                #expect(statuses.contains(Int(response.status.code)), "\(name): \(response.status)")
                _ = try HTTP.problem(response)
                #expect(try Self.enrolled(hub) == before, "\(name): nothing enrolled")
            }
            let duplicated = try Self.json(valid).replacingOccurrences(of: #"{"#, with: #"{"code":"XXXX-XXXX","#)
            let response = try await Self.post(client, "/v1/enroll", json: duplicated)
            #expect(response.status == .badRequest, "a duplicate key in an enrollment")
            // The code was not used up by any of them.
            #expect(try await Self.post(client, "/v1/enroll", json: try Self.json(valid)).status == .ok)
            try await HTTP.expectServing(client, hub)
        }
    }

    /// Two devices race on one code: exactly one is enrolled, the other is told the code is used.
    @Test func twoEnrollmentsRacingOnOneCodeEnrollOne() async throws {
        try await HTTP.withHub(configure: Self.unlimitedEnrollments) { hub, client in
            for round in 0..<5 {
                let code = try await hub.enrollmentCode(name: "racer-\(round)")
                let bodies = try (0..<2).map { _ in try Self.json(try Self.enrollment(code: code)) }
                // Each on its own connection: one connection's requests are served in turn.
                let statuses = try await withThrowingTaskGroup(of: HTTPResponse.Status.self) { group in
                    for body in bodies {
                        group.addTask {
                            try await TestClient.withClient(
                                host: "127.0.0.1", port: hub.port, configuration: .init(timeout: .seconds(30))
                            ) { racer in try await Self.post(racer, "/v1/enroll", json: body).status }
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.filter { $0 == .ok }.count == 1, "round \(round): \(statuses)")
                #expect(statuses.filter { $0 == .conflict }.count == 1, "round \(round): \(statuses)")
            }
        }
    }

    /// Incarnating as an id already bound (another device's, or one's own) is 409 and binds nothing.
    @Test func incarnationOfABoundIdIsAConflict() async throws {
        try await HTTP.withHub { hub, client in
            let other = ReplicaID.random()
            _ = try await hub.enroll(other, key: DeviceKey(), name: "other")
            for (name, id) in [("another device's id", other), ("its own id", hub.deviceID)] {
                let before = try Self.enrolled(hub)
                let response = try await Self.post(
                    client, "/v1/incarnate", json: #"{"replica":"\#(id.hex)"}"#, token: hub.token)
                #expect(response.status == .conflict, "\(name)")
                #expect(try HTTP.problem(response)["type"] as? String == "already-enrolled")
                #expect(try Self.enrolled(hub) == before)
            }
            let duplicated = try await Self.post(
                client, "/v1/incarnate", json: #"{"replica":"\#(ReplicaID.random().hex)","replica":"\#(other.hex)"}"#,
                token: hub.token)
            #expect(duplicated.status == .badRequest, "a duplicate key in an incarnation")
            try await HTTP.expectServing(client, hub)
        }
    }

    // MARK: Per-address limits and their audit (§4)

    /// A guessing client: after its failures, even a valid credential from its address is refused
    /// (429) — proof that the refusal comes before the credential is looked up.
    @Test func failedAuthenticationsAreLimitedPerAddressBeforeTheLookup() async throws {
        try await HTTP.withHub(configure: { $0.limits.failedAuthenticationsPerMinute = 3 }) { hub, client in
            let body = HostileInputTests.request(hub.deviceID)
            for attempt in 0..<3 {
                let response = try await HTTP.post(client, hub, body: body, token: "guess-\(attempt)")
                #expect(response.status == .unauthorized)
            }
            let limited = try await HTTP.post(client, hub, body: body)
            #expect(limited.status == .tooManyRequests)
            #expect(try HTTP.problem(limited)["type"] as? String == "too-many-requests")
            #expect(limited.headers[.retryAfter].flatMap { Int($0) }.map { (1...60).contains($0) } == true)
            #expect(try await client.get("/healthz").status == .ok, "health needs no credential and is not limited")
        }
    }

    /// One address enrolling in a loop is limited before its body is read (a broken body gets 429).
    @Test func enrollmentsAreLimitedPerAddress() async throws {
        try await HTTP.withHub(configure: { $0.limits.enrollmentsPerAddressPerMinute = 2 }) { hub, client in
            for _ in 0..<2 {
                let response = try await Self.post(client, "/v1/enroll", json: try Self.json(try Self.enrollment(code: "AAAA-BBBB")))
                #expect(response.status == .notFound)
            }
            let limited = try await Self.post(client, "/v1/enroll", json: "{ not json")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    /// A flood of refusals costs one audit entry per address and kind per period (2 s here), with
    /// the count: 7 failed authentications and 4 refused enrollments, sent within a period or two,
    /// add up in at most a few entries, never one each.
    @Test func refusalsAreAuditedAggregatedPerAddress() async throws {
        try await HTTP.withHub(configure: { $0.refusalAuditInterval = .seconds(2) }) { hub, client in
            let started = ContinuousClock.now
            let body = HostileInputTests.request(hub.deviceID)
            for attempt in 0..<7 {
                #expect(try await HTTP.post(client, hub, body: body, token: "guess-\(attempt)").status == .unauthorized)
            }
            for _ in 0..<4 {
                let response = try await Self.post(client, "/v1/enroll", json: try Self.json(try Self.enrollment(code: "AAAA-BBBB")))
                #expect(response.status == .notFound)
            }
            let sent = ContinuousClock.now - started
            func total(_ entries: [AuditEntry], _ key: String) -> Int { entries.compactMap { $0.detail[key].flatMap { Int($0) } }.reduce(0, +) }
            var failed: [AuditEntry] = []
            var refused: [AuditEntry] = []
            for _ in 0..<150 {
                let entries = try hub.store.auditEntries(after: 0, limit: 1_000)
                failed = entries.filter { $0.action == .authenticationFailed }
                refused = entries.filter { $0.action == .enrollmentRefused }
                if total(failed, "count") == 7, total(refused, "count") == 4 { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            #expect(total(failed, "count") == 7)
            #expect(total(failed, "reason.unknown") == 7)
            #expect(total(refused, "count") == 4)
            #expect(total(refused, "reason.enrollment-unknown") == 4)
            let periods = Int(sent / .seconds(2)) + 2
            #expect(failed.count <= periods && refused.count <= periods, "one entry per period: \(failed.count), \(refused.count)")
            #expect((failed + refused).allSatisfy { $0.subject == "127.0.0.1" && $0.actor == "hub" })
        }
    }
}
