import Foundation
import Hummingbird
import HummingbirdTesting
import SyncEngine
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `syncd serve` as a real process: ready line, generated token file, SIGTERM.
@Suite("Hub serve process")
struct HubServeProcessTests {
    @Test func servesWithAGeneratedTokenAndStopsOnSIGTERM() async throws {
        try await withProcessFixture { fixture in
            let database = fixture.path("hub/hub.sqlite")
            let hub = try fixture.start("syncd", ["serve", "--db", database, "--listen", "127.0.0.1:0"])
            let prefix = "syncd: listening on http://127.0.0.1:"
            let line = try await hub.waitForLine { $0.hasPrefix(prefix) }
            let port = try #require(Int(line.dropFirst(prefix.count)))
            #expect(port > 0)

            let tokenPath = database + ".token"
            let attributes = try FileManager.default.attributesOfItem(atPath: tokenPath)
            #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
            let token = try String(contentsOfFile: tokenPath, encoding: .utf8)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.count >= 32)
            #expect(!hub.standardError.contains(token), "the token is never logged")
            #expect(hub.standardError.contains(tokenPath), "the log says where the token is")

            try await TestClient.withClient(host: "127.0.0.1", port: port) { client in
                let health = try await client.get("/healthz")
                #expect(health.status == .ok)
                let request = SyncRequest(replica: .random(), counter: 0, checkpoint: nil, push: [])
                let response = try await client.post(
                    "/v1/sync", headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
                    body: ByteBuffer(bytes: try JSONEncoder().encode(request)))
                #expect(response.status == .ok)
            }
            #expect(hub.standardError.contains("sync.peer="), "one log line per exchange")

            hub.send(signal: SIGTERM)
            let termination = try await hub.waitForExit(timeout: .seconds(20))
            #expect(termination.exitStatus == 0)

            // The same token is used again on the next start.
            let again = try fixture.start("syncd", ["serve", "--db", database, "--listen", "127.0.0.1:0"])
            _ = try await again.waitForLine { $0.hasPrefix(prefix) }
            #expect(try String(contentsOfFile: tokenPath, encoding: .utf8).contains(token))
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
