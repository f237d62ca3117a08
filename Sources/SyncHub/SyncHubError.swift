/// A failure at the hub, said in one sentence for people.
///
/// ``code`` decides the HTTP status and the problem type at the edge
/// (`SyncHubError+HTTPResponseError.swift`). Messages never quote record contents or tokens.
public struct SyncHubError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String, CaseIterable {
            case unsupportedProtocol = "unsupported-protocol"
            case malformedRequest = "malformed-request"
            case unsupportedMediaType = "unsupported-media-type"
            case unsupportedEncoding = "unsupported-encoding"
            case corruptEncoding = "corrupt-encoding"
            case tooLarge = "too-large"
            case unauthorized
            case notFound = "not-found"
            case methodNotAllowed = "method-not-allowed"
            case busy
            case storage
            case tokenFile = "token-file"
            case revoked = "device-revoked"
            case forbidden
            case enrollmentUnknown = "enrollment-unknown"
            case enrollmentExpired = "enrollment-expired"
            case enrollmentUsed = "enrollment-used"
            case alreadyEnrolled = "already-enrolled"
            case enrollmentProof = "enrollment-proof"
            case unknownIncarnation = "unknown-incarnation"
            case attachmentTooLarge = "attachment-too-large"
            case quotaExceeded = "quota-exceeded"
            case chunkMismatch = "chunk-mismatch"
            case attachmentMismatch = "attachment-mismatch"
        }
        let value: Value
        /// The problem type: a short stable name such as `unsupported-protocol`.
        public var description: String { value.rawValue }

        /// The client speaks a protocol version this hub does not serve.
        public static let unsupportedProtocol = Code(value: .unsupportedProtocol)
        /// The request body is not a valid sync request.
        public static let malformedRequest = Code(value: .malformedRequest)
        /// The request body is not JSON.
        public static let unsupportedMediaType = Code(value: .unsupportedMediaType)
        /// The request body uses a content encoding other than gzip.
        public static let unsupportedEncoding = Code(value: .unsupportedEncoding)
        /// The gzip request body is truncated or damaged.
        public static let corruptEncoding = Code(value: .corruptEncoding)
        /// The request (its body, its decompressed body, or its push) is above a limit.
        public static let tooLarge = Code(value: .tooLarge)
        /// No bearer token, or a wrong one.
        public static let unauthorized = Code(value: .unauthorized)
        /// No such route.
        public static let notFound = Code(value: .notFound)
        /// The route exists but not with this method.
        public static let methodNotAllowed = Code(value: .methodNotAllowed)
        /// The hub's database stayed locked too long; try again.
        public static let busy = Code(value: .busy)
        /// The hub's database failed.
        public static let storage = Code(value: .storage)
        /// The hub's token file cannot be read or written.
        public static let tokenFile = Code(value: .tokenFile)
        /// The device's credential was revoked by an operator.
        public static let revoked = Code(value: .revoked)
        /// The credential is valid but does not allow this request (another replica's id).
        public static let forbidden = Code(value: .forbidden)
        /// No such enrollment code was given out.
        public static let enrollmentUnknown = Code(value: .enrollmentUnknown)
        /// The enrollment code expired.
        public static let enrollmentExpired = Code(value: .enrollmentExpired)
        /// The enrollment code was already used.
        public static let enrollmentUsed = Code(value: .enrollmentUsed)
        /// The replica id is already enrolled.
        public static let alreadyEnrolled = Code(value: .alreadyEnrolled)
        /// The enrollment's proof is not a signature by the key it enrolls.
        public static let enrollmentProof = Code(value: .enrollmentProof)
        /// The request speaks for a replica id not bound to the credential's device (a hub restored
        /// from a backup forgets incarnations taken since): the device may bind it again with
        /// `POST /v1/incarnate`, which refuses an id bound to another device.
        public static let unknownIncarnation = Code(value: .unknownIncarnation)
        /// An attachment offered is larger than the hub takes (``SyncHubError/limit`` says how large).
        public static let attachmentTooLarge = Code(value: .attachmentTooLarge)
        /// An attachment offered would bring the device's uploads above its quota (``SyncHubError/limit``).
        public static let quotaExceeded = Code(value: .quotaExceeded)
        /// An uploaded chunk's bytes are not the chunk its manifest names (length or SHA-256): refused, send it again.
        public static let chunkMismatch = Code(value: .chunkMismatch)
        /// Every chunk matched the manifest but the whole file did not match the attachment's SHA-256.
        public static let attachmentMismatch = Code(value: .attachmentMismatch)
    }

    public let code: Code
    public let message: String
    /// The limit a `too-large`, `attachment-too-large` or `quota-exceeded` refusal is about, in bytes;
    /// the problem document carries it as `limit`.
    public var limit: Int?

    public init(_ code: Code, _ message: String, limit: Int? = nil) {
        self.code = code
        self.message = message
        self.limit = limit
    }

    public var description: String { message }
}
