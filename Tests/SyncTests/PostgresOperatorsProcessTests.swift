import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Records
import ReplicaStore
import Testing
import TestSupport

/// `syncd operators --postgres`, `syncd informant-key --postgres` and the console of `syncd serve
/// --postgres` as real processes against the test server: the operators and the informant key
/// live in the schema, so every hub process and every command on it sees the same ones.
@Suite(
    "syncd operators and informant-key on PostgreSQL: real processes", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct PostgresOperatorsProcessTests {
    /// Schedule (issue 12, the console on PostgreSQL): an admin is added with `syncd operators add
    /// --postgres`; `list`, `totp` and `remove` see the same account; a taken name is exit 1.
    /// Before, these commands opened a SQLite file only.
    @Test("syncd operators add, list, totp and remove work on a PostgreSQL schema")
    func operatorsOnPostgres() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let added = try await fixture.run(
                    "syncd", ["operators", "add", "amina.k", "--role", "resolver", "--url", "https://hub.example.org"] + backend)
                #expect(added.exitStatus == 0, "\(added)")
                #expect(added.output.contains("https://hub.example.org/console/setup/"))
                let again = try await fixture.run("syncd", ["operators", "add", "amina.k", "--role", "admin"] + backend)
                #expect(again.exitStatus == 1 && again.stderr.contains("already called"), "\(again)")
                let totp = try await fixture.run("syncd", ["operators", "totp", "amina.k"] + backend)
                #expect(totp.exitStatus == 0 && totp.output.contains("otpauth://totp/Vigil:amina.k?secret="), "\(totp)")
                let listed = try await fixture.run("syncd", ["operators", "list"] + backend)
                #expect(listed.output.contains("amina.k  resolver") && listed.output.contains("TOTP"), "\(listed)")
                #expect(try await fixture.run("syncd", ["operators", "remove", "amina.k"] + backend).exitStatus == 0)
                #expect(try await fixture.run("syncd", ["operators", "remove", "amina.k"] + backend).exitStatus == 1)
                #expect(try await fixture.run("syncd", ["operators", "list"] + backend).output.contains("No operators"))
                #expect(!FileManager.default.fileExists(atPath: fixture.path("hub.sqlite")), "no SQLite file was made")
            }
        }
    }

    /// Schedule (issue 12): the informant key is made with `syncd informant-key init --postgres`
    /// while two hub processes run; a device enrolled through the second fetches the statement
    /// (`GET /v1/informant-key`, which a hub on PostgreSQL did not serve before), signed by the hub.
    /// A resolver sets their password on the first process's console (their key pair is made
    /// then) and is granted the key with the key file; a wrong key file is exit 78.
    @Test("the informant key on PostgreSQL: made once, served by every hub process, granted to a resolver")
    func informantKeyOnPostgres() async throws {
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let first = try await fixture.startHub(backend: backend)
                let second = try await fixture.startHub(backend: backend)
                let keyFile = fixture.path("informant.key")
                let made = try await fixture.run("syncd", ["informant-key", "init", "--out", keyFile] + backend)
                #expect(made.exitStatus == 0, "\(made)")
                let twice = try await fixture.run("syncd", ["informant-key", "init", "--out", fixture.path("other.key")] + backend)
                #expect(twice.exitStatus == 1 && twice.stderr.contains("already has an informant key"), "\(twice)")
                #expect(!FileManager.default.fileExists(atPath: fixture.path("other.key")))

                let device = fixture.path("device.sqlite")
                try await fixture.initReplica(device)
                try await fixture.enroll(device, at: second)
                _ = try await fixture.syncSucceeding(device, hub: second.url)
                let statement = try #require(try TemporaryReplica.open(at: device).informantKey(), "the device fetched the key")
                let key = try InformantPrivateKey(fileText: String(contentsOfFile: keyFile, encoding: .utf8))
                #expect(statement.publicKey == key.publicKey)

                let added = try await fixture.run(
                    "syncd", ["operators", "add", "rafael", "--role", "resolver", "--url", first.url] + backend)
                let link = try #require(added.output.split(separator: "\n").last.map(String.init))
                let early = try await fixture.run("syncd", ["informant-key", "grant", "rafael", "--key-file", keyFile] + backend)
                #expect(early.exitStatus == 1 && early.stderr.contains("no key pair yet"), "\(early)")
                try await Self.setPassword(link)
                let granted = try await fixture.run("syncd", ["informant-key", "grant", "rafael", "--key-file", keyFile] + backend)
                #expect(granted.exitStatus == 0, "\(granted)")

                let wrongFile = fixture.path("wrong.key")
                try PrivateFile.createEmpty(at: wrongFile)
                try PrivateFile.write(Data(InformantPrivateKey().fileText.utf8), to: wrongFile)
                let wrong = try await fixture.run("syncd", ["informant-key", "grant", "rafael", "--key-file", wrongFile] + backend)
                #expect(wrong.exitStatus == 78, "\(wrong)")
                let audit = try await fixture.run("syncd", ["audit", "list", "--json"] + backend)
                #expect(audit.output.contains("informant-key.created") && audit.output.contains("informant-key.granted"), "\(audit)")
            }
        }
    }

    /// Sets the password through the console's setup link, as a browser does: the page's form
    /// cookie and CSRF token, then the form.
    static func setPassword(_ link: String) async throws {
        let url = try #require(URL(string: link))
        var get = URLRequest(url: url)
        get.httpShouldHandleCookies = false
        let (pageData, pageResponse) = try await URLSession.shared.data(for: get)
        let page = String(decoding: pageData, as: UTF8.self)
        let cookie = try #require((pageResponse as? HTTPURLResponse)?.value(forHTTPHeaderField: "Set-Cookie"))
        let pair = try #require(cookie.split(separator: ";").first.map(String.init))
        let marker = try #require(page.range(of: "name=\"csrf\" value=\""))
        let csrf = String(page[marker.upperBound...].prefix { $0 != "\"" })
        var post = URLRequest(url: url)
        post.httpMethod = "POST"
        post.httpShouldHandleCookies = false
        post.setValue(pair, forHTTPHeaderField: "Cookie")
        post.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        post.httpBody = Data("csrf=\(csrf)&password=correct+horse+battery&confirm=correct+horse+battery".utf8)
        let (_, answer) = try await URLSession.shared.data(for: post)
        #expect((answer as? HTTPURLResponse)?.statusCode == 200)
    }
}
