/// What an audit entry records, for programs: a dotted name such as `device.enrolled`.
///
/// A string wrapper rather than an enum, so that a log written by a later version of Vigil, with
/// actions this one does not know, still reads and verifies.
public struct AuditAction: RawRepresentable, Codable, Sendable, Hashable, CustomStringConvertible {
    public var rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }

    public var description: String { rawValue }

    /// An operator gave out a one-time enrollment code.
    public static let codeIssued = AuditAction(rawValue: "device.code-issued")
    /// A device enrolled with a code.
    public static let enrolled = AuditAction(rawValue: "device.enrolled")
    /// An operator changed a device's read or write scopes.
    public static let scopesChanged = AuditAction(rawValue: "device.scopes-changed")
    /// An operator revoked a device.
    public static let revoked = AuditAction(rawValue: "device.revoked")
    /// A forked device took a new incarnation (a new replica id bound to its enrollment).
    public static let incarnated = AuditAction(rawValue: "device.incarnated")
    /// A pushed version was quarantined: kept, out of the shared state.
    public static let quarantined = AuditAction(rawValue: "version.quarantined")
    /// A device reported a pulled version whose signature failed there.
    public static let verificationFailed = AuditAction(rawValue: "version.verification-failed")
    /// The hub resolved a conflicting document (a field-by-field merge).
    public static let resolved = AuditAction(rawValue: "document.resolved")
    /// Enrollments refused from one client address (a bad code or proof, or above the rate),
    /// counted over a period: one entry per address and period.
    public static let enrollmentRefused = AuditAction(rawValue: "device.enrollment-refused")
    /// Requests from one client address whose credential was unknown, malformed or refused,
    /// counted over a period: one entry per address and period.
    public static let authenticationFailed = AuditAction(rawValue: "device.authentication-failed")
    /// An operator cancelled an unused enrollment code.
    public static let codeCancelled = AuditAction(rawValue: "device.code-cancelled")
    /// A device's reports of failed verification named versions the hub never served it; they
    /// were ignored (one entry per exchange, with their number).
    public static let reportsIgnored = AuditAction(rawValue: "version.reports-ignored")
    /// A device reached its hourly limit of audit entries (or of foreign-quarantine rows): what
    /// it causes until the hour ends is counted, not written one by one.
    public static let limitReached = AuditAction(rawValue: "audit.limit-reached")
    /// How many entries (and foreign-quarantine rows) a device caused beyond its hourly limit.
    public static let suppressed = AuditAction(rawValue: "audit.suppressed")
}
