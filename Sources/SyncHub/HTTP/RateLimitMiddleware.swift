import Foundation
import Hummingbird
import Logging

/// Answers 429 (problem+json, with `Retry-After`) to a device above its requests per minute.
///
/// Sits after authentication, so only authenticated callers get a bucket. The key is the
/// request's bearer credential: per device once every device holds its own credential.
struct RateLimitMiddleware<Context: RequestContext>: RouterMiddleware {
    let limiter: RateLimiter

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let key = Self.key(of: request) else { return try await next(request, context) }
        switch limiter.admit(key) {
        case .allowed:
            return try await next(request, context)
        case .limited(let seconds):
            return Self.tooManyRequests(
                retryAfter: seconds,
                detail: "This device made more than \(limiter.requestsPerMinute) requests in a minute; try again in \(seconds) s.",
                logger: context.logger)
        }
    }

    /// The 429 problem answer, with `Retry-After`.
    static func tooManyRequests(retryAfter seconds: Int, detail: String, logger: Logger) -> Response {
        logger.notice("request refused", metadata: ["http.status": "429", "problem.type": "too-many-requests"])
        let problem = ProblemDetails(type: "too-many-requests", title: "Too many requests", status: 429, detail: detail)
        let body = (try? JSONEncoder().encode(problem)) ?? Data()
        return Response(
            status: .tooManyRequests,
            headers: [.contentType: "application/problem+json", .retryAfter: String(seconds)],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The bucket of a request: its bearer credential.
    static func key(of request: Request) -> String? {
        guard let header = request.headers[.authorization] else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2 else { return nil }
        return String(parts[1].trimmingSpaces)
    }
}
