import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import HubStorePostgres
import Logging
import PostgresNIO
import SyncClient
import Testing
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// `syncd serve --postgres` and `syncd devices --postgres` as real processes: two hub processes on
/// one PostgreSQL schema are one hub. Needs a server: `VIGIL_TEST_POSTGRES` names it (CI starts
/// one and sets `VIGIL_REQUIRE_POSTGRES=1`, which makes a missing server a failure).
@Suite(
    "syncd serve on PostgreSQL: real processes", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct PostgresServeProcessTests {
    /// Schedule (issue 12, "Many hubs"): two hub processes share one database; device A syncs only
    /// through the first, device B only through the second. Before `--postgres` existed each
    /// `syncd serve` was its own network and B never saw A's report.
    @Test("two hub processes on one schema serve one network: what one takes the other delivers")
    func twoProcessesServeOneNetwork() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let first = try await fixture.startHub(backend: backend)
                let second = try await fixture.startHub(backend: backend)
                #expect(try await Self.hubID(first) == (try await Self.hubID(second)), "two identities on one database")
                let (a, b) = (fixture.path("a.sqlite"), fixture.path("b.sqlite"))
                for replica in [a, b] { try await fixture.initReplica(replica) }
                try await fixture.enroll(a, at: first)
                try await fixture.enroll(b, at: second)

                _ = try await fixture.put(a, "reports", body: #"{"title":"Bridge out"}"#)
                #expect(try await fixture.syncSucceeding(a, hub: first.url).versionsPushed == 1)
                #expect(try await fixture.syncSucceeding(b, hub: second.url).versionsPulled == 1)
                _ = try await fixture.put(b, "reports", body: #"{"title":"Road closed"}"#)
                #expect(try await fixture.syncSucceeding(b, hub: second.url).versionsPushed == 1)
                #expect(try await fixture.syncSucceeding(a, hub: first.url).versionsPulled == 1)
            }
        }
    }

    /// Schedule (issue 12): an operator revokes a device with `syncd devices --postgres revoke`
    /// while two hub processes run; the device's next sync is refused by both, at once.
    @Test("a device revoked on the database is refused by every hub process at once")
    func revocationHoldsOnEveryProcess() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let first = try await fixture.startHub(backend: backend)
                let second = try await fixture.startHub(backend: backend)
                let device = fixture.path("seized.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: first)
                // The credential names the first process's address; another address of the same hub
                // takes it with --token.
                // Read in this process, unlocked when the suites run on encrypted replicas.
                let token = try #require(HubCredentials.savedToken(for: try TemporaryReplica.open(at: device)))
                for hub in [first, second] {
                    let synced = try await fixture.run("fieldcli", fixture.syncArguments(device, hub: hub.url) + ["--token", token])
                    #expect(synced.exitStatus == 0, "hub \(hub.port): \(synced)")
                }

                let listed = try await fixture.run("syncd", ["devices", "list", "--json"] + backend)
                let name = try #require(
                    (try listed.json()["devices"] as? [[String: Any]])?.first?["name"] as? String, "\(listed)")
                let revoked = try await fixture.run("syncd", ["devices", "revoke", name] + backend)
                #expect(revoked.exitStatus == 0, "\(revoked)")
                for hub in [first, second] {
                    let refused = try await fixture.run("fieldcli", fixture.syncArguments(device, hub: hub.url) + ["--token", token])
                    #expect(refused.exitStatus == 77, "hub \(hub.port): \(refused)")
                }
            }
        }
    }

    /// Schedule (issue 12): a device enrolls through a hub process, an operator revokes it with
    /// `syncd devices --postgres`; `syncd audit --postgres` lists the enrollment and the revocation,
    /// verifies the chain, prints the head, and finds that head again. Before the PostgreSQL hub
    /// had an audit log, neither entry was written (only logged) and `syncd audit` took no --postgres.
    @Test("a revocation made with syncd devices --postgres shows in syncd audit --postgres and verifies")
    func revocationIsAudited() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hub = try await fixture.startHub(backend: backend)
                let device = fixture.path("seized.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: hub)
                let listed = try await fixture.run("syncd", ["devices", "list", "--json"] + backend)
                let name = try #require(
                    (try listed.json()["devices"] as? [[String: Any]])?.first?["name"] as? String, "\(listed)")
                let revoked = try await fixture.run("syncd", ["devices", "revoke", name] + backend)
                #expect(revoked.exitStatus == 0, "\(revoked)")

                let audit = try await fixture.run("syncd", ["audit", "list", "--json"] + backend)
                #expect(audit.exitStatus == 0, "\(audit)")
                let entries = try #require(try audit.json()["entries"] as? [[String: Any]], "\(audit)")
                let actions = entries.compactMap { $0["action"] as? String }
                #expect(actions.contains("device.code-issued") && actions.contains("device.enrolled"), "\(actions)")
                #expect(actions.last == "device.revoked", "\(actions)")
                #expect(entries.last?["subject"] as? String == name)
                #expect(entries.allSatisfy { ($0["signature"] as? String)?.count == 128 }, "\(entries)")

                let verified = try await fixture.run("syncd", ["audit", "verify"] + backend)
                #expect(verified.exitStatus == 0, "\(verified)")
                #expect(verified.stdout.contains("The audit log's \(entries.count) entries chain correctly."), "\(verified)")
                #expect(verified.stdout.contains("Every entry is signed by this hub's key."), "\(verified)")
                let head = try await fixture.run("syncd", ["audit", "head"] + backend)
                #expect(head.exitStatus == 0, "\(head)")
                let hash = try #require(head.stdout.split(separator: " ").last.map { String($0.dropLast()) })
                #expect(head.stdout.hasPrefix("#\(entries.count) "), "\(head)")
                let kept = try await fixture.run("syncd", ["audit", "verify", "--head", hash] + backend)
                #expect(kept.exitStatus == 0, "\(kept)")
                #expect(kept.stdout.contains("The head you kept, #\(entries.count), is in the log"), "\(kept)")
                let missing = try await fixture.run("syncd", ["audit", "verify", "--head", String(repeating: "0", count: 64)] + backend)
                #expect(missing.exitStatus == 66, "\(missing)")
            }
        }
    }

    /// Schedule (issue 12): a request with a credential the hub does not know reaches a hub process
    /// on PostgreSQL, which then stops (SIGTERM: its refusals are written at shutdown). Before the
    /// PostgreSQL hub had an audit log its refusal sink wrote nowhere: no entry was ever made.
    @Test("refused requests to a hub on PostgreSQL are audited, one entry per address")
    func refusalsAreAudited() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hub = try await fixture.startHub(backend: backend)
                for attempt in 0..<3 {
                    var request = URLRequest(url: try #require(URL(string: hub.url + "/v1/sync")))
                    request.httpMethod = "POST"
                    request.setValue("Bearer guess-\(attempt)", forHTTPHeaderField: "Authorization")
                    request.setValue("application/json", forHTTPHeaderField: "Content-Type")
                    request.httpBody = Data("{}".utf8)
                    let (_, response) = try await URLSession.shared.data(for: request)
                    #expect((response as? HTTPURLResponse)?.statusCode == 401)
                }
                hub.process.send(signal: SIGTERM)
                #expect(try await hub.process.waitForExit(timeout: .seconds(30)) == .exited(0))

                let audit = try await fixture.run("syncd", ["audit", "list", "--json"] + backend)
                let entries = try #require(try audit.json()["entries"] as? [[String: Any]], "\(audit)")
                let failed = entries.filter { $0["action"] as? String == "device.authentication-failed" }
                #expect(failed.count == 1, "\(entries)")
                #expect(failed.first?["subject"] as? String == "127.0.0.1")
                #expect((failed.first?["detail"] as? [String: String])?["count"] == "3", "\(failed)")
                let verified = try await fixture.run("syncd", ["audit", "verify"] + backend)
                #expect(verified.exitStatus == 0, "\(verified)")
            }
        }
    }

    @Test("syncd audit --postgres on a server that does not answer exits 69, as syncd devices does")
    func auditOnAnUnreachableServer() async throws {
        try await withProcessFixture { fixture in
            let backend = ["--postgres", "postgres://vigil:secret@127.0.0.1:1/vigil"]
            let audit = try await fixture.run("syncd", ["audit", "verify"] + backend)
            #expect(audit.exitStatus == 69, "\(audit)")
            #expect(audit.stderr.contains("accepted no connection within"), "\(audit)")
        }
    }

    @Test("a PostgreSQL server that does not answer: syncd serve and devices exit 69 with one sentence")
    func unreachableServer() async throws {
        try await withProcessFixture { fixture in
            // Port 1 on loopback: nothing listens, every connection is refused.
            let backend = ["--postgres", "postgres://vigil:secret@127.0.0.1:1/vigil"]
            let serve = try fixture.start("syncd", ["serve", "--listen", "127.0.0.1:0"] + backend)
            #expect(try await serve.waitForExit(timeout: .seconds(60)) == .exited(69))
            #expect(serve.standardError.contains("accepted no connection within"), "\(serve.standardError)")
            let list = try await fixture.run("syncd", ["devices", "list"] + backend)
            #expect(list.exitStatus == 69, "\(list)")
        }
    }

    /// Schedule (review of ec6fcbb, where `--hub-key` was optional): an operator starts the first
    /// hub process on a new database without `--hub-key`. Before, it wrote a new private key into
    /// `hub_identity`, and every dump from then on held the key that certifies devices; now `syncd
    /// serve` and `syncd devices` exit 76 saying to pass `--hub-key`, and the schema gets no hub.
    @Test("a new schema without --hub-key: syncd serve and devices exit 76 and make no hub there")
    func aNewSchemaNeedsTheHubKey() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let withoutKey = Array(backend.prefix { $0 != "--hub-key" })
                let serve = try fixture.start("syncd", ["serve", "--listen", "127.0.0.1:0"] + withoutKey)
                #expect(try await serve.waitForExit(timeout: .seconds(60)) == .exited(76))
                #expect(serve.standardError.contains("holds no hub yet"), "\(serve.standardError)")
                #expect(serve.standardError.contains("Pass --hub-key"), "\(serve.standardError)")
                let list = try await fixture.run("syncd", ["devices", "list"] + withoutKey)
                #expect(list.exitStatus == 76 && list.stderr.contains("holds no hub yet"), "\(list)")
                // With the key file the first process makes the hub, its key written to the file.
                let keyFile = try #require(backend.last)
                #expect(!FileManager.default.fileExists(atPath: keyFile))
                let listed = try await fixture.run("syncd", ["devices", "list"] + backend)
                #expect(listed.exitStatus == 0, "\(listed)")
                #expect(FileManager.default.fileExists(atPath: keyFile))
            }
        }
    }

    /// Schedule (issue 12, "Two backends"): a device with no link carries its reports to the hub on
    /// a USB stick; the hub is on PostgreSQL. Before, `syncd bundle import` took only `--db` and
    /// the bundle could not reach a PostgreSQL hub at all; now it is admitted as the device's push,
    /// another device pulls it through `syncd serve --postgres`, and a second import adds nothing.
    @Test("syncd bundle import --postgres admits a device's bundle as its push; another device pulls it")
    func bundleImportOnPostgres() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hub = try await fixture.startHub(backend: backend)
                let (carrier, reader) = (fixture.path("carrier.sqlite"), fixture.path("reader.sqlite"))
                for replica in [carrier, reader] {
                    try await fixture.initReplica(replica)
                    try await fixture.enroll(replica, at: hub)
                }
                _ = try await fixture.put(carrier, "reports", body: #"{"title":"Crossing closed"}"#)
                let file = fixture.path("carrier.vigil")
                let exported = try await fixture.fieldcli(carrier, ["bundle", "export"], ["--all", "--out", file])
                #expect(exported.exitStatus == 0, "\(exported)")

                let imported = try await fixture.run("syncd", ["bundle", "import", file, "--json"] + backend)
                #expect(imported.exitStatus == 0, "\(imported)")
                #expect(try imported.json()["accepted"] as? Int == 1, "\(imported)")
                #expect(try await fixture.syncSucceeding(reader, hub: hub.url).versionsPulled == 1)
                let again = try await fixture.run("syncd", ["bundle", "import", file, "--json"] + backend)
                #expect(try again.json()["accepted"] as? Int == 0, "\(again)")
            }
        }
    }

    /// Schedule: a man in the middle between the hub and its database presents a certificate of
    /// its own. Before sslmode existed every connection was plain text and it would have read every
    /// report; now `syncd devices` refuses the certificate at once, with one sentence.
    @Test("syncd on PostgreSQL over TLS: verify-full against the server's root works; another root exits 69 at once")
    func tlsToPostgres() async throws {
        guard let root = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES_CA"], !root.isEmpty,
            let server = PostgresServer.address, var components = URLComponents(string: server)
        else {
            Issue.record("VIGIL_TEST_POSTGRES_CA is unset: the test server needs TLS on (.ci/run, Docs/Testing.md)")
            return
        }
        components.host = "localhost"
        components.query = "sslmode=verify-full&sslrootcert=\(root)"
        let verified = try #require(components.string)
        components.query = "sslmode=verify-full"
        let foreign = try #require(components.string)
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let schema = Array(backend.dropFirst(2))  // --postgres-schema NAME --hub-key PATH
                let list = try await fixture.run("syncd", ["devices", "list", "--postgres", verified] + schema)
                #expect(list.exitStatus == 0, "\(list)")
                let started = ContinuousClock.now
                let refused = try await fixture.run("syncd", ["devices", "list", "--postgres", foreign] + schema)
                #expect(refused.exitStatus == 69, "\(refused)")
                #expect(refused.stderr.contains("TLS certificate was refused"), "\(refused)")
                #expect(refused.stderr.contains("sslrootcert"), "\(refused)")
                #expect(ContinuousClock.now - started < .seconds(10), "the refusal waited for the 15 s limit")
            }
        }
    }

    @Test("--db and --postgres together, or a malformed address, are usage errors")
    func usageErrors() async throws {
        try await withProcessFixture { fixture in
            for arguments in [
                ["serve", "--db", "hub.sqlite", "--postgres", "postgres://vigil@127.0.0.1/vigil"],
                ["serve", "--postgres", "mysql://vigil@127.0.0.1/vigil"],
                ["serve", "--postgres", "postgres://vigil@127.0.0.1/vigil?sslmode=prefer"],
                ["devices", "list", "--postgres", "postgres://vigil@127.0.0.1/vigil", "--postgres-schema", "Bad-Name"],
            ] {
                let outcome = try await fixture.run("syncd", arguments)
                #expect(outcome.exitStatus == 64, "\(arguments): \(outcome)")
                #expect(!FileManager.default.fileExists(atPath: fixture.path("hub.sqlite")))
            }
        }
    }

    /// The hub id `/healthz` names.
    static func hubID(_ hub: RunningHub) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: try #require(URL(string: hub.url + "/healthz")))
        let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        return try #require(object?["hub"] as? String)
    }
}

/// The PostgreSQL server of the process tests (as HubStorePostgresTests' fixture reads it): each
/// test gets a schema of its own, dropped afterwards.
enum PostgresServer {
    static let address = ProcessInfo.processInfo.environment["VIGIL_TEST_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    static let isEnabled = address != nil || ProcessInfo.processInfo.environment["VIGIL_REQUIRE_POSTGRES"] == "1"
    static let disabledReason: Comment = "VIGIL_TEST_POSTGRES is unset: start a PostgreSQL server (Docs/Testing.md) and set it"

    /// Runs `body` with the `syncd` flags of a fresh schema on the server, its hub key file
    /// (``hubKeyFile(for:)``) among them: `--postgres URL --postgres-schema NAME --hub-key PATH`;
    /// drops the schema and removes the key file after.
    static func withSchema(_ body: ([String]) async throws -> Void) async throws {
        let server = try #require(address, "VIGIL_REQUIRE_POSTGRES=1 but VIGIL_TEST_POSTGRES is unset")
        let schema = "vigil_process_" + String(UInt64.random(in: .min ... .max), radix: 16)
        defer { removeHubKeyFile(for: schema) }
        var failure: (any Error)?
        do {
            try await body(["--postgres", server, "--postgres-schema", schema, "--hub-key", try hubKeyFile(for: schema)])
        } catch {
            failure = error
        }
        let logger = Logger(label: "vigil.test.postgres") { _ in SwiftLogNoOpLogHandler() }
        let client = PostgresClient(configuration: try PostgresClient.Configuration(address: server), backgroundLogger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await client.query(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"), logger: logger)
        }
        if let failure { throw failure }
    }

    /// The path of `schema`'s hub key file, which a hub on a new schema needs (`--hub-key`,
    /// `PostgresHub.open(keyFile:)`; its first process writes it): in a folder of the owner's alone
    /// (mode 0700), the schema's own; ``removeHubKeyFile(for:)`` removes it.
    static func hubKeyFile(for schema: String) throws -> String {
        let folder = hubKeyFolder(for: schema)
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        return folder + "/hub.key"
    }

    static func removeHubKeyFile(for schema: String) {
        try? FileManager.default.removeItem(atPath: hubKeyFolder(for: schema))
    }

    private static func hubKeyFolder(for schema: String) -> String {
        FileManager.default.temporaryDirectory.appendingPathComponent("vigil-hub-key-\(schema)").path
    }
}
