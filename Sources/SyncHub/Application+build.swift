public import Hummingbird
import HummingbirdTLS
public import Logging

/// Builds the hub: opens (or creates) its replica (with its device registry), and wires the
/// routes and middlewares. The result is a `Service`: run it in a `ServiceGroup` for graceful shutdown.
///
/// - Parameter onServerRunning: called once the server listens, with the bound port (the real one
///   when ``HubConfiguration/port`` is 0).
public func buildApplication(
    configuration: HubConfiguration, logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let exchange = try HubExchange.sqlite(path: configuration.databasePath, configuration: configuration, logger: logger)
    return try buildApplication(exchange: exchange, logger: logger, onServerRunning: onServerRunning)
}

/// Builds the hub around an exchange already made (tests share its storage).
public func buildApplication(
    exchange: HubExchange, logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let configuration = exchange.configuration
    let router = Router(context: HubRequestContext.self, options: .autoGenerateHeadEndpoints)
    let routes = SyncRoutes<HubRequestContext>(exchange: exchange)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ProblemMiddleware())
    router.add(middleware: MethodNotAllowedMiddleware(routes: ["/healthz": [.get, .head], "/v1/enroll": [.post], "/v1/incarnate": [.post], "/v1/sync": [.post]]))
    routes.addHealth(to: router)
    EnrollRoutes(exchange: exchange, limiter: RateLimiter(requestsPerMinute: configuration.limits.enrollmentsPerMinute))
        .add(to: router)
    router.add(middleware: DeviceAuthMiddleware(registry: exchange.devices))
    router.add(middleware: RateLimitMiddleware(limiter: RateLimiter(requestsPerMinute: configuration.limits.requestsPerMinute)))
    router.add(middleware: GzipMiddleware(limits: configuration.limits))
    router.add(middleware: RequestDepthMiddleware(limits: configuration.limits.message))
    routes.addSync(to: router)
    IncarnateRoutes(exchange: exchange).add(to: router)
    logger.notice(
        "hub starting",
        metadata: [
            "hub.replica": "\(exchange.hubID.hex)", "hub.db": "\(configuration.databasePath)",
            "hub.listen": "\(configuration.host):\(configuration.port)", "hub.tls": "\(configuration.tls != nil)",
        ])
    let tlsConfiguration = try configuration.tls?.serverConfiguration()
    return Application(
        router: router,
        server: try tlsConfiguration.map { try .tls(.http1(), tlsConfiguration: $0) } ?? .http1(),
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "syncd"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}
