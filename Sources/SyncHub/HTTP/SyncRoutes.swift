import Foundation
import Hummingbird
import SyncEngine

/// The hub's HTTP routes: `POST /v1/sync` and `GET /healthz`.
struct SyncRoutes<Context: RequestContext> {
    let exchange: HubExchange
    /// Encodes the answers, keeping each version's JSON for the next reader.
    let encoder = SyncResponseEncoder()

    /// Adds `GET /healthz` (no token needed) to `router`.
    func addHealth(to router: Router<Context>) {
        let hub = exchange.hubID.hex
        router.get("healthz") { _, _ -> Response in
            Self.json(#"{"status":"ok","hub":"\#(hub)"}"#.data(using: .utf8) ?? Data())
        }
    }

    /// The longest checkpoint taken: the hub's own are under 200 bytes; a shorter one it did not
    /// give out starts the pull over (`checkpointReset`), a longer one is refused.
    static var maxCheckpointBytes: Int { 1_024 }

    /// Adds `POST /v1/sync` to `router`, behind ``DeviceAuthMiddleware`` (the context carries the
    /// authenticated device).
    func addSync(to router: Router<Context>) where Context == HubRequestContext {
        let exchange = self.exchange
        let encoder = self.encoder
        router.post("v1/sync") { request, context -> Response in
            let started = ContinuousClock.now
            do {
                let answer = try await Self.answer(request, context: context, exchange: exchange, encoder: encoder)
                exchange.metrics.recordExchange(outcome: "ok", elapsed: ContinuousClock.now - started, answerBytes: answer.count)
                return Self.json(answer)
            } catch {
                let outcome = (error as? SyncHubError)?.code.description ?? "internal"
                exchange.metrics.recordExchange(outcome: outcome, elapsed: ContinuousClock.now - started)
                throw error
            }
        }
    }

    /// The JSON answer to one sync request.
    static func answer(
        _ request: Request, context: HubRequestContext, exchange: HubExchange, encoder: SyncResponseEncoder
    ) async throws -> Data {
        // The gzip middleware has already bounded the body by the hub's limits.
        let syncRequest = try await Self.decode(SyncRequest.self, from: request, upTo: .max, named: "sync request")
        if let checkpoint = syncRequest.checkpoint, checkpoint.utf8.count > Self.maxCheckpointBytes {
            throw SyncHubError(
                .malformedRequest,
                "The checkpoint is longer than any this hub gives out (\(Self.maxCheckpointBytes) bytes); send the one of the last answer, or none.")
        }
        var logger = context.logger
        logger[metadataKey: "sync.peer"] = "\(syncRequest.replica.hex)"
        guard let device = context.device else {
            throw SyncHubError(.unauthorized, "This hub requires a device credential.")
        }
        return try encoder.encode(try await exchange.handle(syncRequest, device: device, logger: logger))
    }

    /// The JSON body of `request` as `T`, read up to `maxBytes`: 415 unless the content type is
    /// JSON, 413 when its `Content-Length` is above `maxBytes` (before reading it), 400
    /// `malformed-request` naming the field when it does not decode or when an object holds a key
    /// twice (``JSONDuplicateKeys``). `name` says what the body is in the message ("sync request").
    static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, upTo maxBytes: Int, named name: String
    ) async throws -> T {
        guard let contentType = request.headers[.contentType], isJSON(contentType) else {
            throw SyncHubError(.unsupportedMediaType, "The \(name) must be JSON: send 'Content-Type: application/json'.")
        }
        if maxBytes < .max { _ = try GzipMiddleware<Context>.declaredLength(of: request, limit: maxBytes) }
        let body = try await request.body.collect(upTo: maxBytes)
        if let key = body.withUnsafeReadableBytes({ JSONDuplicateKeys.firstDuplicate(in: $0) }) {
            throw SyncHubError(
                .malformedRequest, "The \(name) holds the key '\(key.prefix(64))' twice in one object; send each key once.")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(body.readableBytesView))
        } catch let error as DecodingError {
            throw SyncHubError(.malformedRequest, "The \(name) is not valid: \(SyncHubError.describe(error))")
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
