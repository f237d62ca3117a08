public import HubStore
public import SyncEngine

extension DeviceAdministration {
    /// Sets the media policy the device enrolled with `code` will have.
    public func setMediaPolicy(_ policy: MediaPolicy, forCode code: String) async throws {
        guard let hash = EnrollmentCode.hash(code) else { throw DeviceAdministrationError("The enrollment code is not valid.") }
        try await storage.setMediaPolicy(policy, ofCode: hash)
    }

    /// Sets the media policy of the device named `nameOrID` (its name, or its replica id); returns the device.
    @discardableResult
    public func setMediaPolicy(_ policy: MediaPolicy, of nameOrID: String) async throws -> DeviceRecord {
        let devices = try await list()
        guard let device = devices.first(where: { $0.replicaID.hex == nameOrID.lowercased() })
            ?? devices.first(where: { $0.name == nameOrID && $0.status == .active })
        else {
            throw DeviceAdministrationError("No device is called '\(nameOrID)'.", kind: .unknownDevice)
        }
        try await storage.setMediaPolicy(policy, of: device.replicaID)
        return device
    }

    /// The media policy of `device` (the default when none was set).
    public func mediaPolicy(of device: DeviceRecord) async throws -> MediaPolicy {
        try await storage.mediaPolicy(of: device.replicaID) ?? .default
    }
}
