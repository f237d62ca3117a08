import Foundation
@testable import HubConsole
import HubStore
import HubStoreSQLite
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
            let store = try ReplicaStore.openHub(at: db)
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

    /// `syncd operators totp NAME` prints a new secret once (URI and base32), `list` shows it,
    /// `--remove` takes it away; each is audited.
    @Test func totpEnrollsASecondFactorShownOnce() async throws {
        try await TemporaryReplica.withFolder { folder in
            let syncd = try CLIRunner(product: "syncd")
            let db = folder.path("hub.sqlite")
            #expect(try await syncd.run(["operators", "add", "root", "--role", "admin", "--db", db]).succeeded)
            let enrolled = try await syncd.run(["operators", "totp", "root", "--db", db])
            #expect(enrolled.succeeded, "\(enrolled)")
            let uri = try #require(enrolled.stdout.split(separator: "\n").first { $0.hasPrefix("otpauth://totp/Vigil:root?secret=") })
            let key = try #require(enrolled.stdout.split(separator: "\n").last?.split(separator: " ").last.map(String.init))
            #expect(key.count == 32 && uri.contains("secret=\(key)&"), "160 bits in base32")
            let store = try ReplicaStore.openHub(at: db)
            #expect(try TOTP.base32(#require(try store.operatorTOTPSecret(name: "root"))) == key)
            #expect(try await syncd.run(["operators", "list", "--db", db]).stdout.contains("TOTP"))
            #expect(try await syncd.run(["operators", "totp", "nobody", "--db", db]).exitCode == 1)
            #expect(try await syncd.run(["operators", "totp", "root", "--remove", "--db", db]).succeeded)
            #expect(try store.operatorTOTPSecret(name: "root") == nil)
            let changes = try store.auditEntries(after: 0, limit: 20).filter { $0.action == .operatorTOTPChanged }
            #expect(changes.map(\.detail["totp"]) == ["set", "removed"])
        }
    }

    /// `syncd serve --console-idle-timeout` takes a duration; anything else is a usage error
    /// before the hub starts.
    @Test func serveRefusesAnIdleTimeoutThatIsNoDuration() async throws {
        try await TemporaryReplica.withFolder { folder in
            let syncd = try CLIRunner(product: "syncd")
            for bad in ["soon", "0m", "-5m"] {
                let answer = try await syncd.run(["serve", "--console-idle-timeout", bad, "--db", folder.path("hub.sqlite")])
                #expect(answer.exitCode == 64 && answer.stderr.contains("--console-idle-timeout"), "\(bad): \(answer)")
            }
            #expect(!FileManager.default.fileExists(atPath: folder.path("hub.sqlite")), "refused before the hub opened")
        }
    }
}
