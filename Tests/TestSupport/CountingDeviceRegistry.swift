public import HubStore
public import SyncEngine
import Synchronization

/// A registry that counts the reads of revocation horizons an exchange makes and hands every
/// question to `registry`.
public final class CountingDeviceRegistry: DeviceRegistry {
    private let registry: any DeviceRegistry
    private let horizonReads = Mutex(0)

    public init(_ registry: any DeviceRegistry) { self.registry = registry }

    /// How many times ``revocationHorizons()`` and ``pushOrigins(of:)`` were asked.
    public var revocationHorizonReads: Int { horizonReads.withLock { $0 } }

    public func revocationHorizons() async throws -> [ReplicaID: UInt64] {
        horizonReads.withLock { $0 += 1 }
        return try await registry.revocationHorizons()
    }

    public func pushOrigins(of origins: Set<ReplicaID>) async throws -> PushOrigins {
        horizonReads.withLock { $0 += 1 }
        return try await registry.pushOrigins(of: origins)
    }

    public func device(presenting credential: DeviceCredential) async throws -> DeviceRecord? {
        try await registry.device(presenting: credential)
    }

    public func enroll(_ request: EnrollmentRequest, credential: DeviceCredential) async throws -> EnrollmentOutcome {
        try await registry.enroll(request, credential: credential)
    }

    public func keys(of origins: Set<ReplicaID>) async throws -> [ReplicaID: PublicDeviceKey] {
        try await registry.keys(of: origins)
    }

    public func recordExchange(
        of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int?
    ) async throws {
        try await registry.recordExchange(
            of: replica, pulledAfter: sequence, skewMilliseconds: skewMilliseconds, pending: pending)
    }

    public func incarnate(_ device: DeviceRecord, as newID: ReplicaID, forkedAt: Dot?) async throws -> IncarnationOutcome {
        try await registry.incarnate(device, as: newID, forkedAt: forkedAt)
    }

    public func grants(of origins: Set<ReplicaID>) async throws -> [ReplicaID: AccessGrants] {
        try await registry.grants(of: origins)
    }

    public func grants(fingerprint: String) async throws -> AccessGrants? {
        try await registry.grants(fingerprint: fingerprint)
    }

    public func recordVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID
    ) async throws -> VerificationReportOutcome {
        try await registry.recordVerificationReports(reports, reportedBy: device)
    }

    public func certificates(of origins: Set<ReplicaID>) async throws -> [DeviceCertificate] {
        try await registry.certificates(of: origins)
    }

    public func revocationNotices() async throws -> [RevocationNotice] { try await registry.revocationNotices() }

    public func recordHubWriters(_ writers: Set<ReplicaID>) async throws { try await registry.recordHubWriters(writers) }
}
