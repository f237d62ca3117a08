import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The console's fleet page as each backend reads it (`DeviceAdministrationStorage.fleetPage`):
/// devices by name byte by byte, then enrollment time, a page at a time, with what the hub set
/// aside of each one's pushes counted as the SQLite hub counts it. On PostgreSQL the console showed
/// "—" for both counts and read every device to cut one page.
@Suite("The fleet page, SQLite and PostgreSQL")
struct FleetPageConformanceTests {
    private static let fieldScope = Scope(text: "observations/SD-DN") ?? .nothing

    /// Schedule (issue 12, "Two backends"): devices named `Zulu`, `alpha`, `bravo` and `charlie`
    /// (revoked, then enrolled again under its name: two rows). alpha pushes two versions outside
    /// its write scope and one invalid record (rejected), one with a bad signature and another
    /// origin's dot with a forged signature (quarantined), and its later incarnation pushes one
    /// more outside the scope; bravo pushes one forged version; the others nothing. Pages of two
    /// hold Zulu and alpha (upper case first, whatever the database's collation), bravo and the
    /// first charlie, then the second charlie; each page carries the counts of its own devices.
    @Test(arguments: RegistryBackend.enabled)
    func devicesArePagedByNameBytesWithWhatWasSetAside(_ backend: RegistryBackend) async throws {
        try await RegistryUnderTest.with(backend) { hub in
            let writes = AccessGrants(read: .everything, write: Self.fieldScope)
            let zulu = try await hub.enrolled("Zulu")
            let alpha = try await hub.enrolled("alpha", grants: writes)
            let bravo = try await hub.enrolled("bravo")
            let charlie = try await hub.enrolled("charlie")
            #expect(try await hub.administration.revokeDevice("charlie", actor: "test") != .notFound)
            try await Task.sleep(for: .milliseconds(5))
            let charlieAgain = try await hub.enrolled("charlie")

            let inside = try PushFixtures.version(alpha.replica, 1)
            let outside = try (2...3).map { try PushFixtures.version(alpha.replica, $0, partition: "SD-KH") }
            let invalid = try PushFixtures.version(alpha.replica, 4)
            let unsigned = try PushFixtures.version(alpha.replica, 5)
            let policy = AdmissionPolicy(
                badSignatures: [unsigned.dot: SetAsideReason(.badSignature, "its signature does not verify")],
                recordProblems: [invalid.dot: SetAsideReason(.invalidRecord, "no title")],
                writeScopes: [alpha.replica: Self.fieldScope])
            let forged = (try PushFixtures.version(.random(), 1), SetAsideReason(.badSignature, "forged"))
            let pushed = try await hub.storage.take(
                PushPlan(
                    versions: [inside] + outside + [invalid, unsigned], pusher: alpha.replica, policy: policy,
                    forged: [forged]))
            #expect(pushed.applied.setAside.count == 4)
            let record = try #require(try await hub.registry.device(presenting: alpha.credential))
            let fork = ReplicaID.random()
            _ = try await hub.registry.incarnate(record, as: fork, forkedAt: nil)
            _ = try await hub.storage.take(
                PushPlan(
                    versions: [try PushFixtures.version(fork, 1, partition: "SD-KH")], pusher: fork,
                    policy: AdmissionPolicy(writeScopes: [fork: Self.fieldScope]), forged: []))
            _ = try await hub.storage.take(
                PushPlan(
                    versions: [], pusher: bravo.replica, policy: .inOrder,
                    forged: [(try PushFixtures.version(.random(), 1), SetAsideReason(.badSignature, "forged"))]))

            let first = try await hub.administration.fleetPage(after: nil, limit: 2)
            #expect(first.devices.map(\.replicaID) == [zulu.replica, alpha.replica])
            #expect(first.more)
            #expect(first.devices[1].incarnations == [fork])
            #expect(first.setAside == [alpha.replica: SetAsideCounts(rejected: 4, quarantined: 2)])
            let last = try #require(first.devices.last)
            let second = try await hub.administration.fleetPage(after: (last.name, last.enrolledAt), limit: 2)
            #expect(second.devices.map(\.replicaID) == [bravo.replica, charlie.replica])
            #expect(second.devices.map(\.status) == [.active, .revoked])
            #expect(second.more)
            #expect(second.setAside == [bravo.replica: SetAsideCounts(rejected: 0, quarantined: 1)])
            let end = try #require(second.devices.last)
            let third = try await hub.administration.fleetPage(after: (end.name, end.enrolledAt), limit: 2)
            #expect(third.devices.map(\.replicaID) == [charlieAgain.replica])
            #expect(!third.more)
            #expect(third.setAside.isEmpty)
            #expect(try await hub.administration.fleetPage(after: (end.name, .max), limit: 2).devices.isEmpty)
        }
    }
}
