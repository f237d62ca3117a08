import Foundation
public import HubStore
public import ReplicaStore
public import SyncEngine
import Synchronization

/// The registry on the hub's SQLite replica (tables `devices`, `enrollment_codes`).
public struct SQLiteDeviceRegistry: DeviceRegistry {
    public let store: ReplicaStore
    /// The most audit entries the verification reports of one device may add per hour (0: none).
    public let deviceEntriesPerHour: Int
    /// Certificates already signed: a certified key never changes, so each is signed once per process.
    private let certified = CertificateCache()

    public init(store: ReplicaStore, deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault) {
        self.store = store
        self.deviceEntriesPerHour = max(0, deviceEntriesPerHour)
    }

    public func device(presenting credential: DeviceCredential) async throws -> DeviceRecord? {
        let store = self.store
        let hash = credential.hash
        return try await offload { try store.device(presenting: hash) }
    }

    public func enroll(_ request: EnrollmentRequest, credential: DeviceCredential) async throws -> EnrollmentOutcome {
        let store = self.store
        guard let codeHash = EnrollmentCode.hash(request.code) else { return .unknownCode }
        return try await offload {
            try store.enrollDevice(
                codeHash: codeHash, replica: request.replica, publicKey: request.publicKey, credentialHash: credential.hash)
        }
    }

    public func keys(of origins: Set<ReplicaID>) async throws -> [ReplicaID: PublicDeviceKey] {
        guard !origins.isEmpty else { return [:] }
        let store = self.store
        return try await offload { try store.enrolledKeys(of: origins) }
    }

    public func recordExchange(of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int?) async throws {
        let store = self.store
        try await offload {
            try store.recordExchange(of: replica, pulledAfter: sequence, skewMilliseconds: skewMilliseconds, pending: pending)
        }
    }

    public func incarnate(_ device: DeviceRecord, as newID: ReplicaID, forkedAt: Dot?) async throws -> IncarnationOutcome {
        let store = self.store
        let enrolled = device.replicaID
        return try await offload { try store.bindIncarnation(of: enrolled, as: newID, forkedAt: forkedAt) }
    }

    public func grants(of origins: Set<ReplicaID>) async throws -> [ReplicaID: AccessGrants] {
        guard !origins.isEmpty else { return [:] }
        let store = self.store
        return try await offload { try store.deviceGrants(of: origins) }
    }

    public func grants(fingerprint: String) async throws -> AccessGrants? {
        let store = self.store
        return try await offload { try store.grants(fingerprint: fingerprint) }
    }

    @discardableResult
    public func recordVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID
    ) async throws -> VerificationReportOutcome {
        let (store, limit) = (store, deviceEntriesPerHour)
        return try await offload { try store.auditVerificationReports(reports, reportedBy: device, limit: limit) }
    }

    public func certificates(of origins: Set<ReplicaID>) async throws -> [DeviceCertificate] {
        guard !origins.isEmpty else { return [] }
        var found = certified.certificates(of: origins)
        let missing = origins.subtracting(found.map(\.replica))
        guard !missing.isEmpty else { return found }
        let store = self.store
        let signed = try await offload { try store.deviceCertificates(of: missing) }
        certified.insert(signed)
        found += signed
        return found
    }

    public func revocationNotices() async throws -> [RevocationNotice] {
        let store = self.store
        return try await offload { try store.revocationNotices() }
    }

    public func revocationHorizons() async throws -> [ReplicaID: UInt64] {
        let store = self.store
        return try await offload { try store.revocationHorizons() }
    }

    public func recordHubWriters(_ writers: Set<ReplicaID>) async throws {
        guard !writers.isEmpty else { return }
        let store = self.store
        try await offload { try store.recordWriters(writers) }
    }

}
