import Foundation
import Hummingbird
import SyncCompression
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

    /// The longest checkpoint taken (``SyncResponse/maxCheckpointBytes``): a shorter one the hub
    /// did not give out starts the pull over (`checkpointReset`), a longer one is refused.
    static var maxCheckpointBytes: Int { SyncResponse.maxCheckpointBytes }

    /// Adds `POST /v1/sync` and `POST /v1/certificates` to `router`, behind ``DeviceAuthMiddleware``
    /// (the context carries the authenticated device).
    ///
    /// The answer is in the highest protocol both sides speak: protocol 2 (a ``SyncFrame``) when
    /// the request's `Accept` lists ``SyncFrame/mediaType`` and ``HubConfiguration/maxProtocol``
    /// allows it, protocol 1 (JSON, byte for byte as before protocol 2) otherwise.
    func addSync(to router: Router<Context>) where Context == HubRequestContext {
        let exchange = self.exchange
        let encoder = self.encoder
        router.post("v1/certificates") { request, context -> Response in
            let asked = try await Self.decode(CertificateRequest.self, from: request, upTo: 1 << 16, named: "certificate request")
            guard asked.replicas.count <= CertificateRequest.maxReplicas else {
                throw SyncHubError(
                    .malformedRequest,
                    "The certificate request names \(asked.replicas.count) ids; the limit is \(CertificateRequest.maxReplicas) per request.")
            }
            let shown = try await exchange.certifiable(Set(asked.replicas), to: context.device)
            let certificates = try await exchange.devices.certificates(of: shown)
            return Self.json(try JSONEncoder().encode(CertificateResponse(certificates: certificates)))
        }
        router.post("v1/sync") { request, context -> Response in
            let started = ContinuousClock.now
            do {
                let answer = try await Self.answer(request, context: context, exchange: exchange, encoder: encoder)
                exchange.metrics.recordExchange(outcome: "ok", elapsed: ContinuousClock.now - started, answerBytes: answer.count)
                return answer.response
            } catch {
                let outcome = (error as? SyncHubError)?.code.description ?? "internal"
                exchange.metrics.recordExchange(outcome: outcome, elapsed: ContinuousClock.now - started)
                throw error
            }
        }
    }

    /// One answer's body, in the protocol negotiated.
    enum Answer {
        /// Protocol 1: JSON.
        case json(Data)
        /// Protocol 2: a frame of `size` bytes, gzipped here (section by section) when `gzipped`.
        case frame(Data, gzipped: Bool, size: Int)

        /// The answer's size before compression, as the metrics count it for JSON.
        var count: Int {
            switch self {
            case .json(let data): data.count
            case .frame(_, _, let size): size
            }
        }

        var response: Response {
            switch self {
            case .json(let data): return SyncRoutes.json(data)
            case .frame(let data, let gzipped, _):
                // No `Vary`: answers to POST are not cached, and every exchange is counted in
                // bytes on a paid link.
                var headers: HTTPFields = [.contentType: SyncFrame.mediaType]
                if gzipped {
                    headers[.contentEncoding] = "gzip"
                    headers[.contentLength] = String(data.count)
                }
                return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
            }
        }
    }

    /// The answer to one sync request, in the protocol negotiated.
    static func answer(
        _ request: Request, context: HubRequestContext, exchange: HubExchange, encoder: SyncResponseEncoder
    ) async throws -> Answer {
        let configuration = exchange.configuration
        let maxProtocol = min(configuration.maxProtocol, SyncProtocol.current)
        let answerProtocol = Self.answerProtocol(accept: request.headers[.accept], maxProtocol: maxProtocol)
        let revision = answerProtocol >= 2
            ? min(Self.answerRevision(accept: request.headers[.accept]), configuration.maxAnswerRevision) : 1
        // The gzip middleware has already bounded the body by the hub's limits.
        let syncRequest: SyncRequest
        if let contentType = request.headers[.contentType], Self.isFrame(contentType), maxProtocol >= 2 {
            syncRequest = try await Self.decodeFrame(from: request, limits: configuration.limits)
        } else {
            syncRequest = try await Self.decode(SyncRequest.self, from: request, upTo: .max, named: "sync request")
        }
        if syncRequest.protocolVersion > maxProtocol, SyncProtocol.supported.contains(syncRequest.protocolVersion) {
            throw SyncHubError(
                .unsupportedProtocol,
                "The client speaks sync protocol \(syncRequest.protocolVersion); this hub speaks \(HubExchange.describe(1...max(1, maxProtocol))). Upgrade the older side.")
        }
        if let checkpoint = syncRequest.checkpoint, checkpoint.utf8.count > Self.maxCheckpointBytes {
            throw SyncHubError(
                .malformedRequest,
                "The checkpoint is longer than any this hub gives out (\(Self.maxCheckpointBytes) bytes); send the one of the last answer, or none.")
        }
        var logger = context.logger
        logger[metadataKey: "sync.peer"] = "\(syncRequest.replica.hex)"
        logger[metadataKey: "sync.protocol"] = "\(answerProtocol)"
        guard let device = context.device else {
            throw SyncHubError(.unauthorized, "This hub requires a device credential.")
        }
        var response = try await exchange.handle(syncRequest, device: device, logger: logger)
        response.protocolVersion = answerProtocol
        guard answerProtocol >= 2 else { return .json(try encoder.encode(response)) }
        // A client of protocol 2 trusts authors' keys only through the certificates; the plain
        // keys are for clients before certificates.
        if response.certificates != nil { response.keys = nil }
        if revision >= 2 {
            // A client of revision 2 pinned this hub's key (the hub's certificate of itself would
            // tell it nothing) and asks `POST /v1/certificates` for the authors' it lacks.
            response.certificates = nil
            response.keys = nil
        }
        let sections = try SyncFrame.sections(of: response, answering: syncRequest, receiptsApart: revision >= 2)
        let size = sections.reduce(0) { $0 + $1.count }
        if size > configuration.limits.compressAbove, let accept = request.headers[.acceptEncoding], Gzip.isAccepted(by: accept) {
            return .frame(try GzipSections.compress(sections), gzipped: true, size: size)
        }
        return .frame(sections.reduce(into: Data()) { $0.append($1) }, gzipped: false, size: size)
    }

    /// The protocol to answer in: 2 when `accept` lists ``SyncFrame/mediaType`` (not with `q=0`)
    /// and `maxProtocol` allows it; 1 otherwise (JSON, whatever else `accept` says).
    static func answerProtocol(accept: String?, maxProtocol: Int) -> Int {
        guard maxProtocol >= 2, let accept else { return 1 }
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
            guard parts.first == SyncFrame.mediaType else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0 { return 2 }
        }
        return 1
    }

    /// The revision of the protocol 2 answer to write: 2 when `accept` lists ``SyncFrame/mediaType``
    /// with the parameter `rev` at 2 or above (this hub's highest), 1 otherwise. An earlier hub
    /// ignores the parameter and answers revision 1, which every client of protocol 2 reads.
    static func answerRevision(accept: String?) -> Int {
        guard let accept else { return 1 }
        var revision = 1
        for item in accept.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
            guard parts.first == SyncFrame.mediaType else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            guard quality > 0 else { continue }
            if let offered = parts.dropFirst().first(where: { $0.hasPrefix("rev=") }).flatMap({ Int($0.dropFirst(4)) }) {
                revision = max(revision, min(offered, SyncFrame.answerRevision))
            }
        }
        return revision
    }

    /// Whether a `Content-Type` value is ``SyncFrame/mediaType``.
    static func isFrame(_ contentType: String) -> Bool {
        contentType.split(separator: ";").first.map { $0.trimmingSpaces.lowercased() } == SyncFrame.mediaType
    }

    /// The request in a protocol 2 frame body, within the hub's limits: 400 `malformed-request`
    /// when it is not one whole frame or its header holds a key twice in one object (as a JSON
    /// request, ``JSONDuplicateKeys``), 413 when it carries more versions than a push may.
    static func decodeFrame(from request: Request, limits: HubConfiguration.Limits) async throws -> SyncRequest {
        let body = try await request.body.collect(upTo: .max)
        if body.readableBytes >= SyncFrame.prefixSize,
            let length = body.getInteger(at: body.readerIndex + 6, as: UInt32.self),
            Int(length) <= body.readableBytes - SyncFrame.prefixSize,
            let header = body.getSlice(at: body.readerIndex + SyncFrame.prefixSize, length: Int(length)),
            let key = header.withUnsafeReadableBytes({ JSONDuplicateKeys.firstDuplicate(in: $0) })
        {
            throw SyncHubError(
                .malformedRequest, "The sync request frame's header holds the key '\(key.prefix(64))' twice in one object; send each key once.")
        }
        let frameLimits = SyncFrame.Limits(
            maxVersions: limits.maxPushVersions, maxHeaderBytes: limits.maxDecompressedBytes, maxHeaderDepth: limits.maxRequestDepth,
            maxVectorEntries: limits.maxVectorEntries)
        do {
            return try SyncFrame.request(from: Data(body.readableBytesView), limits: frameLimits)
        } catch {
            throw SyncHubError(
                error.code == .tooLarge ? .tooLarge : .malformedRequest, "The sync request frame is not valid: \(error.message)")
        }
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
