import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import ReplicaStore
import SyncEngine
@testable import SyncHub
import Testing
import TestSupport

/// The hostile matrix at the hub's HTTP edge (issue 10 §6 and §7), replayed on raw sockets where
/// no HTTP client would send it: each case gets a 4xx problem+json (never a 5xx, never a bare
/// answer), nothing of it is stored, and the hub serves a valid exchange afterwards.
@Suite("Hostile HTTP")
struct HostileHTTPTests {
    typealias HTTP = HubHTTPTests
    typealias Hostile = HostileInputTests

    /// One hostile request: its name, its bytes, and the statuses and problem type it may get.
    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var bytes: [UInt8]
        var statuses: Set<Int>
        var type: String?
        var description: String { name }

        init(_ name: String, _ text: String, _ statuses: Set<Int> = [400], type: String? = "malformed-request") {
            self.init(name, Array(text.utf8), statuses, type: type)
        }

        init(_ name: String, _ bytes: [UInt8], _ statuses: Set<Int> = [400], type: String? = "malformed-request") {
            self.name = name
            self.bytes = bytes
            self.statuses = statuses
            self.type = type
        }
    }

    /// Sends `hostile` on a fresh connection and expects its problem answer, nothing of a push
    /// for `origins` stored, and the hub still serving.
    static func expectRefused(
        _ hostile: Case, hub: HubFixture, client: TestClient, origins: Set<ReplicaID> = [],
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let before = try await Hostile.state(hub, origins)
        let connection = try await RawHTTPConnection(port: hub.port)
        await connection.send(hostile.bytes)
        let response = try await connection.readResponse()
        #expect(hostile.statuses.contains(response.status), "\(hostile.name): \(response.status)", sourceLocation: sourceLocation)
        #expect(response.status < 500, "\(hostile.name) is never a 5xx", sourceLocation: sourceLocation)
        let problem = response.problem
        #expect(problem != nil, "\(hostile.name) is answered with problem+json", sourceLocation: sourceLocation)
        if let type = hostile.type {
            #expect(problem?["type"] as? String == type, "\(hostile.name)", sourceLocation: sourceLocation)
        }
        #expect(problem?["status"] as? Int == response.status, sourceLocation: sourceLocation)
        #expect(try await Hostile.state(hub, origins) == before, "\(hostile.name): nothing stored", sourceLocation: sourceLocation)
        try await HTTP.expectServing(client, hub)
    }

    /// A request head with `lines` (each without its CRLF) and the blank line.
    static func head(_ requestLine: String, _ lines: [String]) -> String {
        ([requestLine, "Host: 127.0.0.1"] + lines).map { $0 + "\r\n" }.joined() + "\r\n"
    }

    /// A valid sync request pushing one version of `replica`, as text.
    static func pushBody(_ replica: ReplicaID) -> String {
        String(buffer: Hostile.request(replica, push: [Hostile.version(origin: replica)]))
    }

    // MARK: The HTTP parser (§7: bare 400s and 500 `storage`)

    /// Requests the parser refuses before their head is whole: today a bare 400 without a body.
    static func parserCases(token: String) -> [Case] {
        let bad = "POST /v1/sync HTTP/1.1"
        return [
            Case("unknown method FOO", head("FOO /v1/sync HTTP/1.1", [])),
            Case("100 KB header", head("GET /healthz HTTP/1.1", ["X-Big: " + String(repeating: "a", count: 100_000)])),
            Case("10,000 header lines", head("GET /healthz HTTP/1.1", (0..<10_000).map { "X-H\($0): v" })),
            Case(
                "Content-Length with Transfer-Encoding: chunked",
                head(bad, ["Authorization: Bearer \(token)", "Content-Length: 5", "Transfer-Encoding: chunked"]) + "0\r\n\r\n"),
            Case("two Content-Lengths", head(bad, ["Content-Length: 5", "Content-Length: 6"]) + "{}{}{}"),
            Case("a space in a header name", head("GET /healthz HTTP/1.1", ["Bad Header: x"])),
            Case("a header line without a colon", head("GET /healthz HTTP/1.1", ["NoColonHere"])),
            Case("control bytes for a request line", [1, 2, 3, 13, 10, 13, 10]),
            Case("negative Content-Length", head(bad, ["Content-Length: -1"])),
            Case("Content-Length not a number", head(bad, ["Content-Length: abc"])),
            Case("a NUL in a header value", head("GET /healthz HTTP/1.1", ["X-A: a\u{0}b"])),
            Case("HTTP version 9.9", head("GET /healthz HTTP/9.9", []), [400, 505], type: nil),
        ]
    }

    /// Bodies the parser refuses after the head, while a route reads them: today 500 `storage`.
    static func chunkedCases(token: String, replica: ReplicaID) -> [Case] {
        let sync = Self.head(
            "POST /v1/sync HTTP/1.1",
            ["Authorization: Bearer \(token)", "Content-Type: application/json", "Transfer-Encoding: chunked"])
        let enroll = Self.head("POST /v1/enroll HTTP/1.1", ["Content-Type: application/json", "Transfer-Encoding: chunked"])
        let body = pushBody(replica)
        let size = String(body.utf8.count, radix: 16)
        return [
            Case("chunk size zz", sync + "zz\r\n\(body)\r\n0\r\n\r\n"),
            Case("chunk size FFFFFFFFFFFFFFFFFF", sync + "FFFFFFFFFFFFFFFFFF\r\n\(body)\r\n0\r\n\r\n"),
            Case("a chunk longer than declared", sync + "\(size)\r\n\(body)EXTRA-BYTES\r\n0\r\n\r\n"),
            Case("a chunk size with a sign", sync + "-5\r\nabcde\r\n0\r\n\r\n"),
            Case("chunk size zz on /v1/enroll", enroll + "zz\r\n{}\r\n0\r\n\r\n"),
        ]
    }

    @Test func theParserIsAnsweredWithProblems() async throws {
        try await HTTP.withHub { hub, client in
            for hostile in Self.parserCases(token: hub.token) {
                try await Self.expectRefused(hostile, hub: hub, client: client, origins: [hub.deviceID])
            }
        }
    }

    @Test func malformedChunkedBodiesAreBadRequestsNotStorageFailures() async throws {
        try await HTTP.withHub { hub, client in
            for hostile in Self.chunkedCases(token: hub.token, replica: hub.deviceID) {
                try await Self.expectRefused(hostile, hub: hub, client: client, origins: [hub.deviceID])
            }
        }
    }

    // MARK: Content-Length above the limits (§7: refused from the header)

    /// The hub answers 413 from the head alone: the body is never sent, so a hub that waited
    /// for the limit's bytes would not answer within the connection's timeout.
    @Test func contentLengthAboveTheLimitIsRefusedFromTheHeader() async throws {
        try await HTTP.withHub { hub, client in
            let cases = [
                Case(
                    "sync body of 100 MB declared",
                    Self.head(
                        "POST /v1/sync HTTP/1.1",
                        ["Authorization: Bearer \(hub.token)", "Content-Type: application/json", "Content-Length: 100000000"]),
                    [413], type: "too-large"),
                Case(
                    "gzip sync body of 9 MiB declared",
                    Self.head(
                        "POST /v1/sync HTTP/1.1",
                        [
                            "Authorization: Bearer \(hub.token)", "Content-Type: application/json", "Content-Encoding: gzip",
                            "Content-Length: \(9 << 20)",
                        ]),
                    [413], type: "too-large"),
                Case(
                    "enrollment body of 20 KB declared",
                    Self.head("POST /v1/enroll HTTP/1.1", ["Content-Type: application/json", "Content-Length: 20000"]),
                    [413], type: "too-large"),
                Case(
                    "incarnation body of 1 MB declared",
                    Self.head(
                        "POST /v1/incarnate HTTP/1.1",
                        ["Authorization: Bearer \(hub.token)", "Content-Type: application/json", "Content-Length: 1000000"]),
                    [413], type: "too-large"),
            ]
            for hostile in cases {
                let started = ContinuousClock.now
                try await Self.expectRefused(hostile, hub: hub, client: client)
                // Well below the hub's 60 s idle time-out, which would close a connection whose body never
                // comes; generous for a parallel suite on two cores.
                #expect(ContinuousClock.now - started < .seconds(20), "\(hostile.name) is answered without its body")
            }
        }
    }

    @Test func chunkedBodiesAboveTheLimitAreTooLarge() async throws {
        try await HTTP.withHub(configure: { $0.limits.maxRequestBytes = 32 << 10 }) { hub, client in
            let chunk = String(repeating: " ", count: 8 << 10)
            let chunks = String(repeating: "2000\r\n\(chunk)\r\n", count: 6) + "0\r\n\r\n"
            let cases = [
                Case(
                    "chunked sync body of 48 KiB",
                    Self.head(
                        "POST /v1/sync HTTP/1.1",
                        ["Authorization: Bearer \(hub.token)", "Content-Type: application/json", "Transfer-Encoding: chunked"])
                        + chunks,
                    [413], type: "too-large"),
                Case(
                    "chunked enrollment body of 48 KiB",
                    Self.head("POST /v1/enroll HTTP/1.1", ["Content-Type: application/json", "Transfer-Encoding: chunked"]) + chunks,
                    [413], type: "too-large"),
            ]
            for hostile in cases { try await Self.expectRefused(hostile, hub: hub, client: client) }
        }
    }

    // MARK: Authorization headers (§6)

    static func authorizationCases(token: String, replica: ReplicaID) -> [Case] {
        let body = pushBody(replica)
        func sync(_ authorization: [String]) -> String {
            Self.head(
                "POST /v1/sync HTTP/1.1",
                authorization.map { "Authorization: " + $0 } + [
                    "Content-Type: application/json", "Content-Length: \(body.utf8.count)",
                ]) + body
        }
        let rejected: Set<Int> = [401]
        let rejectedOrUnparsed: Set<Int> = [400, 401]
        return [
            Case("Basic scheme", sync(["Basic dXNlcjpwYXNz"]), rejected, type: "unauthorized"),
            Case("Digest scheme", sync([#"Digest username="x", response="y""#]), rejected, type: "unauthorized"),
            Case("credential without a scheme", sync([token]), rejected, type: "unauthorized"),
            Case("Bearer without a credential", sync(["Bearer"]), rejected, type: "unauthorized"),
            Case("Bearer of 300 characters", sync(["Bearer " + String(repeating: "A", count: 300)]), rejected, type: "unauthorized"),
            Case("a credential with more after it", sync(["Bearer \(token) more"]), rejected, type: "unauthorized"),
            Case("a credential cut short", sync(["Bearer \(token.dropLast())"]), rejected, type: "unauthorized"),
            Case("two valid Authorization headers", sync(["Bearer \(token)", "Bearer \(token)"]), rejected, type: "unauthorized"),
            Case("a valid and a forged header", sync(["Bearer \(token)", "Bearer forged"]), rejected, type: "unauthorized"),
            Case("a control character", sync(["Bearer \(token.prefix(10))\u{1}\(token.dropFirst(10))"]), rejectedOrUnparsed, type: nil),
            Case("a DEL character", sync(["Bearer \(token)\u{7F}"]), rejectedOrUnparsed, type: nil),
            Case("non-ASCII bytes", sync(["Bearer \(token.prefix(20))é\(token.dropFirst(21))"]), rejectedOrUnparsed, type: nil),
        ]
    }

    @Test func malformedAuthorizationHeadersAreRefused() async throws {
        try await HTTP.withHub { hub, client in
            for hostile in Self.authorizationCases(token: hub.token, replica: hub.deviceID) {
                try await Self.expectRefused(hostile, hub: hub, client: client, origins: [hub.deviceID])
            }
        }
    }

    // MARK: Duplicate keys (§6)

    static func duplicateKeyCases(token: String, replica: ReplicaID) -> [Case] {
        let body = pushBody(replica)
        let version = Hostile.version(origin: replica)
        let bodies = [
            ("a duplicate top-level key", body.replacingOccurrences(of: #"{"protocol":1,"#, with: #"{"protocol":1,"protocol":1,"#)),
            ("a duplicate written with an escape", body.replacingOccurrences(of: #""counter":0"#, with: #""counter":0,"counte\u0072":7"#)),
            ("a duplicate key in a pushed version", body.replacingOccurrences(of: version, with: String(version.dropLast()) + #","id":"other"}"#)),
            ("a duplicate key in the limits", body.replacingOccurrences(of: #""versions":100"#, with: #""versions":100,"versions":1"#)),
            ("canonically equal keys", body.replacingOccurrences(of: #"{"protocol":1,"#, with: #"{"protocol":1,"\u00e9":1,"e\u0301":2,"#)),
        ]
        return bodies.map { name, text in
            Case(
                name,
                Self.head(
                    "POST /v1/sync HTTP/1.1",
                    ["Authorization: Bearer \(token)", "Content-Type: application/json", "Content-Length: \(text.utf8.count)"])
                    + text)
        }
    }

    @Test func jsonWithDuplicateKeysIsRefused() async throws {
        try await HTTP.withHub { hub, client in
            for hostile in Self.duplicateKeyCases(token: hub.token, replica: hub.deviceID) {
                try await Self.expectRefused(hostile, hub: hub, client: client, origins: [hub.deviceID])
            }
            let unique = #"{"a":{"b":1},"b":{"a":"\"a\":1,\"a\":2"},"c":[{"d":1},{"d":2}]}"#
            #expect(Array(unique.utf8).withUnsafeBytes { JSONDuplicateKeys.firstDuplicate(in: $0) } == nil, "the same key in different objects and in strings is fine")
        }
    }

    // MARK: Checkpoints (§6)

    @Test func forgedAndOversizedCheckpoints() async throws {
        try await HTTP.withHub { hub, client in
            let replica = hub.deviceID
            func sync(checkpoint: String) async throws -> TestClient.Response {
                let text = #"{"protocol":1,"replica":"\#(replica.hex)","counter":0,"checkpoint":"\#(checkpoint)","push":[],"limits":{"versions":100,"bytes":100000}}"#
                return try await HTTP.post(client, hub, body: ByteBuffer(string: text))
            }
            // A forged checkpoint is not one this hub gave out: the pull starts over, as documented.
            for forged in ["999999.deadbeef:7", "0.0:0", "~~~~", String(repeating: "9", count: 200)] {
                let response = try await sync(checkpoint: forged)
                #expect(response.status == .ok)
                let answer = try JSONDecoder().decode(SyncResponse.self, from: Data(try #require(response.body).readableBytesView))
                #expect(answer.checkpointReset)
            }
            // One longer than any the hub makes is refused.
            let oversized = try await sync(checkpoint: String(repeating: "A", count: 4_096))
            #expect(oversized.status == .badRequest)
            #expect(try HTTP.problem(oversized)["type"] as? String == "malformed-request")
            try await HTTP.expectServing(client, hub)
        }
    }
}
