public import SyncEngine

/// A failed exchange with the hub, said in one sentence for people.
///
/// ``code`` lets the edges choose an exit code or a log level; ``isTransient`` tells whether trying
/// again later may succeed. Messages name the hub and dots, never record contents or tokens.
public struct SyncClientError: CodedError {
    /// What kind of failure this is.
    public typealias Code = ErrorCode<SyncClientError>

    public let code: Code
    public let message: String
    /// The HTTP status of the answer that caused it, when there was one.
    public let httpStatus: Int?

    public init(_ code: Code, _ message: String, httpStatus: Int? = nil) {
        self.code = code
        self.message = message
        self.httpStatus = httpStatus
    }

    /// Whether trying again later may succeed: an unreachable hub, a hub failure, a busy hub.
    public var isTransient: Bool { code == .unreachable || code == .hubError }

    /// Whether the hub refuses this device itself (unknown or revoked credential): retrying
    /// cannot help until an operator acts.
    public var isDeviceRefused: Bool { code == .unauthorized || code == .revoked }
}

extension ErrorCode where Domain == SyncClientError {
    /// The hub cannot be reached: connection refused, name not found, timeout, link lost.
    public static let unreachable = Self("unreachable")
    /// The hub refused the credential (HTTP 401 or 403): unknown, or not this replica's.
    public static let unauthorized = Self("unauthorized")
    /// The hub operator revoked this device (HTTP 403 `device-revoked`); local data is kept.
    public static let revoked = Self("revoked")
    /// The hub refused an enrollment: unknown, expired or used code, or already enrolled.
    public static let enrollmentRefused = Self("enrollmentRefused")
    /// The hub and this program speak no common protocol version.
    public static let protocolMismatch = Self("protocolMismatch")
    /// The hub failed or is overloaded (HTTP 5xx, 429): try again later.
    public static let hubError = Self("hubError")
    /// The hub refused the request itself (another HTTP 4xx).
    public static let requestRefused = Self("requestRefused")
    /// The hub's answer cannot be understood.
    public static let badAnswer = Self("badAnswer")
    /// The hub holds one of this replica's dots with other content.
    public static let forked = Self("forked")
    /// The hub keeps refusing the same versions without saying why.
    public static let stalled = Self("stalled")
    /// No hub or token is configured, or they are malformed.
    public static let notConfigured = Self("notConfigured")
    /// No hub is configured for this replica, or it holds no credential for the hub named: the
    /// device has not enrolled there.
    public static let notEnrolled = Self("notEnrolled")
    /// The hub's address is not an http:// or https:// URL this program can use.
    public static let invalidHubAddress = Self("invalidHubAddress")
    /// The hub's address is plain HTTP to another machine, and plain HTTP was not allowed.
    public static let insecureHubAddress = Self("insecureHubAddress")
    /// The saved credential was issued by another hub than the one named: it is not sent.
    public static let credentialHubMismatch = Self("credentialHubMismatch")
    /// The credential file can be read or written by other users: it is not used.
    public static let credentialFileExposed = Self("credentialFileExposed")
    /// The hub answered with a redirect (HTTP 3xx), which this client never follows.
    public static let redirected = Self("redirected")
    /// The hub's answer, or what it inflates to, is larger than this client accepts.
    public static let answerTooLarge = Self("answerTooLarge")
    /// The hub answered as another replica than the hub this device enrolled with and pinned.
    public static let untrustedHub = Self("untrustedHub")
    /// The hub does not know this replica's id as one of this device's (HTTP 403
    /// `unknown-incarnation`: a hub restored from a backup forgets incarnations taken since).
    /// The synchronizer binds it again and goes on.
    public static let unboundIncarnation = Self("unboundIncarnation")
}
