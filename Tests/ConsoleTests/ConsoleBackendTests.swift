import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import Records
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The console on either backend: the audit page's filters and pages and the fleet's pages read
/// through the backend's own seams, a resolver's key pair made at setup, the pages over document
/// states served on both, and answering that they are not served by a backend without them.
@Suite("Console backends")
struct ConsoleBackendTests {
    /// With pages of 5, seven failed logins of one name among other entries take two pages of the
    /// audit page filtered by action, and the chain verifies.
    @Test(arguments: ConsoleBackend.enabled)
    func theAuditPageIsFilteredAndPaged(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            for index in 0..<7 {
                try await hub.operators.auditFailedLogin(name: "ghost-\(index)", address: "192.0.2.\(index)", factor: nil)
                try await hub.auditLog.append([AuditEvent(actor: "hub", action: .codeIssued, subject: "noise-\(index)")])
            }
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let first = try await browser.get("/console/audit?action=operator.login-failed")
            #expect(first.status == 200)
            #expect(Self.subjects(in: first.body) == (2...6).reversed().map { "ghost-\($0)" }, "newest first")
            let next = try #require(ConsoleBrowser.Answer.href(rel: "next", in: first.body))
            let second = try await browser.get(next.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(Self.subjects(in: second.body) == ["ghost-1", "ghost-0"])
            #expect(ConsoleBrowser.Answer.href(rel: "next", in: second.body) == nil)
            let byActor = try await browser.get("/console/audit?actor=operator%3Aviv")
            #expect(Self.subjects(in: byActor.body) == ["viv", "viv"], "the password set and the login")
            let verified = try await browser.get("/console/audit?verify=1")
            #expect(verified.body.contains("Chain intact"))
        }
    }

    /// With pages of 5, seven devices take two pages of the fleet, by name.
    @Test(arguments: ConsoleBackend.enabled)
    func theFleetIsPagedByName(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let administration = DeviceAdministration(storage: hub.administration)
            for index in 0..<7 {
                let replica = try folder.create("d\(index)")
                let code = try await administration.addDevice(name: "device-\(index)", lifetime: .seconds(600)).code
                _ = try await hub.exchange.enroll(try replica.enrollmentRequest(code: code), logger: HubFixture.silentLogger)
            }
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let first = try await browser.get("/console/fleet")
            #expect((0..<5).allSatisfy { ConsoleFleetTests.row(of: "device-\($0)", in: first.body) != nil })
            #expect(ConsoleFleetTests.row(of: "device-5", in: first.body) == nil)
            let next = try #require(ConsoleBrowser.Answer.href(rel: "next", in: first.body))
            let second = try await browser.get(next.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(ConsoleFleetTests.row(of: "device-5", in: second.body) != nil && ConsoleFleetTests.row(of: "device-6", in: second.body) != nil)
            #expect(ConsoleFleetTests.row(of: "device-4", in: second.body) == nil)
            #expect(ConsoleBrowser.Answer.href(rel: "next", in: second.body) == nil)
        }
    }

    /// A resolver who sets their password gets a key pair (so the informant key can be sealed to
    /// them); a viewer does not. Logging in seals a key held to those still without it.
    @Test(arguments: ConsoleBackend.enabled)
    func aResolversKeyPairIsMadeAtSetupAndTheKeyIsSealedAtLogin(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await ConsoleSecurityTests.addOperator(hub, "rafael", role: .resolver)
            try await ConsoleSecurityTests.addOperator(hub, "viv", role: .viewer)
            #expect(try await hub.operators.operatorKey(name: "rafael") != nil)
            #expect(try await hub.operators.operatorKey(name: "viv") == nil)
            let informant = InformantPrivateKey()
            #expect(try await hub.operators.createInformantKey(informant, keyFileWritten: true).granted == ["rafael"])
            try await ConsoleSecurityTests.addOperator(hub, "sara", role: .admin)
            #expect(try await hub.operators.operatorKey(name: "sara")?.sealedInformantKey == nil, "not granted yet")
            let browser = ConsoleBrowser(base: hub.url)
            #expect(try await browser.logIn("rafael", ConsoleSecurityTests.password).status == 303)
            #expect(try await hub.operators.operatorKey(name: "sara")?.sealedInformantKey != nil, "rafael's login sealed it to sara")
            let granted = try await hub.auditEntries().filter { $0.action == .informantKeyGranted }
            #expect(granted.map(\.subject) == ["rafael", "sara"] && granted.last?.actor == "operator:rafael")
        }
    }

    /// Every page over document states answers on both backends, and a login leads to the conflicts.
    @Test(arguments: ConsoleBackend.enabled)
    func thePagesOverDocumentStatesAreServed(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await ConsoleSecurityTests.makeConflict(hub)
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .admin)
            let home = try await browser.get("/console")
            #expect(home.status == 303 && home.location == "/console/conflicts")
            for path in [
                "/console/conflicts", "/console/conflicts/notes/n1", "/console/observations", "/console/observations.csv",
                "/console/observations.geojson", "/console/observations/map", "/console/warnings",
            ] {
                let page = try await browser.get(path)
                #expect(page.status == 200, "\(path): \(page.status)")
            }
        }
    }

    /// A backend that keeps no document states (here PostgreSQL without them) answers the pages
    /// over them (records, conflicts, the map, a resolution) 501 with one sentence, and logging in
    /// leads to the fleet.
    @Test(.enabled(if: ConsoleBackend.isPostgresEnabled))
    func withoutDocumentStatesThePagesOverThemSayTheyAreNotServed() async throws {
        try await ConsoleHub.with(.postgres, documentStates: false) { hub in
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .admin)
            let home = try await browser.get("/console")
            #expect(home.status == 303 && home.location == "/console/fleet")
            for path in [
                "/console/conflicts", "/console/conflicts/notes/n1", "/console/observations", "/console/observations.csv",
                "/console/observations.geojson", "/console/observations/map", "/console/warnings",
            ] {
                let page = try await browser.get(path)
                #expect(page.status == 501, "\(path): \(page.status)")
                #expect(page.body.contains("does not keep the records"), "\(path)")
            }
            let fleet = try await browser.get("/console/fleet")
            let resolve = try await browser.post(
                "/console/conflicts/notes/n1/resolve", [("csrf", fleet.csrf ?? ""), ("reason", "checked"), ("keep", "0")])
            #expect(resolve.status == 501)
        }
    }

    /// The subjects of the audit page's rows, top to bottom.
    static func subjects(in body: String) -> [String] {
        body.components(separatedBy: "<tr><td>").dropFirst().compactMap { row in
            let cells = row.components(separatedBy: "</td><td>")
            return cells.count > 4 ? cells[4] : nil
        }
    }
}
