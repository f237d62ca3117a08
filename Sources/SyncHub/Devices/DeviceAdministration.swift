public import HubStore
import Foundation
public import SyncEngine

/// What an operator does to the hub's devices on the hub machine (`syncd devices`), on the hub's
/// database directly, whichever backend holds it: give out enrollment codes, list devices, revoke
/// them. It words the storage's outcomes for people.
public struct DeviceAdministration: Sendable {
    /// The registry's storage (``SQLiteDeviceAdministration``, or another backend's).
    public let storage: any DeviceAdministrationStorage
    /// Who the audit entries name.
    let actor: String

    public init(storage: any DeviceAdministrationStorage, actor: String = AuditEntry.operatorActor) {
        self.storage = storage
        self.actor = actor
    }

    /// Gives out a one-time code enrolling a device called `name` with `grants`, valid for
    /// `lifetime`; the hub keeps only its hash, so it is shown once.
    public func addDevice(
        name: String, grants: AccessGrants = .everything, lifetime: Duration
    ) async throws -> (code: String, expiresAt: UInt64) {
        guard Self.isValidName(name) else {
            throw DeviceAdministrationError(
                "A device name is 1 to 64 characters without control characters, such as 'amina-laptop'.")
        }
        let code = EnrollmentCode.random()
        guard let hash = EnrollmentCode.hash(code) else {
            throw DeviceAdministrationError("The enrollment code could not be made; try again.")
        }
        let expiresAt = try await storage.now() + UInt64(max(1, lifetime.components.seconds)) * 1000
        guard
            try await storage.addEnrollmentCode(
                hash: hash, deviceName: name, grants: grants, expiresAt: expiresAt, actor: actor)
        else {
            throw DeviceAdministrationError(
                "An active device is already called '\(name)'; choose another name, or revoke that device first.")
        }
        return (code, expiresAt)
    }

    /// Every device, active and revoked.
    public func list() async throws -> [DeviceRecord] { try await storage.devices() }

    /// The codes that can still enroll a device (not used, not expired), oldest first; never
    /// the codes themselves, which the hub does not keep.
    public func unusedCodes() async throws -> [EnrollmentCodeRecord] { try await storage.unusedEnrollmentCodes() }

    /// Cancels the unused codes given out for the device name `nameOrPrefix`, or the one code
    /// whose hash starts with those digits (as `codes list` shows them); each is audited.
    public func cancelCodes(_ nameOrPrefix: String) async throws -> [EnrollmentCodeRecord] {
        switch try await storage.cancelEnrollmentCodes(nameOrPrefix) {
        case .cancelled(let codes):
            return codes
        case .notFound:
            throw DeviceAdministrationError(
                "No unused code is for a device called '\(nameOrPrefix)' or has a hash starting with it.", kind: .unknownCode)
        case .ambiguous(let codes):
            throw DeviceAdministrationError(
                "Several unused codes have a hash starting with '\(nameOrPrefix)' (\(codes.map(\.hashPrefix).joined(separator: ", "))); give more digits.")
        }
    }

    /// Revokes the active device with this replica id or name: its credential stops working at
    /// once; the versions it wrote stay, and stay verifiable.
    public func revoke(_ nameOrID: String) async throws -> DeviceRecord {
        switch try await storage.revokeDevice(nameOrID, actor: actor) {
        case .revoked(let device):
            return device
        case .notFound:
            throw DeviceAdministrationError(
                "No active device is called or has the replica id '\(nameOrID)'.", kind: .unknownDevice)
        case .ambiguous(let devices):
            let ids = devices.map(\.replicaID.hex).joined(separator: ", ")
            throw DeviceAdministrationError("Several active devices are called '\(nameOrID)'; revoke one by its replica id (\(ids)).")
        }
    }

    /// Replaces the read scope, the write scope, or both (nil keeps one) of the active device with
    /// this replica id or name; returns the device as it is now and its grants before. The
    /// device's next sync answers under them.
    public func setScopes(
        read: Scope?, write: Scope?, of nameOrID: String
    ) async throws -> (device: DeviceRecord, previous: AccessGrants) {
        switch try await storage.setGrants(read: read, write: write, ofDevice: nameOrID, actor: actor) {
        case .changed(let device, let previous):
            return (device, previous)
        case .notFound:
            throw DeviceAdministrationError(
                "No active device is called or has the replica id '\(nameOrID)'.", kind: .unknownDevice)
        case .ambiguous(let devices):
            let ids = devices.map(\.replicaID.hex).joined(separator: ", ")
            throw DeviceAdministrationError("Several active devices are called '\(nameOrID)'; name one by its replica id (\(ids)).")
        }
    }

    static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.count) && name.unicodeScalars.allSatisfy { !$0.properties.generalCategory.isControl }
            && name.trimmingCharacters(in: .whitespaces) == name
    }

    /// Parses a lifetime such as `24h`, `30m`, `7d` or `3600s` (a bare number is hours).
    public static func parseLifetime(_ text: String) -> Duration? {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3_600, "d": 86_400]
        var digits = Substring(text.lowercased())
        var unit: Int64 = 3_600
        if let last = digits.last, let factor = units[last] {
            unit = factor
            digits = digits.dropLast()
        }
        guard let value = Int64(digits), value > 0, value <= 365 * 86_400 / unit else { return nil }
        return .seconds(value * unit)
    }
}

/// An operator's device command failed; the message says why, and ``kind`` lets the command line
/// say where to look.
public struct DeviceAdministrationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What was not found, when that is the failure.
    public enum Kind: Sendable, Hashable {
        /// No device has the name or replica id given.
        case unknownDevice
        /// No unused enrollment code matches the name or hash prefix given.
        case unknownCode
        /// Anything else.
        case other
    }

    public let message: String
    public let kind: Kind

    public init(_ message: String, kind: Kind = .other) {
        self.message = message
        self.kind = kind
    }

    public var description: String { message }
}

extension Unicode.GeneralCategory {
    fileprivate var isControl: Bool { self == .control || self == .format || self == .lineSeparator || self == .paragraphSeparator }
}
