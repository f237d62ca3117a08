import Foundation
import Hummingbird
import SyncEngine

/// The hub's HTTP routes: `POST /v1/sync` and `GET /healthz`.
struct SyncRoutes<Context: RequestContext> {
    let exchange: HubExchange

    /// Adds `GET /healthz` (no token needed) to `router`.
    func addHealth(to router: Router<Context>) {
        let hub = exchange.hubID.hex
        router.get("healthz") { _, _ -> Response in
            Self.json(#"{"status":"ok","hub":"\#(hub)"}"#.data(using: .utf8) ?? Data())
        }
    }

    /// Adds `POST /v1/sync` to `router`, behind ``DeviceAuthMiddleware`` (the context carries the
    /// authenticated device).
    func addSync(to router: Router<Context>) where Context == HubRequestContext {
        let exchange = self.exchange
        router.post("v1/sync") { request, context -> Response in
            guard let contentType = request.headers[.contentType], Self.isJSON(contentType) else {
                throw SyncHubError(.unsupportedMediaType, "The sync request must be JSON: send 'Content-Type: application/json'.")
            }
            let body = try await request.body.collect(upTo: .max)
            let syncRequest: SyncRequest
            do {
                syncRequest = try JSONDecoder().decode(SyncRequest.self, from: Data(body.readableBytesView))
            } catch let error as DecodingError {
                throw SyncHubError(.malformedRequest, "The sync request is not valid: \(SyncHubError.describe(error))")
            }
            var logger = context.logger
            logger[metadataKey: "sync.peer"] = "\(syncRequest.replica.hex)"
            guard let device = context.device else {
                throw SyncHubError(.unauthorized, "This hub requires a device credential.")
            }
            let response = try await exchange.handle(syncRequest, device: device, logger: logger)
            return Self.json(try JSONEncoder().encode(response))
        }
    }

    static func isJSON(_ contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } ?? ""
        return mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json"))
    }

    static func json(_ data: Data) -> Response {
        Response(
            status: .ok, headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
