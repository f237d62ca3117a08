import Hummingbird
import Logging
import Records

/// Turns every error thrown below it into a problem+json answer, so that no bad input becomes a
/// bare 500 and the middlewares above it (the request id) still see a response.
struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = SyncHubError(translating: error)
            let level: Logger.Level = problem.status.code >= 500 ? .error : .notice
            var metadata: Logger.Metadata = [
                "http.status": "\(problem.status.code)", "problem.type": "\(problem.code)",
                "problem.detail": "\(problem.message)",
            ]
            if problem.status.code >= 500 { metadata["error"] = "\(String(reflecting: error))" }
            context.logger.log(level: level, "request refused", metadata: metadata)
            return try problem.response(from: request, context: context)
        }
    }
}
