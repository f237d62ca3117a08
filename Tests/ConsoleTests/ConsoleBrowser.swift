import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Synchronization

/// What a browser does with the console, by hand: keeps the cookies the hub sets, sends forms,
/// and never follows a redirect (tests look at each answer).
final class ConsoleBrowser: Sendable {
    struct Answer: Sendable {
        var status: Int
        var headers: HTTPHeaders
        var body: String
        var location: String? { headers.first(name: "Location") }
        /// The value of the hidden CSRF field of the page's first form.
        var csrf: String? { Self.value(of: "csrf", in: body) }

        static func value(of field: String, in body: String) -> String? {
            guard let range = body.range(of: "name=\"\(field)\" value=\"") else { return nil }
            let rest = body[range.upperBound...]
            return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
        }
    }

    let base: String
    let cookies = Mutex<[String: String]>([:])
    /// One client for the test process (it lives as long as the process, so it is never shut down).
    private static let client = HTTPClient(
        eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(redirectConfiguration: .disallow))

    init(base: String) { self.base = base }

    func get(_ path: String) async throws -> Answer { try await send(path, method: .GET, body: nil) }

    /// Posts `fields` as a form.
    func post(_ path: String, _ fields: [(String, String)], headers: [(String, String)] = []) async throws -> Answer {
        let body = fields.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&")
        return try await send(path, method: .POST, body: body, headers: headers)
    }

    /// Logs in through the login page; returns the answer to the form.
    func logIn(_ name: String, _ password: String) async throws -> Answer {
        let page = try await get("/console/login")
        return try await post("/console/login", [("csrf", page.csrf ?? ""), ("name", name), ("password", password)])
    }

    private func send(_ path: String, method: HTTPMethod, body: String?, headers: [(String, String)] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: base + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let cookieHeader = cookies.withLock { $0.map { "\($0.key)=\($0.value)" }.sorted().joined(separator: "; ") }
        if !cookieHeader.isEmpty { request.headers.add(name: "Cookie", value: cookieHeader) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await Self.client.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 4 << 20)
        for header in response.headers[canonicalForm: "Set-Cookie"] { keep(String(header)) }
        return Answer(status: Int(response.status.code), headers: response.headers, body: String(buffer: bytes))
    }

    /// Stores (or, with Max-Age=0, drops) the cookie one `Set-Cookie` header sets.
    private func keep(_ header: String) {
        let first = header.split(separator: ";", maxSplits: 1)[0]
        let parts = first.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2 else { return }
        let name = String(parts[0]).trimmingCharacters(in: .whitespaces)
        let cleared = header.contains("Max-Age=0")
        cookies.withLock { $0[name] = cleared ? nil : String(parts[1]) }
    }

    static func encode(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
