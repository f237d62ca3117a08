import Foundation
import HTTPTypes
import HubStore
import Hummingbird
import SyncEngine
import Records

extension HubConsole {
    /// The login form, with a fresh CSRF token in a cookie and in the form (before any session).
    func loginPage(_ problem: String?, status: HTTPResponse.Status = .ok) -> Response {
        formPage(
            "Log in", action: "/console/login", problem: problem, status: status,
            """
            <label>Name <input name="name" autocomplete="username" required maxlength="64"></label>
            <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="256"></label>
            <button type="submit">Log in</button>
            """)
    }

    /// A page of one form posted before any session (login, its second step): `problem` above
    /// it, and a fresh CSRF token in a cookie and in the form.
    func formPage(_ title: String, action: String, problem: String?, status: HTTPResponse.Status, _ fields: HTML) -> Response {
        let token = ConsoleTokens.random()
        let note: HTML = problem.map { "<p class=\"problem\">\($0)</p>" } ?? .empty
        var response = Self.page(
            title, status: status,
            """
            \(note)
            <form method="post" action="\(action)" class="stack">
            <input type="hidden" name="csrf" value="\(token)">
            \(fields)
            </form>
            """)
        response.headers.append(HTTPField(name: .setCookie, value: cookie(formCookie, token, maxAge: 3_600)))
        return response
    }

    /// Checks the form's CSRF token against the form cookie (login and setup, before a session).
    func checkFormToken(_ request: Request, _ form: ConsoleForm) throws {
        guard let cookie = request.cookies[formCookie]?.value, ConsoleTokens.isWellFormed(cookie), let token = form["csrf"],
            ConsoleTokens.constantTimeEquals(cookie, token)
        else {
            throw ConsoleRefusal(.forbidden, "Form refused", "This form did not come from the console's page; reload it and try again.")
        }
    }

    /// `POST /console/login`: limited per client address, per name and for the whole hub before
    /// the password is checked; every checked attempt is audited; a success starts a new session,
    /// or, for an operator with a second factor, asks for the TOTP code.
    func login(_ request: Request, address: String) async throws -> Response {
        let form = try await Self.form(of: request)
        try checkFormToken(request, form)
        let name = String((form["name"] ?? "").prefix(64))
        let password = String((form["password"] ?? "").prefix(PasswordHasher.maximumLength))
        try admitLoginAttempt(name: name, address: address)
        let operators = self.operators
        let hasher = configuration.passwordHasher
        let credentials = try await operators.operatorCredentials(name: name)
        let verified: Bool = try await offload {
            guard let credentials else {
                hasher.spendVerification(password)
                return false
            }
            return hasher.verify(password, against: credentials.passwordHash)
        }
        guard verified, let credentials else {
            try await operators.auditFailedLogin(name: name, address: address, factor: nil)
            return loginPage("Wrong name or password.", status: .unauthorized)
        }
        // The informant key opens with the password only, so it is opened now (kept in memory
        // through a second factor's step).
        let informantKey = try await Self.openInformantKey(
            operators: operators, name: name, role: credentials.role, password: password, hasher: hasher)
        if try await operators.operatorTOTPSecret(name: name) != nil {
            return codePage(
                pendingLogins.start(name: name, address: address, now: operators.now(), informantKey: informantKey), problem: nil)
        }
        return try await startSession(name: name, address: address, informantKey: informantKey)
    }

    /// Counts a login attempt (a password or a code) against the limits per client address, per
    /// operator name and for the whole hub; beyond one, refuses it with 429 and `Retry-After`.
    func admitLoginAttempt(name: String, address: String) throws {
        for (limiter, key) in [(addressLimiter, address), (nameLimiter, name), (hubLimiter, "hub")] {
            let verdict = limiter.admit(key)
            if !verdict.admitted {
                throw ConsoleRefusal(
                    .tooManyRequests, "Too many attempts", "Too many login attempts; try again in \(verdict.retryAfter) s.",
                    retryAfter: verdict.retryAfter)
            }
        }
    }

    /// Starts a session of the operator `name` (audited) and sends them to the conflicts.
    func startSession(name: String, address: String, informantKey: InformantPrivateKey? = nil) async throws -> Response {
        let operators = self.operators
        let token = ConsoleTokens.random()
        let csrf = ConsoleTokens.random()
        let lifetime = Int(configuration.sessionLifetime.components.seconds)
        let expiresAt = operators.now() + min(configuration.idleMilliseconds, configuration.lifetimeMilliseconds)
        try await operators.startOperatorSession(
            tokenHash: ConsoleTokens.hash(token), operator: name, csrfToken: csrf, expiresAt: expiresAt, address: address)
        if let informantKey { informantKeys.put(informantKey, session: csrf, expiresAt: expiresAt, now: operators.now()) }
        return Self.redirect(
            home,
            cookies: [cookie(sessionCookie, token, maxAge: lifetime), cookie(formCookie, "", maxAge: 0)])
    }

    /// `POST /console/logout`: ends the session on the hub (its cookie no longer works anywhere).
    func logout(_ request: Request) async throws -> Response {
        try await acting(request, role: .viewer) { _, current in
            informantKeys.drop(session: current.csrfToken)
            guard let (_, hash) = try await session(of: request) else { return Self.redirect("/console/login") }
            try await operators.endOperatorSession(tokenHash: hash)
            return Self.redirect("/console/login", cookies: [cookie(sessionCookie, "", maxAge: 0)])
        }
    }

    /// `GET /console/setup/TOKEN`: the form setting a new operator's password.
    func setupPage(_ token: String) async throws -> Response {
        let name = try await setupName(token)
        let formToken = ConsoleTokens.random()
        var response = Self.page(
            "Set your password",
            """
            <p>Welcome, \(name). Choose a password of at least \(PasswordHasher.minimumLength) characters; this link then stops working.</p>
            <form method="post" action="/console/setup/\(token)" class="stack">
            <input type="hidden" name="csrf" value="\(formToken)">
            <label>Password <input name="password" type="password" autocomplete="new-password" required minlength="\(PasswordHasher.minimumLength)" maxlength="256"></label>
            <label>Again <input name="confirm" type="password" autocomplete="new-password" required maxlength="256"></label>
            <button type="submit">Set password</button>
            </form>
            """)
        response.headers.append(HTTPField(name: .setCookie, value: cookie(formCookie, formToken, maxAge: 3_600)))
        return response
    }

    /// `POST /console/setup/TOKEN`: sets the password and uses the link up.
    func setup(_ request: Request, token: String) async throws -> Response {
        _ = try await setupName(token)
        let form = try await Self.form(of: request)
        try checkFormToken(request, form)
        let password = form["password"] ?? ""
        guard (PasswordHasher.minimumLength...PasswordHasher.maximumLength).contains(password.count) else {
            throw ConsoleRefusal(
                .unprocessableContent, "Password refused",
                "A password has \(PasswordHasher.minimumLength) to \(PasswordHasher.maximumLength) characters; go back and choose another.")
        }
        guard form["confirm"] == password else {
            throw ConsoleRefusal(.unprocessableContent, "Password refused", "The two passwords differ; go back and type them again.")
        }
        let operators = self.operators
        let hasher = configuration.passwordHasher
        let hash = ConsoleTokens.hash(token)
        let passwordHash = try await offload { try hasher.hash(password) }
        guard let name = try await operators.completeOperatorSetup(hash: hash, passwordHash: passwordHash) else {
            throw Self.setupLinkRefused
        }
        // A resolver's or admin's key pair is made while the password is known: any session
        // holding the informant key can then seal it to them.
        if let role = try await operators.operatorCredentials(name: name)?.role, role >= .resolver {
            try await Self.makeOperatorKey(operators: operators, name: name, password: password, hasher: hasher)
        }
        return Self.page("Password set", "<p>Your password is set. <a href=\"/console/login\">Log in</a>.</p>")
    }

    private func setupName(_ token: String) async throws -> String {
        guard ConsoleTokens.isWellFormed(token) else { throw Self.setupLinkRefused }
        let hash = ConsoleTokens.hash(token)
        guard let name = try await operators.operatorForSetup(hash: hash) else { throw Self.setupLinkRefused }
        return name
    }

    static let setupLinkRefused = ConsoleRefusal(
        .notFound, "Link not valid", "This setup link was used already, has expired, or was never given out; ask an admin of the hub for a new one.")
}
