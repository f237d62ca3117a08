import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The fleet page's columns: the versions of each device the hub rejected and quarantined, and
/// devices not seen for long.
@Suite("Console fleet")
struct ConsoleFleetTests {
    static let notes = CollectionName("notes")!

    /// Enrolls `replica` on the hub store `hub` under `name` (by code, as `fieldcli enroll` does).
    static func enroll(_ replica: ReplicaStore, on hub: ReplicaStore, name: String) throws -> DeviceRecord {
        let code = Data("\(name)-code".utf8)
        _ = try hub.addEnrollmentCode(hash: code, deviceName: name, expiresAt: hub.now() + 60_000)
        let outcome = try hub.enrollDevice(
            codeHash: code, replica: replica.replicaID, publicKey: replica.publicKey, credentialHash: Data("\(name)-credential".utf8))
        #expect(outcome == .enrolled(name: name))
        return try #require(try hub.devices().first { $0.replicaID == replica.replicaID })
    }

    static func note(_ replica: ReplicaStore, _ id: String) throws -> Version {
        try replica.write(WriteIntent(key: DocumentKey(collection: notes, id: DocumentID(id)!), body: Data(#"{"title":"x"}"#.utf8)))
    }

    /// Set aside for scope or record: rejected; for its signature, or a forged foreign version
    /// (or one of implausible context) kept apart: quarantined; counted for the device that pushed them, not for another.
    @Test func setAsideVersionsAreCountedPerPusherAndKind() async throws {
        try await TemporaryReplica.withHubAndReplicas(3) { stores in
            let (hub, a, b) = (stores[0], stores[1], stores[2])
            let (deviceA, deviceB) = (try Self.enroll(a, on: hub, name: "a"), try Self.enroll(b, on: hub, name: "b"))
            let reasons = [
                SetAsideReason(.outOfScope, "out of scope: replica a may not write notes"),
                SetAsideReason(.invalidRecord, "invalid record: title is missing"),
                SetAsideReason(.badSignature, "bad signature: it does not verify"),
            ]
            let versions = try (0..<4).map { try Self.note(a, "n\($0)") }
            let admitted = Dictionary(uniqueKeysWithValues: zip(versions.map(\.dot), reasons))
            try hub.apply(versions, from: a.replicaID) { version, _ in admitted[version.dot].map { .setAside($0) } ?? .merge }
            let forged = try Self.note(b, "forged")
            try hub.quarantineForeign([(forged, SetAsideReason(.badSignature, "bad signature: not b's key"))], pushedBy: a.replicaID, limit: 0)
            try hub.apply([try Self.note(b, "fine")], from: b.replicaID)
            let counts = try hub.setAsideCounts(of: [deviceA, deviceB])
            #expect(counts[a.replicaID] == SetAsideCounts(rejected: 2, quarantined: 2))
            #expect(counts[b.replicaID] == nil, "b's own version was merged, and what a pushed in its name is a's")
            #expect(try hub.setAsideCounts(of: []).isEmpty)
        }
    }

    /// A device writes outside its write scope: its next sync has the version rejected, and the
    /// fleet page shows it in the device's row. A device not seen for more than 7 days is
    /// highlighted, one seen today is not.
    @Test func theFleetPageShowsRejectedVersionsAndStaleDevices() async throws {
        let start: UInt64 = 1_800_000_000_000
        let clock = PinnedClock(start)
        try await ConsoleHub.with(clock: clock) { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let (syncA, syncB) = (
                try await ConsoleResolutionTests.device(a, hub, name: "amina-laptop"),
                try await ConsoleResolutionTests.device(b, hub, name: "bola-phone")
            )
            _ = try hub.store.setGrants(read: nil, write: Scope(text: "none"), ofDevice: "amina-laptop")
            _ = try Self.note(a, "n1")
            try await syncA.run()
            try await syncB.run()
            clock.set(start + 8 * 86_400_000)
            try await syncB.run()
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .viewer)
            let page = try await browser.get("/console/fleet")
            #expect(page.status == 200)
            let rowA = try #require(Self.row(of: "amina-laptop", in: page.body))
            let rowB = try #require(Self.row(of: "bola-phone", in: page.body))
            #expect(rowA.contains("<td><strong class=\"count\">1</strong></td><td>0</td>"), "one rejected, none quarantined: \(rowA)")
            #expect(rowB.contains("<td>0</td><td>0</td>"))
            #expect(rowA.hasPrefix("<tr class=\"stale\">") && rowB.hasPrefix("<tr>"), "a was last seen 8 days ago, b just now")
        }
    }

    /// The table row of the device called `name`.
    static func row(of name: String, in body: String) -> String? {
        body.components(separatedBy: "</tr>").first { $0.contains("<td>\(name)<br>") }
            .flatMap { row in row.range(of: "<tr").map { String(row[$0.lowerBound...]) } }
    }
}
