import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Testing
import TestSupport

/// A peer is its replica id, not the address used to reach it (design.md, Trust): the same hub
/// under another address costs a no-op sync, another hub under an old address is refused.
@Suite("One hub, many addresses")
struct HubAddressTests {
    static let collection = CollectionName("notes")!

    static func synchronizer(_ store: ReplicaStore, hub url: URL, peer: URL? = nil, token: String) -> Synchronizer {
        Synchronizer(
            store: store, transport: HTTPSyncTransport(configuration: .init(hub: url, token: token, timeoutSeconds: 30)),
            peer: HubCredentials.peerName(for: peer ?? url), configuration: .init(retry: .never), logger: silentLogger)
    }

    static func write(_ store: ReplicaStore, _ count: Int, prefix: String) throws {
        for index in 0..<count {
            let key = DocumentKey(collection: collection, id: DocumentID("\(prefix)-\(index)")!)
            try store.write(WriteIntent(key: key, body: Data(#"{"index":\#(index)}"#.utf8)))
        }
    }

    /// Replays a review's finding: enrolling, the credential file cannot be written (here a folder
    /// stands at its path). Before, the hub's key was pinned in the replica first and the
    /// credential then lost: the replica said it trusted a hub it had no credential for, and
    /// enrolling again said "already enrolled". Now nothing of the replica changes, and the
    /// failure names the file and the system's reason.
    @Test("an enrollment whose credential file cannot be written leaves the replica as it was")
    func enrollmentWithoutItsCredentialFileChangesNothing() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(1) { replicas in
                let device = replicas[0]
                let credential = HubCredentials.credentialPath(forReplicaAt: device.path)
                try FileManager.default.createDirectory(atPath: credential, withIntermediateDirectories: false)
                let error = await #expect(throws: StoreError.self) {
                    _ = try await DeviceEnrollment.enroll(device, hub: hub.url, code: hub.enrollmentCode(name: "device"))
                }
                #expect(error?.message.contains(credential) == true, "\(error?.message ?? "")")
                #expect(try device.trustedHubs().isEmpty, "no hub pinned without its credential")
            }
        }
    }

    /// Replays the field complaint of issue 13: a device synced with its hub at 127.0.0.1 reaches
    /// the same hub as `localhost` (a name instead of an IP). Before the fix the new address was a
    /// new peer: the device pushed all of its own versions again and pulled everything the hub held.
    @Test("the same hub under another address costs what a no-op sync costs: one request, nothing moved")
    func sameHubUnderAnotherAddress() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (device, other) = (replicas[0], replicas[1])
                // Enrolled as `fieldcli enroll` does: the hub's id and key are pinned then.
                let token = try await DeviceEnrollment.enroll(device, hub: hub.url, code: hub.enrollmentCode(name: "device")).credential
                let otherToken = try await hub.enroll(other)
                try Self.write(other, 30, prefix: "other")
                try await Self.synchronizer(other, hub: hub.url, token: otherToken).run()
                try Self.write(device, 20, prefix: "own")

                let byIP = try #require(URL(string: "http://127.0.0.1:\(hub.port)"))
                let first = try await Self.synchronizer(device, hub: byIP, token: token).run()
                #expect(first.versionsPushed == 20)
                #expect(first.versionsPulled == 30)
                #expect(try device.trustedHubs().count == 1, "the hub's id and key are pinned")

                let byName = try #require(URL(string: "http://localhost:\(hub.port)"))
                let second = try await Self.synchronizer(device, hub: byName, token: token).run()
                #expect(second.versionsPushed == 0)
                #expect(second.versionsPulled == 0)
                #expect(second.roundTrips == 1)
                #expect(second.bytesSent + second.bytesReceived < 2_048, "\(second.bytesSent) + \(second.bytesReceived) bytes")

                // The hub's state is kept under the address that reaches it now, once.
                #expect(try device.peerStates().map(\.peer) == [HubCredentials.peerName(for: byName)])
                #expect(try HubCredentials.savedHub(in: device) == HubCredentials.peerName(for: byName))
                let back = try await Self.synchronizer(device, hub: byIP, token: token).run()
                #expect(back.isQuiet && back.roundTrips == 1)
            }
        }
    }

    /// Replays an address that now leads to another hub (a reassigned IP, a hostile DNS answer):
    /// the device's state for its hub must not be applied to, or changed by, the other hub's answer.
    @Test("another hub under an old address is refused with exit code 81 and the replica stays as it was")
    func anotherHubUnderAnOldAddress() async throws {
        try await HubFixture.withHub { hub in
            try await HubFixture.withHub { stranger in
                try await TemporaryReplica.withReplica { device in
                    let token = try await DeviceEnrollment.enroll(device, hub: hub.url, code: hub.enrollmentCode(name: "device")).credential
                    #expect(try device.trustedHubs().count == 1, "the hub's id and key are pinned at enrollment")
                    try Self.write(device, 5, prefix: "own")
                    try await Self.synchronizer(device, hub: hub.url, token: token).run()
                    let before = try device.peerState(HubCredentials.peerName(for: hub.url))
                    let held = try device.status()

                    // The old address, reaching another hub that knows this device.
                    let strangerToken = try await stranger.enroll(device)
                    let error = await #expect(throws: SyncClientError.self) {
                        try await Self.synchronizer(device, hub: stranger.url, peer: hub.url, token: strangerToken).run()
                    }
                    #expect(error?.code == .untrustedHub)
                    let after = try device.peerState(HubCredentials.peerName(for: hub.url))
                    #expect(after.knowledge == before.knowledge)
                    #expect(after.checkpoint == before.checkpoint)
                    #expect(after.lastSyncAt == before.lastSyncAt)
                    #expect(try device.status() == held)
                    #expect(try device.trustedHubs().count == 1)

                    // The command line says so with its own exit code, and keeps the hub's state where it was.
                    let code = await ClientCommandTests.exitCode([
                        "--db", device.path, "--hub", stranger.url.absoluteString, "--token", strangerToken, "--json",
                    ])
                    #expect(code == 81)
                    #expect(try device.peerStates().map(\.peer) == [HubCredentials.peerName(for: hub.url)])
                    #expect(try device.status() == held)
                }
            }
        }
    }
}
