public import Foundation
import NIOHTTP1
import SyncCompression
public import SyncEngine
import Synchronization

/// The exchange over HTTP: `POST <hub>/v1/sync` with the device's bearer credential, gzip both ways.
///
/// Protocol negotiation: every request lists in `Accept` the answers this client reads (a protocol
/// 2 ``SyncFrame`` and JSON, or JSON alone when ``Configuration/protocols`` stops at 1). The first
/// request goes as JSON protocol 1, which every hub reads, unless the replica remembers that this
/// hub answered in protocol 2 (``Configuration/knownProtocol``). Once a hub answered with a frame,
/// the transport speaks protocol 2: pushes go as frames, requests without versions as JSON of
/// protocol 2 (smaller than a frame for them), both leaving out fields at their defaults
/// (``SyncWire``). A hub that then refuses such a request (400 or 415: it was rolled back to a
/// release before protocol 2) gets it again as JSON protocol 1, and protocol 1 until it answers
/// with a frame again.
///
/// Request bodies above ``Configuration/compressionThreshold`` are gzipped here; gzipped answers
/// are inflated as they arrive. Every request of one transport goes over one ``HubClient``
/// (AsyncHTTPClient), which keeps its connection between the requests of a sync. Redirects are
/// never followed and answers are bounded (see ``HubRequest``). Failures become
/// ``SyncClientError``s that say what happened in one sentence.
public final class HTTPSyncTransport: SyncTransport {
    /// How to reach the hub.
    public struct Configuration: Sendable {
        /// The hub's base URL (`http://hub.example:8080`); `/v1/sync` is appended unless present.
        public var hub: URL
        /// The bearer token; never logged.
        public var token: String
        /// Seconds without progress (connecting, sending, or between the bytes of an answer) before
        /// a request fails; whole seconds, at least 1. A request takes at most the larger of this
        /// and 600 s in all.
        public var timeoutSeconds: Int
        /// Request bodies larger than this many bytes are gzipped.
        public var compressionThreshold: Int
        /// Sent as `User-Agent`.
        public var userAgent: String
        /// How the hub's certificate is trusted, and whether plain HTTP to another machine is allowed.
        public var trust = HubTrust()
        /// The largest answer accepted, in bytes once decompressed; a larger one fails the
        /// exchange (`answerTooLarge`) without being read further.
        public var maximumAnswerBytes = HubRequest.defaultMaximumAnswerBytes
        /// The protocol versions this client offers (``SyncProtocol/supported``; 1...1 plays a
        /// client of a release before protocol 2, byte for byte).
        public var protocols: ClosedRange<Int> = SyncProtocol.supported
        /// Seconds an unused connection to the hub is kept open for the next request (the hub may
        /// close it sooner: its idle timeout, 150 s by default).
        public var keepAliveSeconds = 15
        /// The protocol the hub answered in at the replica's last exchange with it
        /// (``PeerState/protocolVersion``); nil when it never answered.
        public var knownProtocol: Int?
        /// The replica pinned the hub's key (at enrollment, or from its first sync): the client then
        /// offers revision 2 of the protocol 2 answer (``SyncFrame/answerRevision``), which leaves
        /// out the hub's certificate of itself, and sends no `User-Agent` with an exchange, which
        /// the hub does not read. A replica that pinned no hub needs that certificate to pin one.
        public var hubKeyPinned = false

        public init(
            hub: URL, token: String, timeoutSeconds: Int = 30, compressionThreshold: Int = 1024,
            userAgent: String = "vigil/\(VigilVersion.current)"
        ) {
            self.hub = hub
            self.token = token
            self.timeoutSeconds = timeoutSeconds
            self.compressionThreshold = compressionThreshold
            self.userAgent = userAgent
        }

        /// The exchange endpoint.
        public var endpoint: URL {
            hub.path.hasSuffix("/v1/sync") ? hub : hub.appendingPathComponent("v1").appendingPathComponent("sync")
        }
    }

    public let configuration: Configuration
    let client: HubClient

    /// Every request and answer of this transport, failed ones included (``HubClient/bytesMoved``).
    public var bytesMoved: Int? { client.bytesMoved }
    /// The protocol the hub last answered in: 2 once it answered with a frame.
    private let negotiated: Mutex<Int>

    public init(configuration: Configuration) {
        self.configuration = configuration
        negotiated = Mutex(configuration.protocols.contains(2) && (configuration.knownProtocol ?? 1) >= 2 ? 2 : 1)
        client = HubClient(
            trust: configuration.trust, timeoutSeconds: configuration.timeoutSeconds,
            maximumAnswerBytes: configuration.maximumAnswerBytes, keepAliveSeconds: configuration.keepAliveSeconds)
    }

    /// The protocol the hub last answered in (1 before any answer).
    public var negotiatedProtocol: Int { negotiated.withLock { $0 } }

    public func exchange(_ request: SyncRequest) async throws -> TransportReply {
        try configuration.trust.check(configuration.hub)
        let hubName = configuration.hub.absoluteString
        let speaks2 = request.protocolVersion >= 2 && configuration.protocols.contains(2) && negotiatedProtocol >= 2
        do {
            return try await send(request, speaks2: speaks2, hub: hubName)
        } catch let error as SyncClientError
            where speaks2 && (error.code == .protocolMismatch || error.httpStatus == 400 || error.httpStatus == 415)
        {
            // The hub reads protocol 2 no more (rolled back to a release before it): protocol 1 again.
            negotiated.withLock { $0 = 1 }
            return try await send(request, speaks2: false, hub: hubName)
        }
    }

    /// One request: in protocol 2 when `speaks2` (a frame when it pushes, else JSON), JSON
    /// protocol 1 otherwise (a version this build does not speak is sent as it is, and the hub
    /// names both).
    private func send(_ request: SyncRequest, speaks2: Bool, hub hubName: String) async throws -> TransportReply {
        var wire = request
        var body: Data
        var gzipped = false
        let framed = speaks2 && !request.push.isEmpty
        do {
            if framed {
                let sections = try SyncFrame.sections(of: wire)
                let size = sections.reduce(0) { $0 + $1.count }
                if size > configuration.compressionThreshold, let compressed = try? GzipSections.compress(sections) {
                    body = compressed
                    gzipped = true
                } else {
                    body = sections.reduce(into: Data()) { $0.append($1) }
                }
            } else {
                if SyncProtocol.supported.contains(wire.protocolVersion) { wire.protocolVersion = speaks2 ? 2 : 1 }
                body = try JSONEncoder().encode(wire)
                if body.count > configuration.compressionThreshold, let compressed = try? Gzip.compress(body) {
                    // Sending uncompressed (when compressing fails) is always correct, only larger.
                    body = compressed
                    gzipped = true
                }
            }
        } catch {
            throw SyncClientError(.badAnswer, "The request for the hub at \(hubName) could not be encoded (\(error)).")
        }
        // Problems come as application/problem+json whatever `Accept` says: a client that offers
        // protocol 2 leaves it out, and JSON too once the hub answered in protocol 2 (a no-op
        // exchange is counted in bytes).
        let revision2 = configuration.protocols.contains(2) && configuration.hubKeyPinned
        let frameType = revision2 ? "\(SyncFrame.mediaType);rev=\(SyncFrame.answerRevision)" : SyncFrame.mediaType
        let accept = speaks2 ? frameType
            : configuration.protocols.contains(2) ? "\(frameType), application/json" : HubRequest.jsonAccept
        let request = HubRequest(
            post: body, to: configuration.endpoint, userAgent: revision2 ? nil : configuration.userAgent,
            token: configuration.token, gzipped: gzipped, contentType: framed ? SyncFrame.mediaType : "application/json",
            accept: accept)
        let answer = try await client.send(request, hub: hubName)
        let bytesSent = request.bytesOnWire
        let bytesReceived = Self.headerSize(of: answer) + Self.bodySizeOnWire(answer)
        let data = answer.body
        guard answer.status == 200 else {
            throw Self.failure(status: answer.status, body: data, hub: hubName)
        }
        let response: SyncResponse
        if let contentType = answer.value("Content-Type"), Self.isFrame(contentType) {
            guard configuration.protocols.contains(2) else {
                throw SyncClientError(
                    .badAnswer, "The hub at \(hubName) answered in sync protocol 2, which this client did not offer; it may not be a Vigil hub.",
                    httpStatus: 200)
            }
            do {
                response = try SyncFrame.response(from: data, answering: wire)
            } catch {
                throw SyncClientError(
                    .badAnswer,
                    "The hub at \(hubName) sent a protocol 2 answer this program cannot read (\(error.message)); nothing of it was applied.",
                    httpStatus: 200)
            }
            negotiated.withLock { $0 = 2 }
        } else {
            do {
                response = try JSONDecoder().decode(SyncResponse.self, from: data)
            } catch {
                if let version = try? JSONDecoder().decode(ProtocolOnly.self, from: data).protocolVersion,
                    !configuration.protocols.contains(version)
                {
                    throw Self.mismatch(hubVersion: version, hub: hubName)
                }
                throw SyncClientError(
                    .badAnswer,
                    "The hub at \(hubName) sent an answer this program cannot read (\(Self.describe(error))); it may not be a Vigil hub, or a newer one.",
                    httpStatus: 200)
            }
            if response.protocolVersion == 1 { negotiated.withLock { $0 = 1 } }
        }
        guard configuration.protocols.contains(response.protocolVersion) else {
            throw Self.mismatch(hubVersion: response.protocolVersion, hub: hubName)
        }
        return TransportReply(response: response, bytesSent: bytesSent, bytesReceived: bytesReceived)
    }

    /// Whether a `Content-Type` value is ``SyncFrame/mediaType``.
    static func isFrame(_ contentType: String) -> Bool {
        contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } == SyncFrame.mediaType
    }

    // MARK: - Byte accounting

    /// The status line and header lines as received.
    static func headerSize(of answer: HubAnswer) -> Int {
        let reason = HTTPResponseStatus(statusCode: answer.status).reasonPhrase
        var size = "HTTP/1.1 \(answer.status) \(reason)\r\n".utf8.count
        for (name, value) in answer.headers { size += name.utf8.count + value.utf8.count + 4 }
        return size + 2
    }

    /// The body's size as it crossed the wire. The client hands over gzipped bodies already
    /// inflated, so: `Content-Length` when given; else, for a gzipped body sent in chunks, the
    /// size of the body gzipped again here plus the chunk framing (an estimate within a few bytes
    /// of the hub's, which uses the same zlib defaults); else the bytes handed over.
    static func bodySizeOnWire(_ answer: HubAnswer) -> Int {
        if let length = answer.value("Content-Length").flatMap({ Int($0) }), length >= 0 {
            return length
        }
        let decoded = answer.body
        let encoding = answer.value("Content-Encoding")?.lowercased() ?? ""
        let chunked = answer.value("Transfer-Encoding")?.lowercased().contains("chunked") ?? false
        var size = decoded.count
        if encoding.contains("gzip"), let compressed = try? Gzip.compress(decoded) { size = compressed.count }
        if chunked { size += String(size, radix: 16).utf8.count + 4 + 5 }
        return size
    }

    // MARK: - Failures

    private struct ProtocolOnly: Decodable {
        var protocolVersion: Int
        enum CodingKeys: String, CodingKey { case protocolVersion = "protocol" }
    }

    /// The fields of an `application/problem+json` answer this client reads.
    struct Problem: Decodable {
        var type: String?
        var title: String?
        var detail: String?
        /// The hub's protocol versions, when it names them.
        var supported: [Int]?
        var supportedProtocols: [Int]?
    }

    static func failure(status: Int, body: Data, hub: String) -> SyncClientError {
        let problem = try? JSONDecoder().decode(Problem.self, from: body)
        let said = problem.flatMap { $0.detail ?? $0.title }.map { text in
            var text = String(text.prefix(300)).trimmingCharacters(in: .whitespacesAndNewlines)
            while text.hasSuffix(".") { text.removeLast() }
            return ": " + text
        } ?? ""
        let type = problem?.type?.lowercased() ?? ""
        switch status {
        case 401, 403:
            if type == "device-revoked" {
                return SyncClientError(
                    .revoked, "This device was revoked by the hub at \(hub); local data is kept.", httpStatus: status)
            }
            if type == "unknown-incarnation" {
                return SyncClientError(
                    .unboundIncarnation, "The hub at \(hub) does not know this replica's id as this device's\(said).",
                    httpStatus: status)
            }
            // Only the hub's own refusal says the device is refused (and stops `syncd run` for
            // good). A 401 or 403 without it comes from what stands in front of the hub (a proxy's
            // rule, a firewall, a maintenance page): tried again later, as a failing hub.
            guard type == "unauthorized" || type == "forbidden" else {
                return SyncClientError(
                    .hubError,
                    "The address of the hub at \(hub) answered HTTP \(status) without a hub's problem document (a proxy, a firewall or a maintenance page in front of it?); nothing was changed.",
                    httpStatus: status)
            }
            return SyncClientError(
                .unauthorized,
                "The hub at \(hub) does not accept this device's credential (HTTP \(status)\(said)); local data is kept.",
                httpStatus: status)
        case 426:
            return mismatch(hubVersion: (problem?.supported ?? problem?.supportedProtocols)?.max(), hub: hub, said: said)
        case 400...499 where type.contains("protocol"):
            return mismatch(hubVersion: (problem?.supported ?? problem?.supportedProtocols)?.max(), hub: hub, said: said)
        case 429, 503:
            return SyncClientError(
                .hubError,
                "The hub at \(hub) is busy (HTTP \(status)\(said)); local data is kept and will sync later.",
                httpStatus: status)
        case 500...599:
            return SyncClientError(
                .hubError,
                "The hub at \(hub) failed (HTTP \(status)\(said)); local data is kept and will sync later.",
                httpStatus: status)
        default:
            return SyncClientError(
                .requestRefused, "The hub at \(hub) refused the exchange (HTTP \(status)\(said)).", httpStatus: status)
        }
    }

    static func mismatch(hubVersion: Int?, hub: String, said: String = "") -> SyncClientError {
        let ours = SyncProtocol.current
        let theirs = hubVersion.map { "sync protocol version \($0)" } ?? "another sync protocol version"
        let advice: String
        switch hubVersion {
        case .some(let theirs) where theirs > ours: advice = "upgrade this program"
        case .some: advice = "the hub must be upgraded"
        case .none: advice = "upgrade the older side"
        }
        return SyncClientError(
            .protocolMismatch,
            "The hub at \(hub) speaks \(theirs) and this program speaks version \(ours)\(said); \(advice).")
    }

    /// The ``SyncClientError`` (or `CancellationError`) for a transfer's failure, worded from its
    /// `URLError` code (see ``HubRequest/urlError(for:)``).
    static func translate(_ error: any Error, hub: String) -> any Error {
        if error is CancellationError || error is SyncClientError { return error }
        guard let urlError = error as? URLError else {
            return SyncClientError(
                .unreachable, "The hub at \(hub) cannot be reached (\(describe(error))); local data is kept and will sync later.")
        }
        let reason: String
        switch urlError.code {
        case .cancelled: return CancellationError()
        case .cannotConnectToHost: reason = "connection refused"
        case .cannotFindHost, .dnsLookupFailed: reason = "host name not found"
        case .timedOut: reason = "timed out"
        case .networkConnectionLost: reason = "connection lost"
        case .badServerResponse:
            // The hub closed the connection without answering (it stopped or restarted
            // mid-request). Nothing was half applied; the exchange can be retried.
            reason = "connection closed without an answer"
        case .notConnectedToInternet: reason = "no network"
        case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
            .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
            reason = "TLS failed"
        case .cannotParseResponse, .cannotDecodeContentData, .cannotDecodeRawData:
            return SyncClientError(
                .badAnswer, "The hub at \(hub) sent an answer this program cannot read (\(describe(error))).")
        case .unsupportedURL, .badURL:
            return SyncClientError(.invalidHubAddress, "The hub address \(hub) is not a URL this program can use.")
        default: reason = describe(error)
        }
        return SyncClientError(
            .unreachable, "The hub at \(hub) cannot be reached (\(reason)); local data is kept and will sync later.")
    }

    static func describe(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
                .valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return (path.isEmpty ? "" : path + ": ") + context.debugDescription
            @unknown default: break
            }
        }
        return String("\(error)".prefix(200))
    }
}
