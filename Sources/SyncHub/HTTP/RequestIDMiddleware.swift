import HTTPTypes
import Hummingbird

/// Gives every request an id: the client's `X-Request-ID` when it is short and plain, else a new
/// one. It goes into the log metadata (`request.id`) and back in the response header: always when
/// the client gave it; a made one only with an error (status 400 and above), where an operator
/// needs it to find the log line. A successful exchange's line carries the device's replica id,
/// and a no-op exchange on a paid link is counted in bytes.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let given = request.headers[.xRequestID].flatMap(Self.acceptable)
        let id = given ?? Self.newID()
        var context = context
        context.logger[metadataKey: "request.id"] = "\(id)"
        var response = try await next(request, context)
        if given != nil || response.status.code >= 400 { response.headers[.xRequestID] = id }
        return response
    }

    static func acceptable(_ id: String) -> String? {
        guard (1...64).contains(id.utf8.count),
            id.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: ".")
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) })
        else { return nil }
        return id
    }

    static func newID() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

extension HTTPField.Name {
    /// `X-Request-ID`.
    static var xRequestID: Self { HTTPField.Name("X-Request-ID")! }
}
