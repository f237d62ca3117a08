import Foundation
import Hummingbird

/// Answers a request for one of the hub's routes with a method that route does not take with
/// 405 `method-not-allowed` and an `Allow` header (RFC 9110 §15.5.6), instead of the router's 404.
///
/// Hummingbird's router does not tell a wrong method from a wrong path, so the routes and their
/// methods are given here. A path not listed goes on to the router unchanged (404 when unknown).
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Route path (such as `/v1/sync`) to the methods it takes.
    let routes: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = routes[Self.routePath(request.uri.path)], !allowed.contains(request.method) else {
            return try await next(request, context)
        }
        let allow = allowed.map(\.rawValue).joined(separator: ", ")
        let problem = SyncHubError(.methodNotAllowed, "This route does not take \(request.method.rawValue); it takes \(allow).")
        context.logger.notice(
            "request refused",
            metadata: ["http.status": "405", "problem.type": "\(problem.code)", "problem.detail": "\(problem.message)"])
        var response = try problem.response(from: request, context: context)
        response.headers[.allow] = allow
        return response
    }

    /// The path as the router matches it: without a trailing slash.
    static func routePath(_ path: String) -> String {
        var path = Substring(path)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        return String(path)
    }
}
