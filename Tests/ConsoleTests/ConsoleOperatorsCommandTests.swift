import Foundation
import HubConsole
import ReplicaStore
import Testing
import TestSupport

/// `syncd operators add|list|remove` on a hub's database.
@Suite("Console operators command")
struct ConsoleOperatorsCommandTests {
    @Test func addPrintsAOneTimeSetupLinkListShowsRolesRemoveEndsTheAccount() async throws {
        try await TemporaryReplica.withFolder { folder in
            let syncd = try CLIRunner(product: "syncd")
            let db = folder.path("hub.sqlite")
            let added = try await syncd.run(
                ["operators", "add", "amina.k", "--role", "resolver", "--url", "https://hub.example.org:8443/", "--db", db])
            #expect(added.succeeded, "\(added)")
            let link = try #require(added.stdout.split(separator: "\n").last.map(String.init))
            #expect(link.hasPrefix("https://hub.example.org:8443/console/setup/") && link.count == 43 + 43)
            let store = try ReplicaStore.open(at: db)
            let record = try #require(try store.operators(limit: 10).operators.first)
            #expect(record.name == "amina.k" && record.role == .resolver && !record.hasPassword && record.setupExpiresAt != nil)
            #expect(try store.auditEntries(after: 0, limit: 10).contains { $0.action == .operatorAdded && $0.subject == "amina.k" })

            let again = try await syncd.run(["operators", "add", "amina.k", "--role", "admin", "--db", db])
            #expect(again.exitCode == 1 && again.stderr.contains("already called"))
            let badRole = try await syncd.run(["operators", "add", "bola", "--role", "root", "--db", db])
            #expect(badRole.exitCode == 64)
            let badName = try await syncd.run(["operators", "add", "bad name", "--role", "viewer", "--db", db])
            #expect(badName.exitCode == 1)

            let listed = try await syncd.run(["operators", "list", "--db", db])
            #expect(listed.succeeded && listed.stdout.contains("amina.k  resolver") && listed.stdout.contains("setup link valid until"))
            let removed = try await syncd.run(["operators", "remove", "amina.k", "--db", db])
            #expect(removed.succeeded)
            #expect(try await syncd.run(["operators", "remove", "amina.k", "--db", db]).exitCode == 1)
            #expect(try await syncd.run(["operators", "list", "--db", db]).stdout.contains("No operators"))
        }
    }
}
