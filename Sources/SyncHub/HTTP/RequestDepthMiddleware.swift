import Hummingbird
import SyncEngine

/// Refuses a POST body whose JSON nests deeper than ``HubConfiguration/Limits/maxRequestDepth``
/// before it is decoded (400 problem+json). Sits after ``GzipMiddleware``, which has already
/// collected and decompressed the body within its caps.
struct RequestDepthMiddleware<Context: RequestContext>: RouterMiddleware {
    let limits: MessageLimits

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .post || request.method == .put else { return try await next(request, context) }
        var request = request
        let body = try await request.body.collect(upTo: .max)
        if let violation = limits.violation(inRequestJSON: body.readableBytesView) {
            throw SyncHubError(.malformedRequest, violation.message)
        }
        request.body = RequestBody(buffer: body)
        return try await next(request, context)
    }
}
