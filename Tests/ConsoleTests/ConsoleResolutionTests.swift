import Foundation
import HubConsole
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Resolutions and fleet actions made in the console reach devices like any other version.
@Suite("Console resolution")
struct ConsoleResolutionTests {
    static let notes = CollectionName("notes")!

    /// Enrolls `replica` at the console hub and returns a synchronizer for it.
    static func device(_ replica: ReplicaStore, _ hub: ConsoleHub, name: String) async throws -> Synchronizer {
        let code = try await DeviceAdministration(storage: hub.administration).addDevice(name: name, lifetime: .seconds(600)).code
        let credential = try await hub.exchange.enroll(try replica.enrollmentRequest(code: code), logger: HubFixture.silentLogger).credential
        let url = try #require(URL(string: hub.url))
        return Synchronizer(
            store: replica, transport: HTTPSyncTransport(configuration: .init(hub: url, token: credential, timeoutSeconds: 30)),
            peer: HubCredentials.peerName(for: url), configuration: .init(retry: .never), logger: HubFixture.silentLogger)
    }

    /// Two devices edit one note offline; a resolver merges it field by field in the console with
    /// a reason; both devices sync and hold the resolution, signed under the hub's writer id, and
    /// the audit log names the operator.
    @Test(arguments: ConsoleBackend.enabled)
    func aResolutionIsWrittenByTheHubAndPulledByDevices(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let (a, b) = (try folder.create("a"), try folder.create("b"))
            let (syncA, syncB) = (try await Self.device(a, hub, name: "amina-laptop"), try await Self.device(b, hub, name: "bola-laptop"))
            let key = DocumentKey(collection: Self.notes, id: DocumentID("n1")!)
            try a.write(WriteIntent(key: key, body: Data(#"{"title":"bridge","level":"low","road":"open"}"#.utf8)))
            try await syncA.run()
            try await syncB.run()
            try a.write(WriteIntent(key: key, body: Data(#"{"title":"bridge","level":"high","road":"open"}"#.utf8)))
            try b.write(WriteIntent(key: key, body: Data(#"{"title":"bridge","level":"low","road":"closed"}"#.utf8)))
            try await syncA.run()
            try await syncB.run()
            #expect(try await hub.documents.document(key)?.siblings.count == 2)

            let browser = try await ConsoleSecurityTests.loggedIn(hub, "rafael", role: .resolver)
            let list = try await browser.get("/console/conflicts?collection=notes")
            #expect(list.body.contains("/console/conflicts/notes/n1"))
            let page = try await browser.get("/console/conflicts/notes/n1")
            #expect(page.body.contains("amina-laptop") && page.body.contains("bola-laptop"), "each version names its author device")
            let siblings = try #require(ConsoleBrowser.Answer.value(of: "siblings", in: page.body))
            let dots = try #require(try await hub.documents.document(key)).siblings.map(\.dot)
            let fromA = try #require(dots.firstIndex { $0.replica == a.replicaID })
            let fromB = try #require(dots.firstIndex { $0.replica == b.replicaID })
            let answer = try await browser.post(
                "/console/conflicts/notes/n1/resolve",
                [("csrf", page.csrf ?? ""), ("siblings", siblings), ("reason", "level from the patrol, road from the driver"),
                 ("keep", "merge"), ("field.level", "\(fromA)"), ("field.road", "\(fromB)")])
            #expect(answer.status == 303, "resolve answered \(answer.status): \(answer.body)")

            let resolved = try #require(try await hub.documents.document(key))
            #expect(!resolved.isConflicted)
            let version = try #require(resolved.siblings.first)
            if let storage = hub.exchange.storage as? SQLiteHubStorage {
                #expect(version.dot.replica == storage.writer, "written under the hub's writer id")
            }
            #expect(try await hub.documents.authorNames(of: [version.dot.replica])[version.dot.replica] == "hub", "a writer id of the hub's")
            #expect(try await hub.documents.history(of: key, newest: 10).map(\.version.dot).suffix(1) == [version.dot], "the newest of the history")
            // The document's page lists its history: the first note, both edits and the resolution, by author.
            let shown = try await browser.get("/console/conflicts/notes/n1")
            #expect(shown.body.components(separatedBy: "<tr class=\"version\">").count - 1 == 4, "\(shown.body)")
            #expect(shown.body.contains("<td>\(version.dot.description)</td><td>hub</td>"))
            #expect(shown.body.contains("<td>amina-laptop</td>") && shown.body.contains("<td>bola-laptop</td>"))
            try await syncA.run()
            try await syncB.run()
            for replica in [a, b] {
                let document = try #require(try replica.document(key))
                #expect(document.siblings.map(\.dot) == [version.dot])
                let body = try #require(document.siblings.first?.body)
                let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
                #expect(object["level"] as? String == "high" && object["road"] as? String == "closed")
                let note = try #require(object["_resolution"] as? [String: Any])
                #expect((note["reason"] as? String)?.contains("rafael") == true)
                #expect(try replica.signatureStatus(of: version) == .valid)
            }
            let audit = try await hub.auditEntries().filter { $0.action == .resolved }
            #expect(audit.count == 1)
            #expect(audit.first?.actor == "operator:rafael")
            #expect(audit.first?.detail["reason"] == "level from the patrol, road from the driver")
        }
    }

    /// An admin revokes a device on the fleet page: the audit names the admin, and the device's
    /// next sync is refused.
    @Test(arguments: ConsoleBackend.enabled)
    func aDeviceRevokedOnTheFleetPageCannotSync(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let a = try folder.create("a")
            let sync = try await Self.device(a, hub, name: "amina-laptop")
            try await sync.run()
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .admin)
            let fleet = try await browser.get("/console/fleet")
            #expect(fleet.body.contains("amina-laptop"))
            let scoped = try await browser.post(
                "/console/fleet/scopes", [("csrf", fleet.csrf ?? ""), ("replica", a.replicaID.hex), ("read", "notes"), ("write", "none")])
            #expect(scoped.status == 303)
            let grants = try #require(try await hub.administration.devices().first { $0.replicaID == a.replicaID }).grants
            #expect(grants.read == Scope(text: "notes") && grants.write == Scope(text: "none"))
            let changed = try await hub.auditEntries().filter { $0.action == .scopesChanged }
            #expect(changed.map(\.actor) == ["operator:root"])
            let answer = try await browser.post("/console/fleet/revoke", [("csrf", fleet.csrf ?? ""), ("replica", a.replicaID.hex)])
            #expect(answer.status == 303)
            await #expect(throws: SyncClientError.self) { try await sync.run() }
            let revoked = try await hub.auditEntries().filter { $0.action == .revoked }
            #expect(revoked.map(\.actor) == ["operator:root"])
            let audit = try await browser.get("/console/audit?actor=operator%3Aroot&action=device.revoked")
            #expect(audit.body.components(separatedBy: "<td>device.revoked</td>").count - 1 == 1)
            #expect(!audit.body.contains("<td>operator.login</td>"), "the filter leaves other actions out")
        }
    }

    /// An admin gives out an enrollment code on the fleet page; it is shown once and enrolls a device.
    @Test(arguments: ConsoleBackend.enabled)
    func anEnrollmentCodeFromTheFleetPageEnrollsADevice(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "root", role: .admin)
            let fleet = try await browser.get("/console/fleet")
            let answer = try await browser.post(
                "/console/fleet/enroll", [("csrf", fleet.csrf ?? ""), ("name", "new-phone"), ("read", "notes"), ("write", "notes")])
            #expect(answer.status == 200)
            let marker = "<code id=\"enrollment-code\">"
            let start = try #require(answer.body.range(of: marker))
            let code = String(answer.body[start.upperBound...].prefix { $0 != "<" })
            let folder = try TemporaryReplica()
            defer { folder.remove() }
            let replica = try folder.create("p")
            let enrolled = try await hub.exchange.enroll(try replica.enrollmentRequest(code: code), logger: HubFixture.silentLogger)
            #expect(enrolled.name == "new-phone")
            let issued = try await hub.auditEntries().filter { $0.action == .codeIssued }
            #expect(issued.map(\.actor) == ["operator:root"])
        }
    }

    /// Every list is paged on the server: with pages of 5, seven conflicts take two pages.
    @Test(arguments: ConsoleBackend.enabled)
    func theConflictListIsPaged(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            for index in 0..<7 { try await ConsoleSecurityTests.makeConflict(hub, id: "n\(index)") }
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let first = try await browser.get("/console/conflicts")
            #expect(first.body.components(separatedBy: "<tr><td>notes</td>").count - 1 == 5)
            let next = try #require(ConsoleBrowser.Answer.href(rel: "next", in: first.body))
            let second = try await browser.get(next.replacingOccurrences(of: "&amp;", with: "&"))
            #expect(second.body.components(separatedBy: "<tr><td>notes</td>").count - 1 == 2)
            #expect(ConsoleBrowser.Answer.href(rel: "next", in: second.body) == nil)
            let inRegion = try await browser.get("/console/conflicts?collection=notes&region=default")
            #expect(inRegion.body.components(separatedBy: "<tr><td>notes</td>").count - 1 == 5)
            let elsewhere = try await browser.get("/console/conflicts?region=SD-DN")
            #expect(elsewhere.status == 200 && elsewhere.body.contains("No document is in conflict"))
            let audit = try await browser.get("/console/audit?verify=1")
            #expect(audit.body.contains("Chain intact"))
        }
    }
}

extension ConsoleBrowser.Answer {
    /// The target of the link with `rel` on the page.
    static func href(rel: String, in body: String) -> String? {
        guard let end = body.range(of: "\" rel=\"\(rel)\"") else { return nil }
        let before = body[..<end.lowerBound]
        guard let start = before.range(of: "href=\"", options: .backwards) else { return nil }
        return String(before[start.upperBound...])
    }
}
