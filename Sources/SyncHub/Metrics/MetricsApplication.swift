public import Hummingbird
public import Logging
import NIOCore

/// A listener of its own for `GET /metrics` (Prometheus' text format), so that the figures are
/// never served on the devices' address: bind it to loopback or to a monitoring network.
/// Every other path answers 404.
public func buildMetricsApplication(
    exchange: HubExchange, host: String, port: Int, logger: Logger,
    onServerRunning: @escaping @Sendable (_ port: Int) async -> Void = { _ in }
) -> some ApplicationProtocol {
    let router = Router()
    let metrics = exchange.metrics
    let storage = exchange.storage
    router.get("metrics") { _, _ -> Response in
        let text = metrics.exposition(try await storage.counts())
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
    return Application(
        router: router,
        configuration: ApplicationConfiguration(address: .hostname(host, port: port), serverName: "syncd-metrics"),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
        logger: logger)
}
