import Foundation
public import SyncEngine

/// A one-time enrollment code not used yet, as an operator lists it: never the code itself
/// (the hub keeps only its SHA-256), but the first digits of that hash, which name it.
public struct EnrollmentCodeRecord: Sendable, Hashable {
    /// The first 12 hexadecimal digits of the code's SHA-256, as `device.code-cancelled` and
    /// `device.enrolled` audit entries name it.
    public var hashPrefix: String
    /// The name the device will have.
    public var deviceName: String
    /// Milliseconds since 1970.
    public var createdAt: UInt64
    public var expiresAt: UInt64
    /// What the device may read and write once enrolled.
    public var grants: AccessGrants

    /// How many hexadecimal digits of a code's hash name it.
    public static let hashPrefixLength = 12

    public init(hashPrefix: String, deviceName: String, createdAt: UInt64, expiresAt: UInt64, grants: AccessGrants) {
        self.hashPrefix = hashPrefix
        self.deviceName = deviceName
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.grants = grants
    }
}

/// What cancelling codes by a device name or a hash prefix did.
public enum CodeCancellation: Sendable, Hashable {
    /// These codes no longer enroll anything.
    case cancelled([EnrollmentCodeRecord])
    /// No unused, unexpired code has that device name or hash prefix.
    case notFound
    /// The hash prefix names several codes; nothing was cancelled.
    case ambiguous([EnrollmentCodeRecord])
}
