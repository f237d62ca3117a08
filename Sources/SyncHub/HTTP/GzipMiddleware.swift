import Hummingbird
import NIOCore

/// Reads request bodies within the hub's limits and speaks gzip both ways.
///
/// The body is collected up to ``HubConfiguration/Limits/maxRequestBytes`` on the wire; a
/// `Content-Encoding: gzip` body is decompressed up to
/// ``HubConfiguration/Limits/maxDecompressedBytes`` (a decompression bomb stops at the cap) and
/// passed on plain. Responses larger than ``HubConfiguration/Limits/compressAbove`` are gzipped
/// for clients that send `Accept-Encoding: gzip`.
struct GzipMiddleware<Context: RequestContext>: RouterMiddleware {
    let limits: HubConfiguration.Limits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        if request.method == .post || request.method == .put {
            let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "identity"
            guard ["identity", "gzip", "x-gzip"].contains(encoding) else {
                throw SyncHubError(.unsupportedEncoding, "The request body's encoding is not supported; send it plain or as gzip.")
            }
            let wire = try await request.body.collect(upTo: limits.maxRequestBytes)
            if encoding == "identity" {
                request.body = RequestBody(buffer: wire)
            } else {
                request.body = RequestBody(buffer: try Gzip.decompress(wire, maxSize: limits.maxDecompressedBytes))
            }
        }
        var response = try await next(request, context)
        guard let accept = request.headers[.acceptEncoding], Gzip.isAccepted(by: accept),
            response.headers[.contentEncoding] == nil,
            let length = response.body.contentLength, length > limits.compressAbove
        else { return response }
        let collector = BodyCollector()
        try await response.body.write(collector)
        let compressed = try Gzip.compress(collector.buffer)
        response.body = ResponseBody(byteBuffer: compressed)
        response.headers[.contentEncoding] = "gzip"
        // One buffer: say its length, so the client can count the bytes that crossed the wire.
        response.headers[.contentLength] = String(compressed.readableBytes)
        response.headers[.vary] = "Accept-Encoding"
        return response
    }
}

/// Collects a response body into one buffer, to compress it.
final class BodyCollector: ResponseBodyWriter {
    var buffer = ByteBuffer()

    func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        self.buffer.writeBuffer(&buffer)
    }

    func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
