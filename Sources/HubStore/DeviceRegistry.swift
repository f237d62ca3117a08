import Foundation
import Synchronization
public import SyncEngine

/// The hub's registry of enrolled devices, as the exchange and the routes need it. The SQLite
/// implementation is `SQLiteDeviceRegistry` (the hub's replica file); a PostgreSQL one can
/// follow behind the same operations.
public protocol DeviceRegistry: Sendable {
    /// The device whose credential this is (active or revoked); nil when none is.
    func device(presenting credential: DeviceCredential) async throws -> DeviceRecord?

    /// Uses up the code of `request` and records the device with `credential`'s hash.
    func enroll(_ request: EnrollmentRequest, credential: DeviceCredential) async throws -> EnrollmentOutcome

    /// The enrolled public keys of `origins` (the hub's own included); absent ones are unknown.
    func keys(of origins: Set<ReplicaID>) async throws -> [ReplicaID: PublicDeviceKey]

    /// Records a device's exchange: the feed position it pulled after, the clock skew seen, and
    /// how many versions it said wait to be pushed.
    func recordExchange(of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int?) async throws

    /// Binds `newID` to `device` as a new incarnation (same key and credential) after its replica forked.
    func incarnate(_ device: DeviceRecord, as newID: ReplicaID, forkedAt: Dot?) async throws -> IncarnationOutcome

    /// The grants of the devices that wrote as `origins`; origins of no enrolled device are absent.
    func grants(of origins: Set<ReplicaID>) async throws -> [ReplicaID: AccessGrants]

    /// The grants a checkpoint's fingerprint stands for; nil when the registry never held them.
    func grants(fingerprint: String) async throws -> AccessGrants?

    /// Records pulled versions a device reports failing their signature check there; reports
    /// about versions the hub never served that device are ignored and counted.
    @discardableResult
    func recordVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID
    ) async throws -> VerificationReportOutcome

    /// The hub's signed certificates of the keys of `origins` (devices, their incarnations, the
    /// hub itself); origins of no enrolled device are absent.
    func certificates(of origins: Set<ReplicaID>) async throws -> [DeviceCertificate]

    /// The hub's signed notices of every revocation it made.
    func revocationNotices() async throws -> [RevocationNotice]

    /// Records ids whose versions verify against the hub's own key as the hub's writer ids (a hub
    /// restored from a backup learns again the ids its earlier processes wrote under): from then
    /// on they have the hub's key and certificate.
    func recordHubWriters(_ writers: Set<ReplicaID>) async throws

    /// The revoked replica ids and their horizons: versions above them are refused.
    func revocationHorizons() async throws -> [ReplicaID: UInt64]

    /// What a push's checks need of the registry, read together: every revocation's horizon
    /// (``revocationHorizons()``), and the keys (``keys(of:)``) and grants (``grants(of:)``) of
    /// `origins`. A backend that can answer in one round trip does (PostgreSQL).
    func pushOrigins(of origins: Set<ReplicaID>) async throws -> PushOrigins
}

/// What the registry knows of a push's origins (``DeviceRegistry/pushOrigins(of:)``).
public struct PushOrigins: Sendable {
    /// Every revoked replica id and its horizon.
    public var horizons: [ReplicaID: UInt64]
    /// The enrolled keys of the origins (the hub's own and its writer ids' included).
    public var keys: [ReplicaID: PublicDeviceKey]
    /// The grants of the devices that wrote as the origins.
    public var grants: [ReplicaID: AccessGrants]

    public init(horizons: [ReplicaID: UInt64], keys: [ReplicaID: PublicDeviceKey], grants: [ReplicaID: AccessGrants]) {
        self.horizons = horizons
        self.keys = keys
        self.grants = grants
    }
}

extension DeviceRegistry {
    /// The three questions in turn, for a backend with no cheaper way.
    public func pushOrigins(of origins: Set<ReplicaID>) async throws -> PushOrigins {
        PushOrigins(
            horizons: try await revocationHorizons(), keys: try await keys(of: origins), grants: try await grants(of: origins))
    }

    /// A registry that keeps no devices knows no grants but read-and-write-everything.
    public func grants(of origins: Set<ReplicaID>) async throws -> [ReplicaID: AccessGrants] { [:] }

    public func grants(fingerprint: String) async throws -> AccessGrants? {
        fingerprint == AccessGrants.everything.fingerprint ? .everything : nil
    }

    /// A registry that keeps no devices keeps no reports (the exchange still logs them).
    @discardableResult
    public func recordVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID
    ) async throws -> VerificationReportOutcome {
        VerificationReportOutcome(accepted: reports.count, ignored: 0)
    }

    /// A registry that keeps no devices certifies nothing and revoked nothing.
    public func certificates(of origins: Set<ReplicaID>) async throws -> [DeviceCertificate] { [] }
    public func revocationNotices() async throws -> [RevocationNotice] { [] }
    public func revocationHorizons() async throws -> [ReplicaID: UInt64] { [:] }
    public func recordHubWriters(_ writers: Set<ReplicaID>) async throws {}

    /// A registry that keeps no devices binds nothing.
    public func incarnate(_ device: DeviceRecord, as newID: ReplicaID, forkedAt: Dot?) async throws -> IncarnationOutcome {
        .unknownDevice
    }
}

/// A registry with no devices: every credential is unknown and every origin's key too. The
/// exchange uses it when built over a storage that brings no registry.
public struct EmptyDeviceRegistry: DeviceRegistry {
    public init() {}
    public func device(presenting credential: DeviceCredential) async throws -> DeviceRecord? { nil }
    public func enroll(_ request: EnrollmentRequest, credential: DeviceCredential) async throws -> EnrollmentOutcome {
        .unknownCode
    }
    public func keys(of origins: Set<ReplicaID>) async throws -> [ReplicaID: PublicDeviceKey] { [:] }
    public func recordExchange(of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int?) async throws {}
}

/// The certificates a registry signed, by replica id, bounded: a hub with more devices than the bound
/// signs again the ones it dropped. (Every backend's registry keeps one: a certified key never changes.)
package final class CertificateCache: Sendable {
    private let entries = Mutex<[ReplicaID: DeviceCertificate]>([:])
    private static let limit = 20_000

    package init() {}

    package func certificates(of origins: Set<ReplicaID>) -> [DeviceCertificate] {
        entries.withLock { held in origins.compactMap { held[$0] } }
    }

    package func insert(_ certificates: [DeviceCertificate]) {
        entries.withLock { held in
            if held.count + certificates.count > Self.limit { held.removeAll(keepingCapacity: true) }
            for certificate in certificates { held[certificate.replica] = certificate }
        }
    }
}
