import Foundation
import HTTPTypes
import HubStore
import Hummingbird
import NIOCore

extension HubConsole {
    /// An HTML page with the console's layout; `session` adds the navigation and the logout form.
    static func page(
        _ title: String, session: OperatorSession? = nil, status: HTTPResponse.Status = .ok, _ body: HTML
    ) -> Response {
        let navigation: HTML
        if let session {
            navigation = """
                <nav><a href="/console/conflicts">Conflicts</a> <a href="/console/fleet">Fleet</a> \
                <a href="/console/warnings">Warnings</a> <a href="/console/observations">Observations</a> <a href="/console/audit">Audit</a>\
                <form method="post" action="/console/logout" class="logout">\(csrfField(session))\
                <span>\(session.operatorName) (\(session.role.rawValue))</span> <button type="submit">Log out</button></form></nav>
                """
        } else {
            navigation = .empty
        }
        let document: HTML = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(title) · Vigil console</title>
            <link rel="stylesheet" href="/console/style.css"></head>
            <body><header><strong class="brand">Vigil</strong>\(navigation)</header>
            <main><h1>\(title)</h1>
            \(body)
            </main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: document.text)))
    }

    /// The hidden field carrying the session's CSRF token.
    static func csrfField(_ session: OperatorSession) -> HTML {
        "<input type=\"hidden\" name=\"csrf\" value=\"\(session.csrfToken)\">"
    }

    /// A 303 answer to `location` (after a form, so that reloading does not post it again).
    static func redirect(_ location: String, cookies: [String] = []) -> Response {
        var response = Response(status: .seeOther, headers: [.location: location])
        for cookie in cookies { response.headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return response
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Secure with TLS; `maxAge` 0 clears it.
    func cookie(_ name: String, _ value: String, maxAge: Int) -> String {
        let path = configuration.secureCookies ? "/" : "/console"
        let secure = configuration.secureCookies ? "; Secure" : ""
        return "\(name)=\(value); Path=\(path); Max-Age=\(max(0, maxAge)); HttpOnly; SameSite=Strict\(secure)"
    }

    /// Runs `body`, answering a refusal, or any other failure, with an HTML page (never the
    /// error's text, which may name internals).
    func guarded(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        do {
            return try await body()
        } catch let refusal as ConsoleRefusal {
            var response = Self.page(refusal.title, status: refusal.status, "<p class=\"problem\">\(refusal.message)</p>")
            if let seconds = refusal.retryAfter { response.headers[.retryAfter] = "\(seconds)" }
            return response
        } catch {
            logger.error(
                "console request failed",
                metadata: ["http.path": "\(request.uri.path)", "error": "\(String(reflecting: error))"])
            return Self.page(
                "Something went wrong", status: .internalServerError,
                "<p class=\"problem\">The hub could not do this. Try again; if it keeps failing, see the hub's log.</p>")
        }
    }

    /// The session the request's cookie names, when it is one the hub holds and has not expired
    /// (unused for longer than the idle timeout, or older than its lifetime); using it keeps it
    /// for another idle timeout.
    func session(of request: Request) async throws -> (session: OperatorSession, tokenHash: Data)? {
        guard let token = request.cookies[sessionCookie]?.value, ConsoleTokens.isWellFormed(token) else { return nil }
        let hash = ConsoleTokens.hash(token)
        let (idle, lifetime) = (configuration.idleMilliseconds, configuration.lifetimeMilliseconds)
        guard let session = try await operators.useOperatorSession(tokenHash: hash, idle: idle, lifetime: lifetime) else {
            return nil
        }
        return (session, hash)
    }

    /// Runs a page for an operator with at least `role`; without a session, sends to the login page.
    func viewing(
        _ request: Request, role: OperatorRole = .viewer, _ body: (OperatorSession) async throws -> Response
    ) async throws -> Response {
        try await guarded(request) {
            guard let (session, _) = try await self.session(of: request) else { return Self.redirect("/console/login") }
            guard session.role >= role else { throw Self.forbidden(session, needs: role) }
            return try await body(session)
        }
    }

    /// Runs a form's action for an operator with at least `role`: the form must carry the
    /// session's CSRF token (checked first, in constant time).
    func acting(
        _ request: Request, role: OperatorRole, _ body: (ConsoleForm, OperatorSession) async throws -> Response
    ) async throws -> Response {
        try await guarded(request) {
            guard let (session, _) = try await self.session(of: request) else {
                throw ConsoleRefusal(.unauthorized, "Not logged in", "Your session ended; log in again.")
            }
            let form = try await Self.form(of: request)
            guard let token = form["csrf"], ConsoleTokens.constantTimeEquals(token, session.csrfToken) else {
                throw ConsoleRefusal(.forbidden, "Form refused", "This form did not come from your session's page; reload the page and try again.")
            }
            guard session.role >= role else { throw Self.forbidden(session, needs: role) }
            return try await body(form, session)
        }
    }

    static func forbidden(_ session: OperatorSession, needs role: OperatorRole) -> ConsoleRefusal {
        ConsoleRefusal(
            .forbidden, "Not allowed",
            "This needs the \(role.rawValue) role; you are \(session.role.rawValue). An admin of the hub can change it.")
    }

    /// The request's form body (`application/x-www-form-urlencoded`, at most ``ConsoleForm/maxBytes``).
    /// A form a browser says another site sent (`Sec-Fetch-Site: cross-site` or `same-site`) is
    /// refused before it is read, beside the CSRF token (defence in depth).
    static func form(of request: Request) async throws -> ConsoleForm {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!]?.lowercased(), site != "same-origin", site != "none" {
            throw ConsoleRefusal(.forbidden, "Form refused", "This form was sent from another site.")
        }
        guard request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true else {
            throw ConsoleRefusal(.unsupportedMediaType, "Form refused", "The console takes forms only.")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: ConsoleForm.maxBytes)
        } catch {
            throw ConsoleRefusal(.contentTooLarge, "Form refused", "The form is larger than the console takes.")
        }
        return ConsoleForm(String(buffer: buffer))
    }

    /// A time in milliseconds since 1970 as UTC text.
    static func time(_ milliseconds: UInt64?) -> String {
        guard let milliseconds else { return "never" }
        let formatter = ISO8601DateFormatter()
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// Links to the first and next page of a list.
    static func pager(first: String, next: String?) -> HTML {
        let nextLink: HTML = next.map { "<a href=\"\($0)\" rel=\"next\">Next page</a>" } ?? "<span>Last page</span>"
        return "<p class=\"pager\"><a href=\"\(first)\">First page</a> \(nextLink)</p>"
    }
}
