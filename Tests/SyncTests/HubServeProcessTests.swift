import Foundation
import Hummingbird
import HummingbirdTesting
import SyncEngine
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `syncd serve` as a real process: ready line with no flags but the file and address, device
/// enrollment with `syncd devices add`, SIGTERM.
@Suite("Hub serve process")
struct HubServeProcessTests {
    @Test func servesEnrolledDevicesOnlyAndStopsOnSIGTERM() async throws {
        try await withProcessFixture { fixture in
            let database = fixture.path("hub/hub.sqlite")
            let hub = try fixture.start("syncd", ["serve", "--db", database, "--listen", "127.0.0.1:0"])
            let prefix = "syncd: listening on http://127.0.0.1:"
            let line = try await hub.waitForLine { $0.hasPrefix(prefix) }
            let port = try #require(Int(line.dropFirst(prefix.count)))
            #expect(port > 0)
            #expect(!FileManager.default.fileExists(atPath: database + ".token"), "no shared token any more")

            // The operator gives out a code on the hub machine while the hub runs.
            let added = try await fixture.run("syncd", ["devices", "add", "field-laptop", "--all", "--db", database, "--json"])
            #expect(added.exitCode == 0, "\(added)")
            struct Added: Decodable { var code: String }
            let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code
            let key = DeviceKey()
            let replica = ReplicaID.random()

            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let health = try await client.get("/healthz")
                #expect(health.status == .ok)
                let request = SyncRequest(replica: replica, counter: 0, checkpoint: nil, push: [])
                let body = ByteBuffer(bytes: try JSONEncoder().encode(request))
                let anonymous = try await client.post("/v1/sync", headers: [.contentType: "application/json"], body: body)
                #expect(anonymous.status == .unauthorized)

                let enrollment = try EnrollmentRequest(code: code, replica: replica, key: key)
                let enrolled = try await client.post(
                    "/v1/enroll", headers: [.contentType: "application/json"],
                    body: ByteBuffer(bytes: try JSONEncoder().encode(enrollment)))
                #expect(enrolled.status == .ok)
                let answer = try JSONDecoder().decode(
                    EnrollmentResponse.self, from: Data(try #require(enrolled.body).readableBytesView))
                #expect(answer.name == "field-laptop")
                #expect(!hub.standardError.contains(answer.credential), "the credential is never logged")

                let response = try await client.post(
                    "/v1/sync", headers: [.authorization: "Bearer \(answer.credential)", .contentType: "application/json"],
                    body: body)
                #expect(response.status == .ok)
            }
            #expect(hub.standardError.contains("sync.peer="), "one log line per exchange")
            let listed = try await fixture.run("syncd", ["devices", "list", "--db", database])
            #expect(listed.output.contains("field-laptop") && listed.output.contains(replica.hex) && listed.output.contains("active"))

            hub.send(signal: SIGTERM)
            let termination = try await hub.waitForExit(timeout: .seconds(20))
            #expect(termination.exitStatus == 0)

            let again = try fixture.start("syncd", ["serve", "--db", database, "--listen", "127.0.0.1:0"])
            _ = try await again.waitForLine { $0.hasPrefix(prefix) }
            again.send(signal: SIGINT)
            #expect(try await again.waitForExit(timeout: .seconds(20)).exitStatus == 0)
        }
    }

    @Test func badListenAddressIsAUsageError() async throws {
        try await withProcessFixture { fixture in
            let result = try await fixture.run("syncd", ["serve", "--db", fixture.path("hub.sqlite"), "--listen", "nowhere"])
            #expect(result.exitCode != 0)
            #expect(result.stderr.contains("--listen"))
        }
    }
}
