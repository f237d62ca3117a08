public import Hummingbird
public import Logging

/// Builds the hub: opens (or creates) its replica, resolves its bearer token, and wires the routes
/// and middlewares. The result is a `Service`: run it in a `ServiceGroup` for graceful shutdown.
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
    let token = try HubToken.resolve(configuration, logger: logger)
    let router = Router(context: BasicRequestContext.self)
    let routes = SyncRoutes<BasicRequestContext>(exchange: exchange)
    router.add(middleware: RequestIDMiddleware())
    router.add(middleware: ProblemMiddleware())
    routes.addHealth(to: router)
    router.add(middleware: BearerAuthMiddleware(token: token))
    router.add(middleware: GzipMiddleware(limits: configuration.limits))
    routes.addSync(to: router)
    logger.notice(
        "hub starting",
        metadata: [
            "hub.replica": "\(exchange.hubID.hex)", "hub.db": "\(configuration.databasePath)",
            "hub.listen": "\(configuration.host):\(configuration.port)",
        ])
    return Application(
        router: router,
        configuration: ApplicationConfiguration(
            address: .hostname(configuration.host, port: configuration.port), serverName: "syncd"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger)
}
