import Hummingbird
import NIOCore

/// Reads request bodies within the hub's limits and speaks gzip both ways.
///
/// A `Content-Length` above ``HubConfiguration/Limits/maxRequestBytes`` is refused from the header
/// (413), before any of the body is read. The body is collected up to that limit on the wire; a
/// `Content-Encoding: gzip` body whose trailer says it inflates above
/// ``HubConfiguration/Limits/maxDecompressedBytes`` is refused before inflating, and any other is
/// inflated into one buffer of the size it says. Both the wire body and the inflated one are
/// reserved from the hub-wide ``BodyBudget`` first (503 `busy` when it is spent) and given back
/// once the request is answered. Responses larger than
/// ``HubConfiguration/Limits/compressAbove`` are gzipped for clients that send
/// `Accept-Encoding: gzip`.
struct GzipMiddleware<Context: RequestContext>: RouterMiddleware {
    let limits: HubConfiguration.Limits
    let budget: BodyBudget

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var request = request
        let reservation = BodyReservation(budget)
        defer { reservation.release() }
        if request.method == .post || request.method == .put {
            request.body = RequestBody(buffer: try await readBody(of: request, into: reservation))
        }
        let response = try await next(request, context)
        return try await compress(response, for: request)
    }

    /// The request's body, plain, within the limits and the budget.
    private func readBody(of request: Request, into reservation: BodyReservation) async throws -> ByteBuffer {
        let encoding = request.headers[.contentEncoding]?.trimmingCharacters(in: .whitespaces).lowercased() ?? "identity"
        guard ["identity", "gzip", "x-gzip"].contains(encoding) else {
            throw SyncHubError(.unsupportedEncoding, "The request body's encoding is not supported; send it plain or as gzip.")
        }
        let declared = try Self.declaredLength(of: request, limit: limits.maxRequestBytes)
        try reservation.take(declared ?? limits.maxRequestBytes)
        let wire = try await request.body.collect(upTo: limits.maxRequestBytes)
        guard encoding != "identity" else { return wire }
        let size = try Gzip.declaredSize(of: wire, maxSize: limits.maxDecompressedBytes)
        try reservation.take(Gzip.outputCapacity(size: size))
        return try Gzip.decompress(wire, size: size)
    }

    /// The request's `Content-Length`, refused (413) above `limit`; nil when it sends none.
    static func declaredLength(of request: Request, limit: Int) throws -> Int? {
        guard let text = request.headers[.contentLength] else { return nil }
        guard let length = Int(text.trimmingCharacters(in: .whitespaces)), length >= 0 else {
            throw SyncHubError(.malformedRequest, "The request's Content-Length is not a number of bytes.")
        }
        guard length <= limit else {
            throw SyncHubError(
                .tooLarge, "The request body is \(length) bytes; this hub takes at most \(limit). Nothing of it was read.")
        }
        return length
    }

    /// `response`, gzipped when the client takes gzip and it is large enough to gain.
    private func compress(_ response: Response, for request: Request) async throws -> Response {
        guard let accept = request.headers[.acceptEncoding], Gzip.isAccepted(by: accept),
            response.headers[.contentEncoding] == nil,
            let length = response.body.contentLength, length > limits.compressAbove
        else { return response }
        var response = response
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
