public import Foundation
public import HubStore
public import ReplicaStore
public import SyncEngine

/// The administration of the registry on the hub's SQLite replica: ReplicaStore's own methods,
/// off the caller's thread.
public struct SQLiteDeviceAdministration: DeviceAdministrationStorage {
    public let store: ReplicaStore

    public init(store: ReplicaStore) { self.store = store }

    public func now() async throws -> UInt64 { store.now() }

    public func addEnrollmentCode(
        hash: Data, deviceName: String, grants: AccessGrants, expiresAt: UInt64, actor: String
    ) async throws -> Bool {
        let store = self.store
        return try await offload {
            try store.addEnrollmentCode(
                hash: hash, deviceName: deviceName, grants: grants, expiresAt: expiresAt, actor: actor)
        }
    }

    public func unusedEnrollmentCodes() async throws -> [EnrollmentCodeRecord] {
        let store = self.store
        return try await offload { try store.unusedEnrollmentCodes() }
    }

    public func cancelEnrollmentCodes(_ nameOrPrefix: String) async throws -> CodeCancellation {
        let store = self.store
        return try await offload { try store.cancelEnrollmentCodes(nameOrPrefix) }
    }

    public func devices() async throws -> [DeviceRecord] {
        let store = self.store
        return try await offload { try store.devices() }
    }

    public func fleetPage(after position: FleetPage.Position?, limit: Int) async throws -> FleetPage {
        let store = self.store
        return try await offload { try store.fleetPage(after: position, limit: limit) }
    }

    public func revokeDevice(_ nameOrID: String, actor: String) async throws -> RevocationOutcome {
        let store = self.store
        return try await offload { try store.revokeDevice(nameOrID, actor: actor) }
    }

    public func setGrants(read: Scope?, write: Scope?, ofDevice nameOrID: String, actor: String) async throws
        -> GrantChangeOutcome
    {
        let store = self.store
        return try await offload { try store.setGrants(read: read, write: write, ofDevice: nameOrID, actor: actor) }
    }

    public func setMediaPolicy(_ policy: MediaPolicy, ofCode codeHash: Data) async throws {
        let store = self.store
        try await offload { try store.setMediaPolicy(policy, ofCode: codeHash) }
    }

    @discardableResult
    public func setMediaPolicy(_ policy: MediaPolicy, of device: ReplicaID) async throws -> Bool {
        let store = self.store
        return try await offload { try store.setMediaPolicy(policy, of: device) }
    }

    public func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy? {
        let store = self.store
        return try await offload { try store.mediaPolicy(of: device) }
    }
}
