import Foundation
public import Hummingbird
import NIOCore
import NIOHTTP1
import HubStore
import SyncEngine

/// The edge: every error a request can meet becomes an `application/problem+json` answer
/// (RFC 9457: type, title, status, detail). Bad input is always a 4xx; the hub keeps serving.
extension SyncHubError: HTTPResponseError {
    public var status: HTTPResponse.Status {
        switch code.value {
        case .unsupportedProtocol, .malformedRequest, .corruptEncoding: .badRequest
        case .unsupportedMediaType, .unsupportedEncoding: .unsupportedMediaType
        case .tooLarge, .attachmentTooLarge, .quotaExceeded: .contentTooLarge
        case .chunkMismatch, .attachmentMismatch: .unprocessableContent
        case .unauthorized: .unauthorized
        case .notFound: .notFound
        case .methodNotAllowed: .methodNotAllowed
        case .busy: .serviceUnavailable
        case .storage, .tokenFile: .internalServerError
        case .revoked, .forbidden, .enrollmentProof, .unknownIncarnation: .forbidden
        case .enrollmentUnknown: .notFound
        case .enrollmentExpired: .gone
        case .enrollmentUsed, .alreadyEnrolled: .conflict
        }
    }

    var title: String {
        switch code.value {
        case .unsupportedProtocol: "Unsupported protocol version"
        case .malformedRequest: "Malformed request"
        case .unsupportedMediaType: "Unsupported media type"
        case .unsupportedEncoding: "Unsupported content encoding"
        case .corruptEncoding: "Corrupt compressed body"
        case .tooLarge: "Request too large"
        case .unauthorized: "Unauthorized"
        case .notFound: "Not found"
        case .methodNotAllowed: "Method not allowed"
        case .busy: "Hub busy"
        case .storage: "Hub storage failure"
        case .tokenFile: "Hub token failure"
        case .revoked: "Device revoked"
        case .forbidden: "Forbidden"
        case .enrollmentUnknown: "Unknown enrollment code"
        case .enrollmentExpired: "Enrollment code expired"
        case .enrollmentUsed: "Enrollment code already used"
        case .alreadyEnrolled: "Device already enrolled"
        case .enrollmentProof: "Enrollment proof invalid"
        case .unknownIncarnation: "Replica id not bound to this device"
        case .attachmentTooLarge: "Attachment too large"
        case .quotaExceeded: "Attachment quota exceeded"
        case .chunkMismatch: "Chunk does not match its hash"
        case .attachmentMismatch: "Attachment does not match its hash"
        }
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers: HTTPFields = [.contentType: "application/problem+json"]
        if code == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"vigil\"" }
        if code == .busy { headers[.retryAfter] = "1" }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: problemJSON()))
    }

    /// The problem document of this error.
    func problemJSON() -> ByteBuffer {
        let problem = ProblemDetails(
            type: code.description, title: title, status: Int(status.code), detail: message, limit: limit)
        return ByteBuffer(bytes: (try? JSONEncoder().encode(problem)) ?? Data())
    }

    /// This error as a whole HTTP/1.1 answer that closes the connection, for the connection
    /// guard, which answers below the HTTP codec.
    func rawHTTPResponse(retryAfter seconds: Int) -> ByteBuffer {
        var body = problemJSON()
        var buffer = ByteBuffer(
            string: "HTTP/1.1 \(status.code) \(status.reasonPhrase)\r\nContent-Type: application/problem+json\r\n"
                + "Content-Length: \(body.readableBytes)\r\nRetry-After: \(seconds)\r\nConnection: close\r\n\r\n")
        buffer.writeBuffer(&body)
        return buffer
    }

    /// The hub error any failure met while serving a request stands for.
    init(translating error: any Error) {
        switch error {
        case let error as SyncHubError:
            self = error
        case let error as HTTPParserError:
            self = SyncHubError(.malformedRequest, "The request is not valid HTTP/1.1 (\(error)).")
        case is ByteToMessageDecoderError:
            self = SyncHubError(.malformedRequest, "The request is not valid HTTP/1.1.")
        case let error as DecodingError:
            self = SyncHubError(.malformedRequest, "The sync request is not valid: \(Self.describe(error))")
        case let error as any HTTPResponseError:
            // Hummingbird's own errors: HTTPError, and NIO's too-many-bytes from collecting a body.
            switch error.status {
            case .contentTooLarge:
                self = SyncHubError(.tooLarge, "The request body is larger than this hub accepts.")
            case .notFound:
                self = SyncHubError(.notFound, "There is no such route on this hub; the sync route is POST /v1/sync.")
            case .methodNotAllowed:
                self = SyncHubError(.methodNotAllowed, "This route does not take that method.")
            default:
                let detail = (error as? HTTPError)?.body ?? "The request cannot be served (\(error.status.code))."
                self = error.status.code >= 500 ? SyncHubError(.storage, detail) : SyncHubError(.malformedRequest, detail)
            }
        case let error as SyncEngineError:
            // Raised while reading a request (a public key, an identifier, a message): bad input.
            switch error.code {
            case .unsupportedProtocol: self = SyncHubError(.unsupportedProtocol, error.message)
            case .invalidBody, .invalidIdentifier, .invalidKey, .invalidMessage, .partitionMismatch:
                self = SyncHubError(.malformedRequest, "The request is not valid: \(error.message)")
            default: self = SyncHubError(.storage, "The hub failed to serve this request; nothing of it was applied.")
            }
        case let error as any HubStorageFailure:
            if error.isBusy {
                self = SyncHubError(.busy, "The hub's database is busy; try again in a moment.")
            } else {
                self = SyncHubError(.storage, "The hub's database failed (\(error.codeName)); nothing of this exchange was applied.")
            }
        default:
            self = SyncHubError(.storage, "The hub failed to serve this request; nothing of it was applied.")
        }
    }

    /// Says which field a decoding error is about, when the decoder says so.
    static func describe(_ error: DecodingError) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            var text = ""
            for key in codingPath {
                if let index = key.intValue {
                    text += "[\(index)]"
                } else {
                    text += (text.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return text.isEmpty ? "the body" : "'\(text)'"
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = context.codingPath.isEmpty ? "the body" : path(context.codingPath)
            return "\(parent) lacks the field '\(key.stringValue)'."
        case .typeMismatch(_, let context), .valueNotFound(_, let context):
            return "\(path(context.codingPath)) has the wrong type (\(context.debugDescription))"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty { return "the body is not valid JSON." }
            return "\(path(context.codingPath)): \(context.debugDescription)"
        @unknown default:
            return "the body cannot be decoded."
        }
    }
}

/// An RFC 9457 problem document.
struct ProblemDetails: Codable, Sendable, Hashable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    /// The limit in bytes a 413 refusal is about, when it names one.
    var limit: Int?
}
