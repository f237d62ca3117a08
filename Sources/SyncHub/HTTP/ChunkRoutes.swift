import HubStore
import Foundation
import Hummingbird
import NIOCore
import SyncEngine

/// The attachment routes (Docs/Protocol.md, Attachments), behind ``DeviceAuthMiddleware``:
///
/// - `GET /v1/attachments/{sha256}/chunks/{index}`: one chunk's bytes, never gzipped (added
///   before ``GzipMiddleware``: media do not compress);
/// - `PUT /v1/attachments/{sha256}`: offer a manifest, answered with the chunks the hub lacks;
/// - `PUT /v1/attachments/{sha256}/chunks/{index}`: upload one chunk, checked against its hash;
/// - `POST /v1/attachments/manifests`: the manifests of attachments the device lacks.
struct ChunkRoutes {
    let attachments: HubAttachments

    /// Adds the download route; call before the gzip middleware.
    func addDownloads(to router: Router<HubRequestContext>) {
        let attachments = self.attachments
        router.get("v1/attachments/:sha256/chunks/:index") { _, context -> Response in
            let device = try Self.device(context)
            let data = try await attachments.chunk(try Self.index(context), of: try Self.hash(context), for: device)
            return Response(
                status: .ok, headers: [.contentType: "application/octet-stream"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
        }
    }

    /// Adds the upload and manifest routes; call after the gzip middleware (which reads bodies
    /// within the hub's limits) and before the JSON depth middleware (chunks are not JSON).
    func addUploads(to router: Router<HubRequestContext>, limits: HubConfiguration.Limits) {
        let attachments = self.attachments
        router.put("v1/attachments/:sha256") { request, context -> Response in
            let device = try Self.device(context)
            let manifest = try await Self.decodeJSON(AttachmentManifest.self, from: request, limits: limits, named: "manifest")
            return try Self.json(try await attachments.offer(manifest, for: try Self.hash(context), by: device))
        }
        router.put("v1/attachments/:sha256/chunks/:index") { request, context -> Response in
            let device = try Self.device(context)
            let (hash, index) = (try Self.hash(context), try Self.index(context))
            guard let contentType = request.headers[.contentType],
                contentType.split(separator: ";").first?.trimmingSpaces.lowercased() == "application/octet-stream"
            else {
                throw SyncHubError(.unsupportedMediaType, "A chunk is sent as 'Content-Type: application/octet-stream'.")
            }
            let body = try await request.body.collect(upTo: AttachmentManifest.chunkSize + 1)
            guard body.readableBytes <= AttachmentManifest.chunkSize else {
                throw SyncHubError(
                    .tooLarge, "A chunk is at most \(AttachmentManifest.chunkSize) bytes.", limit: AttachmentManifest.chunkSize)
            }
            let receipt = try await attachments.receive(Data(body.readableBytesView), index: index, of: hash, by: device)
            return try Self.json(receipt)
        }
        router.post("v1/attachments/manifests") { request, context -> Response in
            let device = try Self.device(context)
            let asked = try await Self.decodeJSON(ManifestsRequest.self, from: request, limits: limits, named: "manifests request")
            return try Self.json(try await attachments.manifests(asked, for: device))
        }
    }

    static func device(_ context: HubRequestContext) throws -> DeviceRecord {
        guard let device = context.device else { throw SyncHubError(.unauthorized, "This hub requires a device credential.") }
        return device
    }

    static func hash(_ context: HubRequestContext) throws -> String {
        guard let hash = context.parameters.get("sha256"), AttachmentDigest.isDigest(hash) else {
            throw SyncHubError(.malformedRequest, "An attachment is named by its SHA-256 as 64 lowercase hexadecimal digits.")
        }
        return hash
    }

    static func index(_ context: HubRequestContext) throws -> Int {
        guard let text = context.parameters.get("index"), text.count <= 9, let index = Int(text), index >= 0 else {
            throw SyncHubError(.malformedRequest, "A chunk index is a whole number from 0.")
        }
        return index
    }

    static func decodeJSON<T: Decodable>(
        _ type: T.Type, from request: Request, limits: HubConfiguration.Limits, named name: String
    ) async throws -> T {
        var request = request
        let body = try await request.body.collect(upTo: .max)
        if let violation = limits.message.violation(inRequestJSON: body.readableBytesView) {
            throw SyncHubError(.malformedRequest, violation.message)
        }
        request.body = RequestBody(buffer: body)
        return try await SyncRoutes<HubRequestContext>.decode(type, from: request, upTo: .max, named: name)
    }

    static func json(_ value: some Encodable) throws -> Response {
        SyncRoutes<HubRequestContext>.json(try JSONEncoder().encode(value))
    }
}

/// Answers a request to an attachment route with a method that route does not take with 405
/// `method-not-allowed` and `Allow` (as ``MethodNotAllowedMiddleware`` does for fixed paths).
struct ChunkMethodMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = Self.allowed(MethodNotAllowedMiddleware<Context>.routePath(request.uri.path)),
            !allowed.contains(request.method)
        else { return try await next(request, context) }
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        var response = try SyncHubError(
            .methodNotAllowed, "This route does not take \(request.method.rawValue); it takes \(allow)."
        ).response(from: request, context: context)
        response.headers[.allow] = allow
        return response
    }

    /// The methods an attachment route takes; nil for a path that is none.
    static func allowed(_ path: String) -> [HTTPRequest.Method]? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[0].isEmpty, parts[1] == "v1", parts[2] == "attachments" else { return nil }
        switch parts.count {
        case 4: return parts[3] == "manifests" ? [.post] : [.put]
        case 6 where parts[4] == "chunks": return [.get, .head, .put]
        default: return nil
        }
    }
}
