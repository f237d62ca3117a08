import AsyncHTTPClient
import Foundation
@testable import HubConsole
import NIOCore
import Records
import ReplicaStore
import SyncEngine
import Synchronization
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `syncd copy-to-postgres` as real processes: a network that started on the SQLite hub moves to
/// PostgreSQL, and its devices go on syncing without enrolling or pulling again. Needs a server:
/// `VIGIL_TEST_POSTGRES` names it (CI sets `VIGIL_REQUIRE_POSTGRES=1`, which makes a missing
/// server a failure).
@Suite(
    "syncd copy-to-postgres: an SQLite hub moves to PostgreSQL", .serialized, .timeLimit(.minutes(6)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct HubCopyToPostgresProcessTests {
    /// Schedule (issue 12, "Two backends"): devices enrolled with `syncd serve --db`, one with a
    /// read scope, one revoked, an attachment and an audit log; the hub stops, is copied, and
    /// `syncd serve --postgres` starts on its port. Before the command existed the move meant a new
    /// hub identity: every device enrolled again and pulled the whole feed again.
    @Test("the devices of a copied hub sync with it on PostgreSQL without enrolling or pulling again")
    func devicesKeepSyncing() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let sqliteHub = try await fixture.startHub(database: hubPath)
                let (a, b, scoped, seized) = (
                    fixture.path("a.sqlite"), fixture.path("b.sqlite"), fixture.path("scoped.sqlite"),
                    fixture.path("seized.sqlite")
                )
                for replica in [a, b, scoped, seized] { try await fixture.initReplica(replica) }
                try await fixture.enroll(a, at: sqliteHub)
                try await Self.enroll(b, as: "b", flags: ["--all", "--media", "all"], hub: sqliteHub, fixture: fixture)
                try await Self.enroll(
                    scoped, as: "scoped", flags: ["--read", "reports", "--write", "reports"], hub: sqliteHub,
                    fixture: fixture)
                try await Self.enroll(seized, as: "seized", flags: ["--all"], hub: sqliteHub, fixture: fixture)

                let report = try await fixture.put(a, "reports", body: #"{"title":"Bridge out"}"#)
                _ = try await fixture.put(a, "reports", body: #"{"title":"Road closed"}"#)
                _ = try await fixture.put(b, "notes", body: #"{"text":"not for the scoped device"}"#)
                let photo = Data((0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })
                let photoPath = fixture.path("photo.jpg")
                try photo.write(to: URL(fileURLWithPath: photoPath))
                let attached = try await fixture.fieldcli(a, ["attach", "reports", report, photoPath])
                #expect(attached.exitStatus == 0, "\(attached)")
                _ = try await fixture.put(seized, "reports", body: #"{"title":"before the seizure"}"#)
                for replica in [a, b, seized, a, b, scoped] {
                    _ = try await fixture.syncSucceeding(replica, hub: sqliteHub.url)
                }
                let revoked = try await fixture.run("syncd", ["devices", "revoke", "seized", "--db", hubPath])
                #expect(revoked.exitStatus == 0, "\(revoked)")
                let keptHead = try await fixture.run("syncd", ["audit", "head", "--db", hubPath])
                let head = try #require(keptHead.stdout.split(separator: " ").last.map { String($0.dropLast()) })
                #expect(try await fixture.stop(sqliteHub) == .exited(0))
                let bytes = try Data(contentsOf: URL(fileURLWithPath: hubPath))

                let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                #expect(copied.stdout.contains("Copied hub"), "\(copied)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: hubPath)) == bytes, "the SQLite file changed")

                // The hub on PostgreSQL at the same address: same identity, same positions.
                let hub = try await fixture.startHub(backend: backend, port: sqliteHub.port)
                for replica in [a, b, scoped] {
                    let summary = try await fixture.syncSucceeding(replica, hub: hub.url)
                    #expect(summary.versionsPulled == 0, "\(replica) pulled again: \(summary)")
                    #expect(summary.versionsPushed == 0, "\(replica) pushed again: \(summary)")
                }
                let refused = try await fixture.run("fieldcli", fixture.syncArguments(seized, hub: hub.url))
                #expect(refused.exitStatus == 77, "\(refused)")

                // New writes reach the others, within their scopes.
                _ = try await fixture.put(a, "reports", body: #"{"title":"Water rising"}"#)
                _ = try await fixture.put(b, "notes", body: #"{"text":"still not for the scoped device"}"#)
                #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPushed == 1)
                let atB = try await fixture.syncSucceeding(b, hub: hub.url)
                #expect(atB.versionsPushed == 1 && atB.versionsPulled == 1, "\(atB)")
                #expect(try await fixture.syncSucceeding(a, hub: hub.url).versionsPulled == 1)
                #expect(try await fixture.syncSucceeding(scoped, hub: hub.url).versionsPulled == 1)

                // A device enrolled on PostgreSQL gets the attachment the SQLite hub took.
                let late = fixture.path("late.sqlite")
                try await fixture.initReplica(late)
                try await Self.enroll(late, as: "late", flags: ["--all", "--media", "all"], hub: hub, fixture: fixture)
                _ = try await fixture.syncSucceeding(late, hub: hub.url)
                let hash = AttachmentDigest.hex(of: photo)
                let out = fixture.path("out.jpg")
                let got = try await fixture.fieldcli(
                    late, ["attachments", "get", "reports", report, hash], ["--out", out])
                #expect(got.exitStatus == 0, "\(got)")
                #expect((try? Data(contentsOf: URL(fileURLWithPath: out))) == photo)

                // The audit log as it was: it verifies, the head kept from SQLite is in it.
                let verified = try await fixture.run("syncd", ["audit", "verify", "--head", head] + backend)
                #expect(verified.exitStatus == 0, "\(verified)")
                #expect(verified.stdout.contains("Every entry is signed by this hub's key."), "\(verified)")

                // A second copy into the same schema is refused and changes nothing.
                let before = try await fixture.run("syncd", ["audit", "head"] + backend)
                let again = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(again.exitStatus == 79, "\(again)")
                #expect(again.stderr.contains("holds a hub's data already"), "\(again)")
                #expect(try await fixture.run("syncd", ["audit", "head"] + backend).stdout == before.stdout)
                #expect(try await fixture.syncSucceeding(b, hub: hub.url).versionsPulled == 0)
                #expect(try Data(contentsOf: URL(fileURLWithPath: hubPath)) == bytes, "the SQLite file changed")
            }
        }
    }

    /// Schedule (issue 12, "Two backends"): on the SQLite hub a resolver sets a password and a
    /// second factor and logs in with it; the informant key is made and sealed to them; an admin
    /// joins after, with a key pair but no sealed copy yet. After the copy the resolver logs in to
    /// `syncd serve --postgres` on the same address with the same password and a new code (the code
    /// of the step used on SQLite is refused there: the last step came along), their SQLite session
    /// does not work there, and their login opens their sealed copy of the informant key and seals
    /// it to the admin, as a login on SQLite does. Before, the copy refused with exit 80 (operators
    /// and the informant key were left behind) and `--leave-behind` left a hub nobody could log in to.
    @Test("operators log in to the copied hub with the same password and second factor; their informant key opens")
    func operatorsAndInformantKeyAreCopied() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let sqliteHub = try await fixture.startHub(database: hubPath)
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: sqliteHub)
                try await Self.addOperator("rafael", role: "resolver", hub: sqliteHub, fixture: fixture)
                let keyFile = fixture.path("informant.key")
                let made = try await fixture.run("syncd", ["informant-key", "init", "--out", keyFile, "--db", hubPath])
                #expect(made.exitStatus == 0 && made.output.contains("Sealed to: rafael."), "\(made)")
                let totp = try await fixture.run("syncd", ["operators", "totp", "rafael", "--db", hubPath])
                let secret = try #require(ConsoleLogin.secret(inURI: totp.output), "\(totp)")
                // The device fetches the key and seals the informant reference of its observation to it.
                _ = try await fixture.syncSucceeding(device, hub: sqliteHub.url)
                let observation = try await fixture.put(
                    device, "observations", body: SampleRecords.observation.replacingOccurrences(of: "\n", with: " "))
                _ = try await fixture.syncSucceeding(device, hub: sqliteHub.url)

                let onSQLite = ConsoleLogin(base: sqliteHub.url)
                let asked = try await onSQLite.logIn("rafael")
                #expect(asked.status == 200 && asked.body.contains("name=\"pending\""), "a code is asked for")
                let usedStep = TOTP.step(at: ConsoleLogin.now())
                let loggedIn = try await onSQLite.confirm(TOTP.code(secret: secret, step: usedStep), after: asked)
                #expect(loggedIn.status == 303, "\(loggedIn.body)")
                #expect(try await onSQLite.get("/console/fleet").status == 200)
                try await Self.addOperator("sara", role: "admin", hub: sqliteHub, fixture: fixture)
                #expect(try await Self.grants(to: "sara", ["--db", hubPath], fixture) == 0)
                #expect(try await fixture.stop(sqliteHub) == .exited(0))

                let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                for part in ["2 operators", "2 operator_keys", "1 informant_keys", "1 operator_informant_keys"] {
                    #expect(copied.stdout.contains(part), "\(copied)")
                }
                #expect(copied.stdout.contains("operators log in again"), "\(copied)")
                let listed = try await fixture.run("syncd", ["operators", "list"] + backend)
                #expect(listed.output.contains("rafael  resolver") && listed.output.contains("TOTP"), "\(listed)")

                let hub = try await fixture.startHub(backend: backend, port: sqliteHub.port)
                let stale = try await onSQLite.get("/console/fleet")
                #expect(stale.status == 303 && stale.location == "/console/login", "no session was copied")
                let onPostgres = ConsoleLogin(base: hub.url)
                let again = try await onPostgres.logIn("rafael")
                #expect(again.status == 200 && again.body.contains("name=\"pending\""), "\(again.body)")
                let replayed = try await onPostgres.confirm(TOTP.code(secret: secret, step: usedStep), after: again)
                #expect(replayed.status == 401, "the step used on SQLite is used on PostgreSQL too")
                let step = max(TOTP.step(at: ConsoleLogin.now()), usedStep + 1)
                let accepted = try await onPostgres.confirm(TOTP.code(secret: secret, step: step), after: replayed)
                #expect(accepted.status == 303, "\(accepted.body)")
                #expect(try await onPostgres.get("/console/fleet").status == 200)
                #expect(try await Self.grants(to: "sara", backend, fixture) == 1, "rafael's sealed copy opened at login")
                let wrong = try await ConsoleLogin(base: hub.url).logIn("rafael", password: "not the password")
                #expect(wrong.status == 401)

                // The key file's holder opens the copied reference on PostgreSQL as on SQLite.
                let opened = try await fixture.run(
                    "syncd", ["informant-refs", "open", "observations", observation, "--key-file", keyFile] + backend)
                #expect(opened.exitStatus == 0 && opened.output.contains(SampleRecords.informant), "\(opened)")
                let other = fixture.path("other.key")
                try PrivateFile.createEmpty(at: other)
                try PrivateFile.write(Data(InformantPrivateKey().fileText.utf8), to: other)
                let refused = try await fixture.run(
                    "syncd", ["informant-refs", "open", "observations", observation, "--key-file", other] + backend)
                #expect(refused.exitStatus == 78 && !refused.output.contains(SampleRecords.informant), "\(refused)")
                let missing = try await fixture.run(
                    "syncd", ["informant-refs", "open", "observations", UUID().uuidString.lowercased(), "--key-file", keyFile] + backend)
                #expect(missing.exitStatus == 1 && missing.stderr.contains("holds no observations record"), "\(missing)")
            }
        }
    }

    /// Schedule: a hub file holds what PostgreSQL does not keep (what a replica held when it sent
    /// the hub a bundle) besides a console operator, which is copied now. The copy names the
    /// bundle peer and stops (exit 80) with nothing written, unless `--leave-behind` accepts it.
    @Test("what PostgreSQL does not keep is named, and copied past only with --leave-behind")
    func leftBehindNeedsTheFlag() async throws {
        try #require(SQLiteShell.isInstalled, "sqlite3 is needed to give the file a bundle peer")
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: hub)
                let added = try await fixture.run(
                    "syncd", ["operators", "add", "amina", "--role", "admin", "--db", hubPath])
                #expect(added.exitStatus == 0, "\(added)")
                #expect(try await fixture.stop(hub) == .exited(0))
                let peer = try SQLiteShell.run(
                    hubPath, "INSERT INTO bundle_peers VALUES ('\(String(repeating: "ab", count: 16))', '', 1)")
                #expect(peer.status == 0, "\(peer.stderr)")

                let refused = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(refused.exitStatus == 80, "\(refused)")
                #expect(refused.stderr.contains("What 1 replica held when it sent this hub bundles"), "\(refused)")
                #expect(!refused.stderr.contains("operator"), "operators are copied: \(refused)")
                #expect(refused.stderr.contains("--leave-behind"), "\(refused)")

                // Nothing was written: the copy with the flag finds the schema empty.
                let copied = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", hubPath, "--leave-behind"] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                #expect(copied.stderr.contains("What 1 replica held"), "\(copied)")
                let listed = try await fixture.run("syncd", ["devices", "list", "--json"] + backend)
                #expect((try listed.json()["devices"] as? [[String: Any]])?.count == 1, "\(listed)")
                let operators = try await fixture.run("syncd", ["operators", "list"] + backend)
                #expect(operators.output.contains("amina  admin"), "\(operators)")
            }
        }
    }

    @Test("a device's replica, a missing file, no address and an unreachable server are refused, the replica unchanged")
    func refusals() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                let bytes = try Data(contentsOf: URL(fileURLWithPath: device))
                let notHub = try await fixture.run("syncd", ["copy-to-postgres", "--db", device] + backend)
                #expect(notHub.exitStatus == 65, "\(notHub)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: device)) == bytes)
                let missing = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", fixture.path("none.sqlite")] + backend)
                #expect(missing.exitStatus == 66, "\(missing)")
                #expect(!FileManager.default.fileExists(atPath: fixture.path("none.sqlite")))
                let usage = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", device], environment: ["VIGIL_HUB_POSTGRES": ""])
                #expect(usage.exitStatus == 64, "\(usage)")
                // No hub key file: the copy would have nowhere to keep the key but the database.
                let withoutKey = Array(backend.prefix { $0 != "--hub-key" })
                let keyless = try await fixture.run(
                    "syncd", ["copy-to-postgres", "--db", device] + withoutKey, environment: ["VIGIL_HUB_KEY_FILE": ""])
                #expect(keyless.exitStatus == 64, "\(keyless)")
                #expect(keyless.stderr.contains("--hub-key") && keyless.stderr.contains("\(device).key"), "\(keyless)")

                // A hub's file (made by `syncd devices add`) and a server that refuses every connection.
                let hubPath = fixture.path("hub.sqlite")
                #expect(
                    try await fixture.run("syncd", ["devices", "add", "x", "--all", "--db", hubPath]).exitStatus == 0)
                let unreachable = try await fixture.run(
                    "syncd",
                    [
                        "copy-to-postgres", "--db", hubPath, "--postgres", "postgres://vigil:secret@127.0.0.1:1/vigil",
                        "--hub-key", fixture.path("hub.key"),
                    ])
                #expect(unreachable.exitStatus == 69, "\(unreachable)")
                #expect(unreachable.stderr.contains("accepted no connection within"), "\(unreachable)")
                #expect(!FileManager.default.fileExists(atPath: fixture.path("hub.key")), "a key file for no copy")
            }
        }
    }

    /// Schedule: a feed of 2,500 versions is copied in three batches, with progress on stderr; the
    /// writer pulls nothing again, a device enrolled afterwards pulls all of it, and the positions
    /// PostgreSQL hands out next continue above the copied ones.
    @Test("a feed larger than a batch is copied in batches, positions kept")
    func feedInBatches() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let sqliteHub = try await fixture.startHub(database: hubPath)
                let writer = fixture.path("writer.sqlite")
                _ = try seedReplica(at: writer, count: 2_500, collection: try collectionName("reports"))
                try await fixture.enroll(writer, at: sqliteHub)
                #expect(try await fixture.syncSucceeding(writer, hub: sqliteHub.url).versionsPushed == 2_500)
                #expect(try await fixture.stop(sqliteHub) == .exited(0))

                let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                #expect(copied.exitStatus == 0, "\(copied)")
                for line in [
                    "copying versions: 1000 of 2500", "copying versions: 2000 of 2500",
                    "copying versions: 2500 of 2500",
                ] {
                    #expect(copied.stderr.contains(line), "\(copied)")
                }
                #expect(copied.stdout.contains("2500 versions"), "\(copied)")

                let hub = try await fixture.startHub(backend: backend, port: sqliteHub.port)
                #expect(try await fixture.syncSucceeding(writer, hub: hub.url).versionsPulled == 0)
                let reader = fixture.path("reader.sqlite")
                try await fixture.initReplica(reader)
                try await fixture.enroll(reader, at: hub)
                #expect(try await fixture.syncSucceeding(reader, hub: hub.url).versionsPulled == 2_500)
                _ = try await fixture.put(reader, "reports", body: #"{"title":"after the move"}"#)
                #expect(try await fixture.syncSucceeding(reader, hub: hub.url).versionsPushed == 1)
                #expect(try await fixture.syncSucceeding(writer, hub: hub.url).versionsPulled == 1)
            }
        }
    }

    /// Schedule: a hub file whose `knowledge` table holds a counter that is no number (damaged or
    /// edited). The devices table is copied before it: the copy fails with one sentence naming the
    /// table, and rolls back (a second attempt finds the schema empty, so it fails the same way).
    @Test("a malformed row is one sentence naming its table, and the copy leaves the schema empty")
    func malformedRow() async throws {
        try #require(SQLiteShell.isInstalled, "sqlite3 is needed to damage the file")
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hubPath = fixture.path("hub.sqlite")
                let hub = try await fixture.startHub(database: hubPath)
                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: hub)
                _ = try await fixture.put(device, "reports", body: #"{"title":"Bridge out"}"#)
                _ = try await fixture.syncSucceeding(device, hub: hub.url)
                #expect(try await fixture.stop(hub) == .exited(0))
                #expect(try SQLiteShell.run(hubPath, "UPDATE knowledge SET counter = 'many'").status == 0)

                for _ in 0..<2 {
                    let copied = try await fixture.run("syncd", ["copy-to-postgres", "--db", hubPath] + backend)
                    #expect(copied.exitStatus == 65, "\(copied)")
                    // Progress lines, then the one sentence.
                    let last = copied.stderr.split(separator: "\n").last ?? ""
                    #expect(last.hasPrefix("syncd: A row of the hub file's knowledge"), "\(copied)")
                    #expect(
                        copied.stderr.split(separator: "\n").dropLast().allSatisfy { $0.hasPrefix("syncd: copying ") },
                        "\(copied)")
                }
            }
        }
    }

    /// Adds an operator with `syncd operators add` on the hub's data and sets their password
    /// through the console's setup link (``ConsoleLogin/password``), as a browser does.
    private static func addOperator(_ name: String, role: String, hub: RunningHub, fixture: ProcessFixture)
        async throws
    {
        let added = try await fixture.run("syncd", ["operators", "add", name, "--role", role, "--url", hub.url] + hub.backend)
        #expect(added.exitStatus == 0, "\(added)")
        let link = try #require(added.output.split(separator: "\n").last.map(String.init))
        try await PostgresOperatorsProcessTests.setPassword(link)
    }

    /// How many times the audit log of the hub's data says the informant key was sealed to `name`.
    private static func grants(to name: String, _ backend: [String], _ fixture: ProcessFixture) async throws -> Int {
        let listed = try await fixture.run("syncd", ["audit", "list", "--json"] + backend)
        let entries = try #require(try listed.json()["entries"] as? [[String: Any]], "\(listed)")
        return entries.filter { $0["action"] as? String == "informant-key.granted" && $0["subject"] as? String == name }
            .count
    }

    private static func enroll(
        _ replica: String, as name: String, flags: [String], hub: RunningHub, fixture: ProcessFixture
    ) async throws {
        let added = try await fixture.run("syncd", ["devices", "add", name, "--json"] + flags + hub.backend)
        struct Added: Decodable { var code: String }
        let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code
        let enrolled = try await fixture.fieldcli(replica, ["enroll"], ["--hub", hub.url, "--code", code])
        #expect(enrolled.exitStatus == 0, "\(enrolled)")
    }
}

/// A browser's login to the console of a hub process, by hand: keeps the cookies the hub sets,
/// sends the forms, and follows no redirect (the test looks at each answer).
final class ConsoleLogin: Sendable {
    struct Answer: Sendable {
        var status: Int
        var body: String
        var location: String?

        /// The value of the hidden field `field` of the page's form.
        func value(of field: String) -> String {
            guard let range = body.range(of: "name=\"\(field)\" value=\"") else { return "" }
            return String(body[range.upperBound...].prefix { $0 != "\"" })
        }
    }

    /// The password ``PostgresOperatorsProcessTests/setPassword(_:)`` sets.
    static let password = "correct horse battery"

    let base: String
    private let cookies = Mutex<[String: String]>([:])
    /// One client for the test process (it lives as long as the process, so it is never shut down).
    private static let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    init(base: String) { self.base = base }

    /// Milliseconds since 1970, as the hub's clock counts.
    static func now() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1_000) }

    /// The secret of an `otpauth://` URI in `text` (its base32, RFC 4648), as an authenticator app reads it.
    static func secret(inURI text: String) -> Data? {
        guard let range = text.range(of: "secret=") else { return nil }
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        var (buffer, bits, bytes): (UInt32, Int, [UInt8]) = (0, 0, [])
        for character in text[range.upperBound...].prefix(while: { $0 != "&" && !$0.isWhitespace }) {
            guard let index = alphabet.firstIndex(of: character) else { return nil }
            buffer = (buffer << 5) | UInt32(index)
            bits += 5
            if bits >= 8 {
                bits -= 8
                bytes.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return bytes.isEmpty ? nil : Data(bytes)
    }

    /// The login form, sent with `name` and `password`: a session (303), the code's form (200), or a refusal.
    func logIn(_ name: String, password: String = ConsoleLogin.password) async throws -> Answer {
        let page = try await get("/console/login")
        return try await post("/console/login", [("csrf", page.value(of: "csrf")), ("name", name), ("password", password)])
    }

    /// The code's form of `answer` (the login's or a refused code's), sent with `code`.
    func confirm(_ code: String, after answer: Answer) async throws -> Answer {
        try await post(
            "/console/login/code",
            [("csrf", answer.value(of: "csrf")), ("pending", answer.value(of: "pending")), ("code", code)])
    }

    func get(_ path: String) async throws -> Answer { try await send(path, body: nil) }

    func post(_ path: String, _ fields: [(String, String)]) async throws -> Answer {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: allowed) ?? "" }
        return try await send(path, body: fields.map { "\(encode($0.0))=\(encode($0.1))" }.joined(separator: "&"))
    }

    private func send(_ path: String, body: String?) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        let cookieHeader = cookies.withLock { $0.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") }
        if !cookieHeader.isEmpty { request.headers.add(name: "Cookie", value: cookieHeader) }
        if let body {
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(60))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        for header in response.headers["Set-Cookie"] {
            let pair = header.split(separator: ";", maxSplits: 1)[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard pair.count == 2 else { continue }
            let cleared = header.contains("Max-Age=0")
            cookies.withLock { $0[String(pair[0]).trimmingCharacters(in: .whitespaces)] = cleared ? nil : String(pair[1]) }
        }
        return Answer(
            status: Int(response.status.code), body: String(buffer: bytes), location: response.headers.first(name: "Location"))
    }
}
