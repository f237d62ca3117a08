import HubStore
public import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import NIOCore
public import Logging

/// Builds the hub around its exchange (over the backend the composition root opened: `HubBackend.sqlite`
/// or `PostgresHub`; tests share its storage): wires the routes and middlewares. The result is a `Service`: run it in a
/// `ServiceGroup` for graceful shutdown.
///
/// - Parameter onServerRunning: called once the server listens, with the bound port (the real one
///   when ``HubConfiguration/port`` is 0).
///   `mount` adds routes that authenticate their own requests (the operator's console), before
///   the device credential is required.
public func buildApplication(
    exchange: HubExchange, logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in },
    mount: (Router<HubRequestContext>, HubExchange) throws -> Void = { _, _ in }
) throws -> some ApplicationProtocol {
    let configuration = exchange.configuration
    let limits = configuration.limits
    let audit = RefusalAudit(interval: configuration.refusalAuditInterval, logger: logger, sink: refusalSink(exchange))
    let router = Router(context: HubRequestContext.self, options: .autoGenerateHeadEndpoints)
    let routes = SyncRoutes<HubRequestContext>(exchange: exchange)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: MethodNotAllowedMiddleware(routes: [
        "/healthz": [.get, .head], "/v1/enroll": [.post], "/v1/incarnate": [.post], "/v1/sync": [.post],
        "/v1/informant-key": [.get], "/v1/certificates": [.post],
    ]))
    router.add(middleware: ChunkMethodMiddleware())
    routes.addHealth(to: router)
    EnrollRoutes(
        exchange: exchange, limiter: RateLimiter(requestsPerMinute: limits.enrollmentsPerMinute),
        addressLimiter: RateLimiter(requestsPerMinute: limits.enrollmentsPerAddressPerMinute), audit: audit
    ).add(to: router)
    try mount(router, exchange)
    router.add(
        middleware: DeviceAuthMiddleware(
            registry: exchange.devices, failures: RateLimiter(requestsPerMinute: limits.failedAuthenticationsPerMinute),
            audit: audit))
    router.add(middleware: RateLimitMiddleware(limiter: RateLimiter(requestsPerMinute: limits.requestsPerMinute)))
    // Before the gzip middleware: its body (16 KiB at most, never gzipped) is bounded by its route.
    IncarnateRoutes(exchange: exchange).add(to: router)
    InformantKeyRoutes(exchange)?.add(to: router)
    let chunkRoutes = attachmentRoutes(exchange)
    chunkRoutes?.addDownloads(to: router)
    router.add(middleware: GzipMiddleware(limits: limits, budget: BodyBudget(capacity: limits.bodyBudget)))
    chunkRoutes?.addUploads(to: router, limits: limits)
    router.add(middleware: RequestDepthMiddleware(limits: limits.message))
    routes.addSync(to: router)
    let connections = ConnectionCounter(limit: limits.connectionLimit())
    logger.notice(
        "hub starting",
        metadata: [
            "hub.replica": "\(exchange.hubID.hex)", "hub.key": "\(exchange.storage.hubKey.fingerprint)",
            "hub.store": "\(exchange.backend.location)",
            "hub.listen": "\(configuration.host):\(configuration.port)", "hub.tls": "\(configuration.tls != nil)",
            "hub.maxConnections": "\(connections.limit)",
        ])
    return Application(
        router: router,
        server: try serverBuilder(configuration: configuration, connections: connections),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: nil),
        services: [audit],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}

/// HTTP/1.1 (over TLS when configured) with the hub's connection guards and timeouts.
func serverBuilder(configuration: HubConfiguration, connections: ConnectionCounter) throws -> HTTPServerBuilder {
    let tls = try configuration.tls?.serverConfiguration()
    let limits = configuration.limits
    let http1Configuration = HTTP1Channel.Configuration(idleTimeout: .seconds(Int64(limits.idleTimeoutSeconds)))
    let headerTimeout = TimeAmount.seconds(Int64(limits.headerTimeoutSeconds))
    return HTTPServerBuilder { responder in
        let guarded = GuardedHTTP1Channel(
            base: HTTP1Channel(responder: responder, configuration: http1Configuration), connections: connections,
            headerTimeout: headerTimeout)
        guard let tls else { return guarded }
        return try TLSChannel(guarded, tlsConfiguration: tls)
    }
}

/// The attachment routes over the backend's attachment storage; none when it keeps none.
func attachmentRoutes(_ exchange: HubExchange) -> ChunkRoutes? {
    exchange.backend.attachments.map { ChunkRoutes(attachments: HubAttachments(storage: $0, limits: exchange.configuration.limits)) }
}

/// Where refusals are audited: the backend's audit log, else nowhere.
func refusalSink(_ exchange: HubExchange) -> RefusalAudit.Sink {
    guard let log = exchange.backend.auditLog else { return { _ in } }
    return RefusalAudit.auditLog(log)
}
