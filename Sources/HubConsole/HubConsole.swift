import Dispatch
import Foundation
import HTTPTypes
public import HubStore
public import Hummingbird
public import Logging
import SyncEngine
public import SyncHub

/// The operator's console: HTML pages served by the hub under `/console` (conflicts, fleet,
/// audit), for operator accounts with a password and a role, never for devices.
///
/// Sessions are random tokens in an HttpOnly, SameSite=Strict cookie (Secure with TLS), stored
/// hashed in the hub's database with an expiry; every form carries the session's CSRF token; every
/// page is sent with a Content-Security-Policy that allows no script at all.
public struct HubConsole: Sendable {
    /// The operators, their sessions and second factors, and the informant key.
    let operators: any OperatorDirectory
    /// The device registry as operators change it (the fleet page).
    let administration: any DeviceAdministrationStorage
    /// The hub's audit log (the audit page).
    let auditLog: any HubAuditLog
    /// The documents' states and versions the record pages read, and where resolutions are
    /// written (conflicts, a document, warnings, observations, exports, the map); nil on a backend
    /// that keeps no document states: those pages then answer that they are not served.
    let documents: (any DocumentPages)?
    let configuration: ConsoleConfiguration
    let addressLimiter: AttemptLimiter
    let nameLimiter: AttemptLimiter
    let hubLimiter: AttemptLimiter
    /// Wrong second-factor codes per operator name (``ConsoleConfiguration/wrongCodesPerName``).
    let wrongCodeLimiter: AttemptLimiter
    /// Logins whose password was right, waiting for the operator's TOTP code.
    let pendingLogins = PendingLogins()
    /// The informant keys opened at login, by session, in memory only.
    let informantKeys = InformantKeyring()
    /// Where failures the console answers with a 500 page are logged.
    let logger: Logger

    /// The console over any backend's parts; without `documents` the pages over document states
    /// are not served.
    init(
        operators: any OperatorDirectory, administration: any DeviceAdministrationStorage, auditLog: any HubAuditLog,
        documents: (any DocumentPages)?, configuration: ConsoleConfiguration, logger: Logger
    ) {
        self.logger = logger
        self.operators = operators
        self.administration = administration
        self.auditLog = auditLog
        self.documents = documents
        self.configuration = configuration
        addressLimiter = AttemptLimiter(maxAttempts: configuration.loginAttemptsPerAddress, window: configuration.loginWindow)
        nameLimiter = AttemptLimiter(maxAttempts: configuration.loginAttemptsPerName, window: configuration.loginWindow)
        hubLimiter = AttemptLimiter(maxAttempts: configuration.loginAttemptsPerHub, window: configuration.loginWindow)
        wrongCodeLimiter = AttemptLimiter(maxAttempts: configuration.wrongCodesPerName, window: configuration.wrongCodeWindow)
    }

    /// What ``SyncHub/buildApplication(exchange:logger:onServerRunning:mount:)`` takes to serve the
    /// console beside the hub's routes: the backend must keep operators, an audit log and the
    /// device administration (SQLite and PostgreSQL do); the pages over document states need a
    /// backend that keeps them (``HubBackend/documents``: SQLite and PostgreSQL do).
    public static func mounting(
        _ configuration: ConsoleConfiguration, logger: Logger
    ) -> (Router<HubRequestContext>, HubExchange) throws -> Void {
        { router, exchange in
            let backend = exchange.backend
            guard let operators = backend.operators, let administration = backend.administration,
                let auditLog = backend.auditLog
            else {
                throw ConsoleError("The console needs a backend that keeps operators, devices and an audit log.")
            }
            HubConsole(
                operators: operators, administration: administration, auditLog: auditLog,
                documents: backend.documents, configuration: configuration, logger: logger
            ).add(to: router)
        }
    }

    /// Whether `backend` has what ``mounting(_:logger:)`` needs.
    public static func canMount(on backend: HubBackend) -> Bool {
        backend.operators != nil && backend.administration != nil && backend.auditLog != nil
    }

    /// The page a login and `/console` lead to: the conflicts, or the fleet where document states are not kept.
    var home: String { documents == nil ? "/console/fleet" : "/console/conflicts" }

    /// The documents for a page over document states; on a backend that keeps none, a refusal that says so.
    func documentPages() throws -> any DocumentPages {
        guard let documents else { throw Self.documentPagesNotServed }
        return documents
    }

    static let documentPagesNotServed = ConsoleRefusal(
        .notImplemented, "Not served by this hub",
        "This hub's backend does not keep the records' current states: records, conflicts, the map and resolutions are not served here (Docs/HubPostgres.md).")

    /// The session cookie's name (`__Host-` with TLS: the browser then insists on Secure and Path=/).
    var sessionCookie: String { configuration.secureCookies ? "__Host-vigil-console" : "vigil-console" }
    /// The cookie carrying the CSRF token of the login and setup forms (before any session).
    var formCookie: String { configuration.secureCookies ? "__Host-vigil-console-form" : "vigil-console-form" }

    /// Adds the console's routes to `router`.
    func add(to router: Router<HubRequestContext>) {
        let console = self
        let group = router.group("console").add(middleware: ConsoleHeadersMiddleware(secure: configuration.secureCookies))
        group.get { request, _ in try await console.guarded(request) { Self.redirect(console.home) } }
        group.get("style.css") { _, _ in Self.stylesheet() }
        group.get("login") { request, _ in try await console.guarded(request) { console.loginPage(nil) } }
        group.post("login") { request, context in
            try await console.guarded(request) { try await console.login(request, address: context.clientAddress) }
        }
        group.post("login/code") { request, context in
            try await console.guarded(request) { try await console.confirmCode(request, address: context.clientAddress) }
        }
        group.post("logout") { request, _ in try await console.guarded(request) { try await console.logout(request) } }
        group.get("setup/:token") { request, context in
            try await console.guarded(request) { try await console.setupPage(context.parameters.get("token") ?? "") }
        }
        group.post("setup/:token") { request, context in
            try await console.guarded(request) { try await console.setup(request, token: context.parameters.get("token") ?? "") }
        }
        addConflictRoutes(to: group)
        addFleetRoutes(to: group)
        addAuditRoutes(to: group)
        addRecordRoutes(to: group)
    }

    /// Runs a blocking database or hashing call off Swift's cooperative threads.
    func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// The console cannot be mounted or a request cannot be served; the message says why.
public struct ConsoleError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A request the console refuses, answered as an HTML page with this status.
struct ConsoleRefusal: Error, Sendable {
    var status: HTTPResponse.Status
    var title: String
    var message: String
    var retryAfter: Int?

    init(_ status: HTTPResponse.Status, _ title: String, _ message: String, retryAfter: Int? = nil) {
        self.status = status
        self.title = title
        self.message = message
        self.retryAfter = retryAfter
    }
}

/// Sends every console answer with headers that keep it to itself: a Content-Security-Policy
/// with no script and no foreign origin, no framing, no sniffing, no referrer, no caching.
struct ConsoleHeadersMiddleware<Context: RequestContext>: RouterMiddleware {
    let secure: Bool

    static var policy: String {
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[HTTPField.Name("Content-Security-Policy")!] = Self.policy
        response.headers[HTTPField.Name("X-Content-Type-Options")!] = "nosniff"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        response.headers[.cacheControl] = "no-store"
        if secure { response.headers[HTTPField.Name("Strict-Transport-Security")!] = "max-age=31536000" }
        return response
    }
}
