import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `syncd audit list|verify` against a hub database file, as processes.
@Suite("syncd audit")
struct AuditCommandTests {
    static let hasSQLiteShell = FileManager.default.isExecutableFile(atPath: "/usr/bin/sqlite3")

    /// Runs `sqlite3 PATH SQL` (the system's shell), to tamper with the file behind the hub's back.
    static func sqlite(_ path: String, _ sql: String) throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [path, sql]
        try process.run()
        process.waitUntilExit()
        return process.terminationStatus
    }

    @Test(
        "verify: exit 0 and the sentence; one entry edited in the file: exit 65 naming it",
        .enabled(if: hasSQLiteShell, "needs the sqlite3 shell"))
    func verifyFindsATamperedEntry() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        let hub = try ReplicaStore.create(at: path)
        for name in ["amina-laptop", "field-2", "field-3"] {
            try hub.appendAudit(actor: "operator", action: .revoked, subject: name, detail: ["replica": "r-\(name)"])
        }

        let clean = try await syncd.run(["audit", "verify", "--db", path])
        #expect(clean.succeeded, "\(clean)")
        #expect(clean.stdout.contains("The audit log's 3 entries chain correctly."), "\(clean)")

        let listed = try await syncd.run(["audit", "list", "--db", path, "--json", "--after", "1", "--limit", "1"])
        #expect(listed.succeeded, "\(listed)")
        let object = try listed.json()
        let entries = try #require(object["entries"] as? [[String: Any]])
        #expect(entries.count == 1)
        #expect(entries.first?["sequence"] as? Int == 2)
        #expect(entries.first?["subject"] as? String == "field-2")
        #expect(entries.first?["action"] as? String == "device.revoked")
        #expect((entries.first?["detail"] as? [String: String])?["replica"] == "r-field-2")
        #expect(object["more"] as? Bool == true)

        let text = try await syncd.run(["audit", "list", "--db", path])
        #expect(text.succeeded, "\(text)")
        #expect(text.stdout.split(separator: "\n").count == 3)
        #expect(text.stdout.contains("#1  ") && text.stdout.contains("device.revoked  amina-laptop"))

        // The trigger refuses the edit; an attacker with the file drops it first.
        #expect(try Self.sqlite(path, "UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2;") != 0)
        #expect(try Self.sqlite(
            path, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2;") == 0)

        let broken = try await syncd.run(["audit", "verify", "--db", path])
        #expect(!broken.signaled && broken.exitCode == 65, "\(broken)")
        #expect(
            broken.stderr == "syncd: Audit entry #2 does not match its hash: it was changed after it was written.\n",
            "\(broken)")
        #expect(broken.stdout.isEmpty, "\(broken)")
    }

    @Test("a missing hub database: exit 1 with one sentence, and no file made")
    func missingDatabase() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("nowhere.sqlite")
        let result = try await syncd.run(["audit", "verify", "--db", path])
        #expect(result.exitCode == 1, "\(result)")
        #expect(result.stderr.hasPrefix("syncd: There is no hub database at"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
