import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The console's record pages of `syncd serve --postgres` as real processes: a conflict made by
/// two `fieldcli` replicas syncing to the hub, listed, shown with its siblings and history, and
/// resolved through the console's form by an operator made with `syncd operators --postgres`.
/// Needs a server: `VIGIL_TEST_POSTGRES` names it (CI sets `VIGIL_REQUIRE_POSTGRES=1`, which
/// makes a missing server a failure).
@Suite(
    "the console's record pages on PostgreSQL: real processes", .serialized, .timeLimit(.minutes(5)),
    .enabled(if: PostgresServer.isEnabled, PostgresServer.disabledReason))
struct PostgresRecordPagesProcessTests {
    /// Schedule (issue 12, "Two backends, one contract"; the record pages on PostgreSQL since
    /// 6f11b3e, tested there in-process only): amina-laptop and bola-laptop each write `notes/n1`
    /// offline without having seen the other's, and sync with `syncd serve --postgres`; a resolver
    /// added with `syncd operators add --postgres` logs in over HTTP, finds the note on the
    /// conflicts page, sees both versions by their devices and the history on its page, and merges
    /// it field by field (the level from amina-laptop, the road from bola-laptop). The conflict is
    /// gone from the list, the page shows the hub's resolution last in the history, the audit log
    /// names the operator, and after their next sync both devices hold the same single version with
    /// the chosen fields.
    @Test("a conflict made by two fieldcli replicas is listed, shown and resolved on a hub on PostgreSQL")
    func aConflictIsListedShownAndResolved() async throws {
        let key = DocumentKey(
            collection: try #require(CollectionName("notes")), id: try #require(DocumentID("n1")))
        try await PostgresServer.withSchema { backend in
            try await withProcessFixture { fixture in
                let hub = try await fixture.startHub(backend: backend)
                let (amina, bola) = (fixture.path("amina.sqlite"), fixture.path("bola.sqlite"))
                for (replica, name) in [(amina, "amina-laptop"), (bola, "bola-laptop")] {
                    try await fixture.initReplica(replica)
                    try await Self.enroll(replica, as: name, hub: hub, fixture: fixture)
                }
                _ = try await fixture.put(amina, "notes", id: "n1", body: #"{"title":"bridge","level":"high","road":"open"}"#)
                _ = try await fixture.put(bola, "notes", id: "n1", body: #"{"title":"bridge","level":"low","road":"closed"}"#)
                #expect(try await fixture.syncSucceeding(amina, hub: hub.url).versionsPushed == 1)
                let second = try await fixture.syncSucceeding(bola, hub: hub.url)
                #expect(second.versionsPushed == 1 && second.versionsPulled == 1, "\(second)")

                let added = try await fixture.run(
                    "syncd", ["operators", "add", "rafael", "--role", "resolver", "--url", hub.url] + backend)
                #expect(added.exitStatus == 0, "\(added)")
                try await PostgresOperatorsProcessTests.setPassword(
                    try #require(added.output.split(separator: "\n").last.map(String.init)))
                let browser = ConsoleLogin(base: hub.url)
                let login = try await browser.logIn("rafael")
                #expect(login.status == 303, "login answered \(login.status): \(login.body)")

                let list = try await browser.get("/console/conflicts")
                #expect(list.status == 200, "\(list.body)")
                #expect(list.body.contains("<a href=\"/console/conflicts/notes/n1\">n1</a>"), "\(list.body)")
                let page = try await browser.get("/console/conflicts/notes/n1")
                #expect(page.status == 200 && page.body.contains("2 concurrent versions"), "\(page.body)")
                let aminaColumn = try #require(page.body.range(of: "by amina-laptop"), "each version names its device")
                let bolaColumn = try #require(page.body.range(of: "by bola-laptop"), "each version names its device")
                #expect(Self.historyRows(page.body) == 2, "\(page.body)")
                #expect(page.body.contains("<td>amina-laptop</td>") && page.body.contains("<td>bola-laptop</td>"))
                let (fromAmina, fromBola) = aminaColumn.lowerBound < bolaColumn.lowerBound ? (0, 1) : (1, 0)
                let resolved = try await browser.post(
                    "/console/conflicts/notes/n1/resolve",
                    [("csrf", page.value(of: "csrf")), ("siblings", page.value(of: "siblings")),
                     ("reason", "level from the patrol, road from the driver"), ("keep", "merge"),
                     ("field.level", "\(fromAmina)"), ("field.road", "\(fromBola)")])
                #expect(resolved.status == 303 && resolved.location == "/console/conflicts/notes/n1", "\(resolved.body)")

                let after = try await browser.get("/console/conflicts")
                #expect(after.body.contains("No document is in conflict") && !after.body.contains("/console/conflicts/notes/n1"))
                let shown = try await browser.get("/console/conflicts/notes/n1")
                #expect(shown.body.contains("Not in conflict"), "\(shown.body)")
                #expect(Self.historyRows(shown.body) == 3, "both edits and the resolution: \(shown.body)")
                let hubRow = try #require(shown.body.range(of: "</td><td>hub</td>"), "the resolution is the hub's")
                #expect(shown.body[hubRow.upperBound...].components(separatedBy: "<tr class=\"version\">").count == 1, "newest last")
                let audit = try await fixture.run("syncd", ["audit", "list", "--json"] + backend)
                let entries = try #require(try audit.json()["entries"] as? [[String: Any]], "\(audit)")
                let resolutions = entries.filter { $0["action"] as? String == "document.resolved" }
                #expect(resolutions.map { $0["actor"] as? String } == ["operator:rafael"], "\(audit)")

                for replica in [amina, bola] { _ = try await fixture.syncSucceeding(replica, hub: hub.url) }
                let held = try [amina, bola].map { path in
                    try #require(try TemporaryReplica.open(at: path).document(key), "\(path) holds the note")
                }
                #expect(held.map { $0.siblings.count } == [1, 1], "the devices' conflict is gone")
                #expect(held[0].siblings.map(\.dot) == held[1].siblings.map(\.dot), "both hold one version")
                let body = try #require(held[0].siblings.first?.body)
                let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
                #expect(object["level"] as? String == "high" && object["road"] as? String == "closed", "\(object)")
                let note = try #require(object["_resolution"] as? [String: Any])
                #expect((note["reason"] as? String)?.contains("rafael") == true, "\(note)")
            }
        }
    }

    /// The rows of the history table on a document's page.
    static func historyRows(_ body: String) -> Int {
        body.components(separatedBy: "<tr class=\"version\">").count - 1
    }

    /// Enrolls `replica` as the device `name` with every scope: `syncd devices add --postgres`,
    /// then `fieldcli enroll --code`.
    private static func enroll(_ replica: String, as name: String, hub: RunningHub, fixture: ProcessFixture) async throws {
        let added = try await fixture.run("syncd", ["devices", "add", name, "--all", "--json"] + hub.backend)
        struct Added: Decodable { var code: String }
        let code = try JSONDecoder().decode(Added.self, from: Data(added.output.utf8)).code
        let enrolled = try await fixture.fieldcli(replica, ["enroll"], ["--hub", hub.url, "--code", code])
        #expect(enrolled.exitStatus == 0, "\(enrolled)")
    }
}
