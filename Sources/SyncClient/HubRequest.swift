import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import NIOPosix
import NIOSSL

/// One request to the hub, with the client's rules for every answer whichever client carries it
/// (``HubClient`` on AsyncHTTPClient, or ``PinnedHTTPSClient`` for a pinned certificate):
///
/// - redirects are never followed: a 3xx answer is ``SyncClientError/Code/redirected``, decided on
///   its head before any of its body is read, so the credential and the records never go to an
///   address the device was not given;
/// - an answer is at most ``defaultMaximumAnswerBytes`` bytes, counted after gzip is undone
///   (which bounds what a small compressed answer may inflate to): a larger one, or a
///   `Content-Length` announcing one, ends the transfer as ``SyncClientError/Code/answerTooLarge``.
///   The body is read as it arrives and inflated a few KiB at a time, so no more than the limit
///   is ever held;
/// - a connection that makes no progress for the timeout (connecting, sending, or waiting for
///   the next bytes of the answer) ends the request as `unreachable` (timed out).
///
/// URLSession is not used: on Linux it keeps the whole body of a 301–308 answer in memory before
/// it asks whether to follow it, and tells no delegate about it (swift-corelibs-foundation,
/// `_NativeProtocol.didReceive(data:)`), so nothing could cut it: a 302 whose gzip body inflated
/// to 512 MiB kept a URLSession client busy for more than 25 minutes
/// (`ClientTransportBoundsTests` replays it).
struct HubRequest: Sendable {
    /// The largest answer accepted, decoded: several times the largest page a hub sends.
    static let defaultMaximumAnswerBytes = 32 << 20

    var url: URL
    var method: HTTPMethod = .POST
    var headers: HTTPHeaders
    var body: Data

    /// The `Accept` of a JSON request.
    static let jsonAccept = "application/json, application/problem+json"

    /// A `POST` of `body` to `url` with the client's headers; `token` goes as a bearer
    /// credential, `gzipped` says the body is compressed, `userAgent` is left out when nil. JSON
    /// unless `contentType` says otherwise (a protocol 2 frame); `accept` lists the answers the
    /// client reads.
    init(
        post body: Data, to url: URL, userAgent: String?, token: String? = nil, gzipped: Bool = false,
        contentType: String = "application/json", accept: String = jsonAccept
    ) {
        self.url = url
        self.body = body
        headers = ["Content-Type": contentType, "Accept": accept, "Accept-Encoding": "gzip"]
        if let userAgent { headers.add(name: "User-Agent", value: userAgent) }
        if let token { headers.add(name: "Authorization", value: "Bearer \(token)") }
        if gzipped { headers.add(name: "Content-Encoding", value: "gzip") }
    }

    /// The request line, `Host`, the header lines and the body, in bytes, as sent.
    var bytesOnWire: Int {
        var path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? url.path
        if path.isEmpty { path = "/" }
        if let query = url.query { path += "?" + query }
        var size = "\(method.rawValue) \(path) HTTP/1.1\r\n".utf8.count
        var host = url.host ?? ""
        if let port = url.port, port != (url.scheme?.lowercased() == "https" ? 443 : 80) { host += ":\(port)" }
        size += "Host: \(host)\r\n".utf8.count + "Content-Length: \(body.count)\r\n".utf8.count
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        return size + 2 + body.count
    }
}

/// The hub's answer: its status, its headers as received, its body decoded.
struct HubAnswer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: Data

    /// The first value of header `name`.
    func value(_ name: String) -> String? { headers.first(name: name) }
}

extension HubRequest {
    /// The rules for an answer's head, applied before its body is read: a redirect is refused,
    /// and so is a `Content-Length` above `limit`.
    static func check(status: Int, headers: HTTPHeaders, limit: Int, hub: String) throws {
        if (300...399).contains(status) {
            let location = headers.first(name: "Location").map { " to \(String($0.prefix(200)))" } ?? ""
            throw SyncClientError(
                .redirected,
                "The hub at \(hub) answered with a redirect (HTTP \(status)\(location)); redirects are not followed, so nothing was sent there.",
                httpStatus: status)
        }
        if let length = headers.first(name: "Content-Length").flatMap({ Int($0) }), length > limit {
            throw tooLarge(hub: hub, limit: limit)
        }
    }

    static func tooLarge(hub: String, limit: Int) -> SyncClientError {
        SyncClientError(
            .answerTooLarge,
            "The hub at \(hub) sent an answer larger than \(limit >> 20) MiB once decompressed; it was dropped unread and nothing was applied.")
    }

    /// What a failed request throws: a ``SyncClientError`` or `CancellationError`.
    static func failure(_ error: any Error, hub: String, limit: Int) -> any Error {
        switch error {
        case is CancellationError, is SyncClientError:
            return error
        case let error as NIOHTTPDecompression.DecompressionError where error == .limit:
            return tooLarge(hub: hub, limit: limit)
        case let error as URLError where error.code == .dataLengthExceedsMaximum:
            return tooLarge(hub: hub, limit: limit)
        case let error as HTTPClientError where error == .cancelled:
            return CancellationError()
        default:
            return HTTPSyncTransport.translate(urlError(for: error) ?? error, hub: hub)
        }
    }

    /// The `URLError` that says what a SwiftNIO, NIOSSL or AsyncHTTPClient error says, so that
    /// one table (``HTTPSyncTransport/translate(_:hub:)``) words them all; nil when none fits.
    static func urlError(for error: any Error) -> URLError? {
        switch error {
        case let error as URLError:
            return error
        case let error as HTTPClientError:
            switch error {
            case .connectTimeout, .readTimeout, .writeTimeout, .deadlineExceeded, .tlsHandshakeTimeout:
                return URLError(.timedOut)
            case .remoteConnectionClosed: return URLError(.badServerResponse)
            case .invalidURL, .emptyHost, .emptyScheme: return URLError(.badURL)
            default: return nil
            }
        case let error as NIOConnectionError:
            let noAddress = error.connectionErrors.isEmpty && (error.dnsAError != nil || error.dnsAAAAError != nil)
            return URLError(noAddress ? .cannotFindHost : .cannotConnectToHost)
        case let error as ChannelError:
            if case .connectTimeout = error { return URLError(.timedOut) }
            return URLError(.networkConnectionLost)
        case let error as IOError where error.errnoCode == ECONNREFUSED:
            return URLError(.cannotConnectToHost)
        case is NIOSSLError:
            return URLError(.serverCertificateUntrusted)
        case is BoringSSLError, is NIOSSLExtraError:
            return URLError(.secureConnectionFailed)
        case is HTTPParserError:
            return URLError(.cannotParseResponse)
        case is NIOHTTPDecompression.DecompressionError, is NIOHTTPDecompression.ExtraDecompressionError:
            return URLError(.cannotDecodeContentData)
        default:
            return nil
        }
    }
}
