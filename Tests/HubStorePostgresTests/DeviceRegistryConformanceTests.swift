import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The device registry's contract, written once over `any DeviceRegistry` and
/// `any DeviceAdministrationStorage`, run on every backend in ``RegistryBackend/enabled``.
@Suite(.serialized)
struct DeviceRegistryConformanceTests {
    private static let regional = AccessGrants(
        read: Scope(text: "observations/SD-*,warnings/*") ?? .nothing,
        write: Scope(text: "observations/SD-DN") ?? .nothing)

    // MARK: Enrollment codes

    @Test(arguments: RegistryBackend.enabled)
    func aCodeEnrollsOnceAndNeverAgain(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let code = try await hub.code(for: "amina-laptop", grants: Self.regional)
            let first = EnrollingDevice()
            let second = EnrollingDevice()
            #expect(
                try await hub.registry.enroll(try first.request(code), credential: first.credential)
                    == .enrolled(name: "amina-laptop"))
            #expect(try await hub.registry.enroll(try second.request(code), credential: second.credential) == .used)
            // The same device with the same code again: still used, nothing changes.
            #expect(try await hub.registry.enroll(try first.request(code), credential: first.credential) == .used)
            let devices = try await hub.administration.devices()
            #expect(devices.map(\.replicaID) == [first.replica])
            #expect(devices.first?.name == "amina-laptop")
            #expect(devices.first?.status == .active)
            #expect(devices.first?.publicKey == first.key.publicKey)
            #expect(devices.first?.grants == Self.regional)
            #expect(try await hub.registry.device(presenting: second.credential) == nil)
        }
    }

    /// Replays a review's finding: an insider with a valid code enrolled a key under the hub's own
    /// replica id (public in every answer). Its pushes then counted as its own at the hub's dots,
    /// and revoking it set a horizon on the hub's own versions across the network. Enrollment now
    /// refuses the hub's id and its writer ids, and the code stays unused.
    @Test(arguments: RegistryBackend.enabled)
    func anIdInUseAtTheHubEnrollsNothing(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let writer = ReplicaID.random()
            try await hub.registry.recordHubWriters([writer])
            let code = try await hub.code(for: "insider")
            for id in [hub.hubID, writer] {
                let request = try EnrollmentRequest(code: code, replica: id, key: DeviceKey())
                #expect(try await hub.registry.enroll(request, credential: .random()) == .idInUse, "\(id)")
            }
            let own = EnrollingDevice()
            #expect(try await hub.registry.enroll(try own.request(code), credential: own.credential) == .enrolled(name: "insider"))
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func anExpiredOrUnknownCodeEnrollsNothing(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let now = try await hub.administration.now()
            let expired = try await hub.code(for: "late-laptop", expiresAt: now - 1)
            let device = EnrollingDevice()
            #expect(
                try await hub.registry.enroll(try device.request(expired), credential: device.credential) == .expired)
            #expect(
                try await hub.registry.enroll(
                    try device.request(EnrollmentCode.random()), credential: device.credential) == .unknownCode)
            #expect(
                try await hub.registry.enroll(try device.request("not a code"), credential: device.credential)
                    == .unknownCode)
            #expect(try await hub.administration.devices().isEmpty)
            #expect(try await hub.registry.device(presenting: device.credential) == nil)
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func concurrentEnrollmentsWithOneCodeEnrollOneDevice(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            // Four codes, eight devices racing for each through two registries (two hub processes):
            // a registry that reads a code unused without holding it lets two or three win a
            // round (without the row lock: 3 of 5 single rounds failed, and 3 of 3 runs of four rounds).
            var enrolled: [ReplicaID] = []
            for round in 0..<4 {
                let name = "shared-code-\(round)"
                let code = try await hub.code(for: name)
                let devices = (0..<8).map { _ in EnrollingDevice() }
                let registries = [hub.registry, hub.otherRegistry]
                let outcomes = try await withThrowingTaskGroup(of: (ReplicaID, EnrollmentOutcome).self) { group in
                    for (index, device) in devices.enumerated() {
                        let registry = registries[index % 2]
                        let request = try device.request(code)
                        group.addTask {
                            (device.replica, try await registry.enroll(request, credential: device.credential))
                        }
                    }
                    var all: [(ReplicaID, EnrollmentOutcome)] = []
                    for try await outcome in group { all.append(outcome) }
                    return all
                }
                let winners = outcomes.filter { $0.1 == .enrolled(name: name) }.map(\.0)
                #expect(winners.count == 1, "round \(round)")
                #expect(outcomes.filter { $0.1 == .used }.count == devices.count - 1, "round \(round)")
                enrolled += winners
            }
            #expect(Set(try await hub.administration.devices().map(\.replicaID)) == Set(enrolled))
            #expect(enrolled.count == 4)
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func anActiveNameTakesNoSecondCode(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            _ = try await hub.enrolled("amina-laptop")
            let hash = try #require(EnrollmentCode.hash(EnrollmentCode.random()))
            let now = try await hub.administration.now()
            #expect(
                try await !hub.administration.addEnrollmentCode(
                    hash: hash, deviceName: "amina-laptop", grants: .everything, expiresAt: now + 60_000, actor: "test")
            )
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func unusedCodesAreListedByTheirHashAndCancelled(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let now = try await hub.administration.now()
            let first = try await hub.code(for: "amina-laptop", grants: Self.regional)
            let jonas = try await hub.code(for: "jonas-box")
            let second = try await hub.code(for: "amina-laptop")
            _ = try await hub.code(for: "late-laptop", expiresAt: now - 1)
            let listed = try await hub.administration.unusedEnrollmentCodes()
            #expect(listed.map(\.deviceName).sorted() == ["amina-laptop", "amina-laptop", "jonas-box"])
            let firstPrefix = try Self.hashHex(first)
            let firstRecord = try #require(listed.first { firstPrefix.hasPrefix($0.hashPrefix) })
            #expect(firstRecord.hashPrefix.count == 12)
            #expect(firstRecord.deviceName == "amina-laptop")
            #expect(firstRecord.grants == Self.regional)
            // A used code is no longer listed.
            let device = EnrollingDevice()
            _ = try await hub.registry.enroll(try device.request(jonas), credential: device.credential)
            #expect(
                try await hub.administration.unusedEnrollmentCodes().map(\.deviceName) == [
                    "amina-laptop", "amina-laptop",
                ])
            // One code by the first digits of its hash; it enrolls nothing after.
            let byPrefix = try await hub.administration.cancelEnrollmentCodes(String(firstPrefix.prefix(8)))
            #expect(byPrefix == .cancelled([firstRecord]))
            let late = EnrollingDevice()
            #expect(try await hub.registry.enroll(try late.request(first), credential: late.credential) == .expired)
            // The rest of a name's codes by the name.
            guard case .cancelled(let byName) = try await hub.administration.cancelEnrollmentCodes("amina-laptop")
            else {
                Issue.record("amina-laptop's codes were not cancelled by name")
                return
            }
            #expect(byName.map(\.hashPrefix) == [String(try Self.hashHex(second).prefix(12))])
            #expect(try await hub.administration.cancelEnrollmentCodes("amina-laptop") == .notFound)
            #expect(try await hub.administration.cancelEnrollmentCodes("abcdef") == .notFound)
            #expect(try await hub.administration.unusedEnrollmentCodes().isEmpty)
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func revokingADeviceExpiresTheCodesLeftForItsName(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let first = try await hub.code(for: "amina-laptop")
            let second = try await hub.code(for: "amina-laptop")
            let amina = EnrollingDevice()
            #expect(
                try await hub.registry.enroll(try amina.request(first), credential: amina.credential)
                    == .enrolled(name: "amina-laptop"))
            _ = try await hub.administration.revokeDevice("amina-laptop", actor: "test")
            // Whoever holds the second code cannot enroll a new key under the revoked name.
            let thief = EnrollingDevice()
            #expect(try await hub.registry.enroll(try thief.request(second), credential: thief.credential) == .expired)
            #expect(try await hub.administration.unusedEnrollmentCodes().isEmpty)
        }
    }

    private static func hashHex(_ code: String) throws -> String {
        try #require(EnrollmentCode.hash(code)).map { String(format: "%02x", $0) }.joined()
    }

    // MARK: Credentials

    @Test(arguments: RegistryBackend.enabled)
    func aCredentialFindsItsDeviceAndNoOther(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let jonas = try await hub.enrolled("jonas-box")
            #expect(try await hub.registry.device(presenting: amina.credential)?.replicaID == amina.replica)
            #expect(try await hub.registry.device(presenting: jonas.credential)?.replicaID == jonas.replica)
            #expect(try await hub.otherRegistry.device(presenting: amina.credential)?.name == "amina-laptop")
            #expect(try await hub.registry.device(presenting: DeviceCredential.random()) == nil)
            let almost = try #require(DeviceCredential(String(amina.credential.text.dropLast()) + "A"))
            #expect(try await hub.registry.device(presenting: almost) == nil || almost == amina.credential)
        }
    }

    // MARK: Revocation

    @Test(arguments: RegistryBackend.enabled)
    func aRevokedDeviceStaysRevokedWithItsHorizon(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let jonas = try await hub.enrolled("jonas-box")
            try await hub.admit(try amina.versions(3))
            guard case .revoked(let record) = try await hub.administration.revokeDevice("amina-laptop", actor: "test")
            else {
                Issue.record("amina-laptop was not revoked")
                return
            }
            #expect(record.replicaID == amina.replica)
            #expect(record.status == .revoked)
            #expect(try await hub.registry.device(presenting: amina.credential)?.status == .revoked)
            #expect(try await hub.otherRegistry.device(presenting: amina.credential)?.status == .revoked)
            #expect(try await hub.registry.device(presenting: jonas.credential)?.status == .active)
            #expect(try await hub.registry.revocationHorizons() == [amina.replica: 3])
            #expect(try await hub.administration.revokeDevice("amina-laptop", actor: "test") == .notFound)
            // By replica id too; a device that never wrote has horizon 0.
            guard case .revoked = try await hub.administration.revokeDevice(jonas.replica.hex, actor: "test") else {
                Issue.record("jonas-box was not revoked by its replica id")
                return
            }
            #expect(try await hub.registry.revocationHorizons() == [amina.replica: 3, jonas.replica: 0])
            // Versions written before revocation stay verifiable.
            #expect(try await hub.registry.keys(of: [amina.replica]) == [amina.replica: amina.key.publicKey])
            let statuses = try await hub.administration.devices().map(\.status)
            #expect(statuses == [.revoked, .revoked])
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func revocationNoticesVerifyAgainstTheHubKey(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            try await hub.admit(try amina.versions(2))
            #expect(try await hub.registry.revocationNotices().isEmpty)
            _ = try await hub.administration.revokeDevice("amina-laptop", actor: "test")
            let notices = try await hub.registry.revocationNotices()
            let notice = try #require(notices.first)
            #expect(notices.count == 1)
            #expect(notice.hub == hub.hubID)
            #expect(notice.replica == amina.replica)
            #expect(notice.horizon == 2)
            #expect(notice.isSigned(by: hub.hubKey))
            #expect(!notice.isSigned(by: amina.key.publicKey))
            #expect(notice.refuses(Dot(replica: amina.replica, counter: 3)))
            #expect(!notice.refuses(Dot(replica: amina.replica, counter: 2)))
            var forged = notice
            forged.horizon = 1_000
            #expect(!forged.isSigned(by: hub.hubKey))
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aDeviceRevokedAfterAForkRevokesEveryIncarnation(_ backend: RegistryBackend) async throws {
        try await Self.revokedAfterAFork(backend)
    }

    /// Replays a review's finding: a seized device asks for new incarnations without end (the
    /// only bound was its own client's). Each multiplied its hourly audit and quarantine limits,
    /// and grew what every exchange reads of devices and every push of revocations. The hub binds
    /// at most 64 to a device.
    @Test(arguments: RegistryBackend.enabled)
    func aDeviceTakesAtMostSixtyFourIncarnations(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let record = try #require(try await hub.registry.device(presenting: amina.credential))
            for index in 1...IncarnationRequest.maxIncarnationsPerDevice {
                guard case .bound = try await hub.registry.incarnate(record, as: ReplicaID.random(), forkedAt: nil) else {
                    Issue.record("incarnation \(index) was not bound")
                    return
                }
            }
            let beyond = try await hub.registry.incarnate(record, as: ReplicaID.random(), forkedAt: nil)
            #expect(beyond == .tooMany(limit: IncarnationRequest.maxIncarnationsPerDevice))
            #expect(try await hub.registry.device(presenting: amina.credential)?.incarnations.count == 64)
        }
    }

    private static func revokedAfterAFork(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            try await hub.admit(try amina.versions(4))
            let record = try #require(try await hub.registry.device(presenting: amina.credential))
            let next = ReplicaID.random()
            let outcome = try await hub.registry.incarnate(
                record, as: next, forkedAt: Dot(replica: amina.replica, counter: 4))
            #expect(outcome == .bound(name: "amina-laptop", incarnations: [amina.replica, next]))
            // Binding it again is a no-op; an id already written under is taken.
            #expect(try await hub.registry.incarnate(record, as: next, forkedAt: nil) == outcome)
            #expect(try await hub.registry.incarnate(record, as: hub.hubID, forkedAt: nil) == .taken)
            #expect(try await hub.registry.incarnate(record, as: amina.replica, forkedAt: nil) == .taken)
            #expect(try await hub.registry.keys(of: [next]) == [next: amina.key.publicKey])
            #expect(try await hub.registry.device(presenting: amina.credential)?.incarnations == [next])
            _ = try await hub.administration.revokeDevice("amina-laptop", actor: "test")
            #expect(try await hub.registry.revocationHorizons() == [amina.replica: 4, next: 0])
            #expect(try await hub.registry.incarnate(record, as: ReplicaID.random(), forkedAt: nil) == .unknownDevice)
        }
    }

    /// What a push reads of its origins in one round trip on PostgreSQL is what the three
    /// questions answer apart: a revoked device and its incarnation, an active device with narrow
    /// grants, one of the hub's writer ids, the hub itself and an id nobody holds.
    @Test(arguments: RegistryBackend.enabled)
    func pushOriginsAnswerWhatKeysGrantsAndHorizonsAnswer(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let jonas = try await hub.enrolled("jonas-box", grants: Self.regional)
            try await hub.admit(try amina.versions(2))
            let record = try #require(try await hub.registry.device(presenting: amina.credential))
            let next = ReplicaID.random()
            _ = try await hub.registry.incarnate(record, as: next, forkedAt: nil)
            _ = try await hub.administration.revokeDevice("amina-laptop", actor: "test")
            let writer = ReplicaID.random()
            try await hub.registry.recordHubWriters([writer])
            let origins: Set = [amina.replica, next, jonas.replica, writer, hub.hubID, ReplicaID.random()]
            for registry in [hub.registry, hub.otherRegistry] {
                let read = try await registry.pushOrigins(of: origins)
                #expect(read.horizons == [amina.replica: 2, next: 0])
                #expect(read.horizons == (try await registry.revocationHorizons()))
                #expect(read.keys == (try await registry.keys(of: origins)))
                #expect(read.keys[next] == amina.key.publicKey)
                #expect(read.keys[writer] == hub.hubKey)
                #expect(read.grants == (try await registry.grants(of: origins)))
                #expect(read.grants[jonas.replica] == Self.regional)
                #expect(try await registry.pushOrigins(of: []).keys.isEmpty)
            }
        }
    }

    // MARK: Keys and certificates

    @Test(arguments: RegistryBackend.enabled)
    func certificatesVerifyAgainstTheHubKeyAndNameTheEnrolledKey(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let stranger = ReplicaID.random()
            let certificates = try await hub.registry.certificates(of: [amina.replica, hub.hubID, stranger])
            #expect(Set(certificates.map(\.replica)) == [amina.replica, hub.hubID])
            for certificate in certificates {
                #expect(certificate.hub == hub.hubID)
                #expect(certificate.isSigned(by: hub.hubKey))
                #expect(!certificate.isSigned(by: amina.key.publicKey))
            }
            let device = try #require(certificates.first { $0.replica == amina.replica })
            #expect(device.publicKey == amina.key.publicKey)
            #expect(device.name == "amina-laptop")
            #expect(certificates.first { $0.replica == hub.hubID }?.publicKey == hub.hubKey)
            var forged = device
            forged.publicKey = EnrollingDevice().key.publicKey
            #expect(!forged.isSigned(by: hub.hubKey))
            #expect(
                try await hub.registry.keys(of: [amina.replica, hub.hubID, stranger]) == [
                    amina.replica: amina.key.publicKey, hub.hubID: hub.hubKey,
                ])
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func hubWriterIdsHaveTheHubKey(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let writer = ReplicaID.random()
            #expect(try await hub.registry.keys(of: [writer]).isEmpty)
            try await hub.registry.recordHubWriters([writer])
            try await hub.otherRegistry.recordHubWriters([writer])
            #expect(try await hub.registry.keys(of: [writer]) == [writer: hub.hubKey])
            let certificate = try #require(try await hub.otherRegistry.certificates(of: [writer]).first)
            #expect(certificate.publicKey == hub.hubKey)
            #expect(certificate.isSigned(by: hub.hubKey))
        }
    }

    // MARK: Grants

    @Test(arguments: RegistryBackend.enabled)
    func grantsByOriginAndByFingerprint(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop", grants: Self.regional)
            let jonas = try await hub.enrolled("jonas-box")
            #expect(
                try await hub.registry.grants(of: [amina.replica, jonas.replica, ReplicaID.random()]) == [
                    amina.replica: Self.regional, jonas.replica: .everything,
                ])
            #expect(try await hub.registry.grants(fingerprint: Self.regional.fingerprint) == Self.regional)
            #expect(try await hub.registry.grants(fingerprint: AccessGrants.everything.fingerprint) == .everything)
            let narrowed = try #require(Scope(text: "observations/SD-DN"))
            let outcome = try await hub.administration.setGrants(
                read: narrowed, write: nil, ofDevice: "amina-laptop", actor: "test")
            let changed = AccessGrants(read: narrowed, write: Self.regional.write)
            guard case .changed(let record, let previous) = outcome else {
                Issue.record("amina-laptop's grants did not change: \(outcome)")
                return
            }
            #expect(previous == Self.regional)
            #expect(record.grants == changed)
            #expect(try await hub.otherRegistry.grants(of: [amina.replica]) == [amina.replica: changed])
            // A checkpoint made under either set still reads back as what it granted.
            #expect(try await hub.registry.grants(fingerprint: changed.fingerprint) == changed)
            #expect(try await hub.registry.grants(fingerprint: Self.regional.fingerprint) == Self.regional)
            let never = AccessGrants(read: .nothing, write: narrowed)
            #expect(try await hub.registry.grants(fingerprint: never.fingerprint) == nil)
            #expect(
                try await hub.administration.setGrants(read: narrowed, write: nil, ofDevice: "nobody", actor: "test")
                    == .notFound)
            #expect(try await hub.administration.devices().first { $0.name == "amina-laptop" }?.grants == changed)
        }
    }

    // MARK: Exchanges

    @Test(arguments: RegistryBackend.enabled)
    func anExchangeShowsInTheDeviceList(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            #expect(try await hub.administration.devices().first?.lastSeenAt == nil)
            try await hub.admit(try EnrollingDevice().versions(5))
            try await hub.registry.recordExchange(of: amina.replica, pulledAfter: 2, skewMilliseconds: -40, pending: 7)
            let seen = try #require(try await hub.administration.devices().first)
            #expect(seen.lastSeenAt != nil)
            #expect(seen.lastLag == 3)
            #expect(seen.lastSkewMilliseconds == -40)
            #expect(seen.lastPending == 7)
            // What a later exchange does not say is kept.
            try await hub.otherRegistry.recordExchange(
                of: amina.replica, pulledAfter: 5, skewMilliseconds: nil, pending: nil)
            let later = try #require(try await hub.administration.devices().first)
            #expect(later.lastLag == 0)
            #expect(later.lastSkewMilliseconds == -40)
            #expect(later.lastPending == 7)
        }
    }

    // MARK: Verification reports and media

    @Test(arguments: RegistryBackend.enabled)
    func onlyReportsOfVersionsServedToTheDeviceAreTaken(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let amina = try await hub.enrolled("amina-laptop")
            let jonas = try await hub.enrolled("jonas-box")
            try await hub.admit(try jonas.versions(2))
            try await hub.admit(try amina.versions(1))
            let reports = [
                VerificationReport(dot: Dot(replica: jonas.replica, counter: 1), reason: .badSignature),
                VerificationReport(dot: Dot(replica: jonas.replica, counter: 2), reason: .unknownKey),
                // Its own version, one the hub does not hold, and a stranger's: never served to it.
                VerificationReport(dot: Dot(replica: amina.replica, counter: 1), reason: .badSignature),
                VerificationReport(dot: Dot(replica: jonas.replica, counter: 9), reason: .badSignature),
                VerificationReport(dot: Dot(replica: ReplicaID.random(), counter: 1), reason: .revoked),
            ]
            let outcome = try await hub.registry.recordVerificationReports(reports, reportedBy: amina.replica)
            #expect(outcome == VerificationReportOutcome(accepted: 2, ignored: 3))
            // A later incarnation of amina's reporting amina's own version: still its own.
            let record = try #require(try await hub.registry.device(presenting: amina.credential))
            let next = ReplicaID.random()
            _ = try await hub.registry.incarnate(record, as: next, forkedAt: nil)
            let again = try await hub.otherRegistry.recordVerificationReports(
                [VerificationReport(dot: Dot(replica: amina.replica, counter: 1), reason: .badSignature)],
                reportedBy: next)
            #expect(again == VerificationReportOutcome(accepted: 0, ignored: 1))
            #expect(
                try await hub.registry.recordVerificationReports([], reportedBy: amina.replica)
                    == VerificationReportOutcome(accepted: 0, ignored: 0))
        }
    }

    @Test(arguments: RegistryBackend.enabled)
    func aMediaPolicyComesFromTheCodeUntilTheDeviceHasItsOwn(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let code = try await hub.code(for: "amina-laptop")
            try await hub.administration.setMediaPolicy(.all, ofCode: try #require(EnrollmentCode.hash(code)))
            let amina = EnrollingDevice()
            #expect(
                try await hub.registry.enroll(try amina.request(code), credential: amina.credential)
                    == .enrolled(name: "amina-laptop"))
            let jonas = try await hub.enrolled("jonas-box")
            #expect(try await hub.administration.mediaPolicy(of: amina.replica) == .all)
            #expect(try await hub.administration.mediaPolicy(of: jonas.replica) == nil)
            #expect(try await hub.administration.setMediaPolicy(.none, of: amina.replica))
            #expect(try await hub.administration.mediaPolicy(of: amina.replica) == MediaPolicy.none)
            let stranger = ReplicaID.random()
            #expect(try await !hub.administration.setMediaPolicy(.all, of: stranger))
            #expect(try await hub.administration.mediaPolicy(of: stranger) == nil)
        }
    }
}
