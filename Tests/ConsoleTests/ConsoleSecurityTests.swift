import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The console's guards: login, wrong passwords, the login rate limit, CSRF tokens, roles, and
/// sessions that end on the hub at logout. Each replays an attack on the console.
@Suite("Console security")
struct ConsoleSecurityTests {
    static let password = "correct horse battery"
    static let notes = CollectionName("notes")!

    /// Adds an operator with `role` and sets the password through the one-time setup link, as
    /// the operator's browser does.
    static func addOperator(_ hub: ConsoleHub, _ name: String, role: OperatorRole) async throws {
        let (token, _) = try await OperatorAdministration(operators: hub.operators).add(name: name, role: role, lifetime: .seconds(600))
        let browser = ConsoleBrowser(base: hub.url)
        let page = try await browser.get("/console/setup/\(token)")
        #expect(page.status == 200)
        let done = try await browser.post(
            "/console/setup/\(token)", [("csrf", page.csrf ?? ""), ("password", password), ("confirm", password)])
        #expect(done.status == 200, "setup answered \(done.status): \(done.body)")
    }

    /// A browser logged in as a new operator with `role`.
    static func loggedIn(_ hub: ConsoleHub, _ name: String, role: OperatorRole) async throws -> ConsoleBrowser {
        try await addOperator(hub, name, role: role)
        let browser = ConsoleBrowser(base: hub.url)
        let answer = try await browser.logIn(name, password)
        #expect(answer.status == 303 && answer.location == hub.home, "login answered \(answer.status)")
        return browser
    }

    /// Puts a document in conflict on the hub: two replicas write `notes/n1` without seeing each
    /// other, and the hub stores both (one push, on either backend; they do not merge field by field).
    @discardableResult
    static func makeConflict(_ hub: ConsoleHub, id: String = "n1", bodies: (String, String) = (
        #"{"title":"bridge","level":"low"}"#, #"{"title":"bridge","level":"high"}"#
    )) async throws -> DocumentKey {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        let key = DocumentKey(collection: notes, id: DocumentID(id)!)
        let first = try a.write(WriteIntent(key: key, body: Data(bodies.0.utf8)))
        let second = try b.write(WriteIntent(key: key, body: Data(bodies.1.utf8)))
        try await hub.push([first, second], from: a.replicaID)
        return key
    }

    /// The form fields of a resolution keeping the first version, as the document's page gives them.
    static func resolution(_ page: ConsoleBrowser.Answer, csrf: String?) -> [(String, String)] {
        var fields = [("siblings", ConsoleBrowser.Answer.value(of: "siblings", in: page.body) ?? ""), ("reason", "checked with the field team"), ("keep", "0")]
        if let csrf { fields.append(("csrf", csrf)) }
        return fields
    }

    @Test(arguments: ConsoleBackend.enabled)
    func loginStartsASessionWithAStrictHttpOnlyCookieAndPagesCarryAScriptFreePolicy(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.addOperator(hub, "amina", role: .viewer)
            let browser = ConsoleBrowser(base: hub.url)
            let before = try await browser.get("/console/audit")
            #expect(before.status == 303 && before.location == "/console/login", "no session, no page")
            let answer = try await browser.logIn("amina", Self.password)
            #expect(answer.status == 303)
            let cookie = try #require(answer.headers["Set-Cookie"].first { $0.hasPrefix("vigil-console=") })
            #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Max-Age="))
            let page = try await browser.get("/console/audit")
            #expect(page.status == 200 && page.body.contains("amina (viewer)"))
            let policy = try #require(page.headers.first(name: "Content-Security-Policy"))
            #expect(policy.contains("default-src 'none'") && !policy.contains("script-src") && !policy.contains("unsafe-inline"))
            #expect(!page.body.lowercased().contains("<script"))
            #expect(page.headers.first(name: "Cache-Control") == "no-store")
            let entries = try await hub.auditEntries()
            #expect(entries.contains { $0.action == .operatorLogin && $0.actor == "operator:amina" })
        }
    }

    /// A guessed password: refused with 401, no session cookie, and the attempt audited.
    @Test(arguments: ConsoleBackend.enabled)
    func aWrongPasswordIsRefusedAndAudited(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.addOperator(hub, "amina", role: .admin)
            let browser = ConsoleBrowser(base: hub.url)
            let answer = try await browser.logIn("amina", "not the password")
            #expect(answer.status == 401)
            #expect(browser.cookies.withLock { $0["vigil-console"] } == nil)
            #expect(try await browser.get("/console/fleet").status == 303)
            let unknown = try await browser.logIn("nobody", Self.password)
            #expect(unknown.status == 401)
            let failures = try await hub.auditEntries().filter { $0.action == .operatorLoginFailed }
            #expect(failures.map(\.subject) == ["amina", "nobody"])
        }
    }

    /// Password guessing from one address: beyond the limit (3 a minute in tests) every attempt
    /// is refused with 429 before the password is checked, even the right one.
    @Test(arguments: ConsoleBackend.enabled)
    func loginAttemptsAreRateLimitedPerAddress(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.addOperator(hub, "amina", role: .admin)
            let browser = ConsoleBrowser(base: hub.url)
            for _ in 0..<3 { #expect(try await browser.logIn("amina", "guess").status == 401) }
            let limited = try await browser.logIn("amina", Self.password)
            #expect(limited.status == 429)
            #expect(limited.headers.first(name: "Retry-After") != nil)
            #expect(browser.cookies.withLock { $0["vigil-console"] } == nil)
        }
    }

    /// Cross-site request forgery: a resolver's browser posts a resolution without the session's
    /// CSRF token (or with a wrong one); the hub refuses it and the document stays in conflict.
    @Test(arguments: ConsoleBackend.enabled)
    func aPostWithoutItsCSRFTokenIsRefused(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let key = try await Self.makeConflict(hub)
            let browser = try await Self.loggedIn(hub, "rafael", role: .resolver)
            let page = try await browser.get("/console/conflicts/notes/n1")
            #expect(page.status == 200)
            let missing = try await browser.post("/console/conflicts/notes/n1/resolve", Self.resolution(page, csrf: nil))
            #expect(missing.status == 403)
            let forged = try await browser.post(
                "/console/conflicts/notes/n1/resolve", Self.resolution(page, csrf: "AAAA"))
            #expect(forged.status == 403)
            let crossSite = try await browser.post(
                "/console/conflicts/notes/n1/resolve", Self.resolution(page, csrf: page.csrf), headers: [("Sec-Fetch-Site", "cross-site")])
            #expect(crossSite.status == 403, "a browser saying another site sent the form is refused, token or not")
            #expect(try await hub.documents.document(key)?.isConflicted == true)
            let logout = try await browser.post("/console/logout", [])
            #expect(logout.status == 403, "logging out takes the token too")
        }
    }

    /// A viewer (read-only role) posts a well-formed resolution with its own valid token: 403,
    /// nothing written.
    @Test(arguments: ConsoleBackend.enabled)
    func aViewerCannotResolve(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let key = try await Self.makeConflict(hub)
            let browser = try await Self.loggedIn(hub, "viv", role: .viewer)
            let page = try await browser.get("/console/conflicts/notes/n1")
            #expect(page.status == 200 && !page.body.contains("name=\"reason\""), "a viewer gets no resolution form")
            let csrf = try #require(page.csrf)
            let answer = try await browser.post("/console/conflicts/notes/n1/resolve", Self.resolution(page, csrf: csrf))
            #expect(answer.status == 403)
            #expect(try await hub.documents.document(key)?.isConflicted == true)
            let enroll = try await browser.post("/console/fleet/enroll", [("csrf", csrf), ("name", "x"), ("read", "*"), ("write", "*")])
            #expect(enroll.status == 403)
        }
    }

    /// A stolen session cookie replayed after its operator logged out: the hub ended the session,
    /// so the cookie opens nothing and posts nothing.
    @Test(arguments: ConsoleBackend.enabled)
    func aSessionCookieReplayedAfterLogoutIsRefused(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.makeConflict(hub)
            let browser = try await Self.loggedIn(hub, "rafael", role: .resolver)
            let page = try await browser.get("/console/conflicts/notes/n1")
            let stolen = try #require(browser.cookies.withLock { $0["vigil-console"] })
            let csrf = try #require(page.csrf)
            let logout = try await browser.post("/console/logout", [("csrf", csrf)])
            #expect(logout.status == 303 && logout.location == "/console/login")
            let thief = ConsoleBrowser(base: hub.url)
            thief.cookies.withLock { $0["vigil-console"] = stolen }
            let replay = try await thief.get("/console/conflicts")
            #expect(replay.status == 303 && replay.location == "/console/login")
            let post = try await thief.post("/console/conflicts/notes/n1/resolve", Self.resolution(page, csrf: csrf))
            #expect(post.status == 401)
        }
    }

    /// Login CSRF: a login form posted from another site carries no token matching the form
    /// cookie, so it is refused before the password is looked at.
    @Test(arguments: ConsoleBackend.enabled)
    func aLoginWithoutItsFormTokenIsRefused(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.addOperator(hub, "amina", role: .viewer)
            let browser = ConsoleBrowser(base: hub.url)
            _ = try await browser.get("/console/login")
            let answer = try await browser.post("/console/login", [("name", "amina"), ("password", Self.password)])
            #expect(answer.status == 403)
            #expect(browser.cookies.withLock { $0["vigil-console"] } == nil)
        }
    }

    /// A hub serving TLS marks its cookies Secure under the `__Host-` prefix (never sent over
    /// plain HTTP, never set by a sibling domain) and asks browsers to keep to HTTPS.
    @Test(arguments: ConsoleBackend.enabled)
    func withTLSTheCookiesAreSecure(_ backend: ConsoleBackend) async throws {
        var configuration = ConsoleHub.testConfiguration()
        configuration.secureCookies = true
        try await ConsoleHub.with(backend, console: configuration) { hub in
            try await Self.addOperator(hub, "amina", role: .viewer)
            let browser = ConsoleBrowser(base: hub.url)
            let answer = try await browser.logIn("amina", Self.password)
            #expect(answer.status == 303)
            let cookie = try #require(answer.headers["Set-Cookie"].first { $0.hasPrefix("__Host-vigil-console=") })
            #expect(cookie.contains("; Secure") && cookie.contains("Path=/;") && cookie.contains("HttpOnly"))
            #expect(answer.headers.first(name: "Strict-Transport-Security") != nil)
        }
    }

    /// A setup link works once: replayed, it sets nothing.
    @Test(arguments: ConsoleBackend.enabled)
    func aSetupLinkWorksOnce(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let (token, _) = try await OperatorAdministration(operators: hub.operators).add(name: "amina", role: .admin, lifetime: .seconds(600))
            let browser = ConsoleBrowser(base: hub.url)
            let page = try await browser.get("/console/setup/\(token)")
            let fields = [("csrf", page.csrf ?? ""), ("password", Self.password), ("confirm", Self.password)]
            #expect(try await browser.post("/console/setup/\(token)", fields).status == 200)
            #expect(try await browser.post("/console/setup/\(token)", fields).status == 404)
            #expect(try await browser.get("/console/setup/\(token)").status == 404)
            #expect(try await browser.logIn("amina", Self.password).status == 303)
        }
    }

    /// Record fields are text, never markup: a body carrying a script tag is shown escaped.
    @Test(arguments: ConsoleBackend.enabled)
    func recordFieldsAreEscaped(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.makeConflict(hub, bodies: (#"{"title":"<script>alert(1)</script>"}"#, #"{"title":"\"><img src=x>"}"#))
            let browser = try await Self.loggedIn(hub, "viv", role: .viewer)
            let page = try await browser.get("/console/conflicts/notes/n1")
            #expect(page.status == 200)
            #expect(!page.body.contains("<script>") && !page.body.contains("<img"))
            #expect(page.body.contains("&lt;script&gt;"))
        }
    }
}
