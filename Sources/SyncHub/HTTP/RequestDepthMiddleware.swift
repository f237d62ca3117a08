import Hummingbird
import SyncEngine

/// Refuses a POST body whose JSON nests deeper than ``HubConfiguration/Limits/maxRequestDepth``
/// before it is decoded (400 problem+json). Sits after ``GzipMiddleware``, which has already
/// collected and decompressed the body within its caps. A protocol 2 frame (``SyncFrame``) passes:
/// its JSON header is bounded by the frame's reader.
struct RequestDepthMiddleware<Context: RequestContext>: RouterMiddleware {
    let limits: MessageLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put else { return try await next(request, context) }
        // A protocol 2 frame is binary: its header's depth is checked where the frame is read.
        if let contentType = request.headers[.contentType], SyncRoutes<Context>.isFrame(contentType) {
            return try await next(request, context)
        }
        var request = request
        let body = try await request.body.collect(upTo: .max)
        if let violation = limits.violation(inRequestJSON: body.readableBytesView) {
            throw SyncHubError(.malformedRequest, violation.message)
        }
        request.body = RequestBody(buffer: body)
        return try await next(request, context)
    }
}
