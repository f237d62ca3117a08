import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `syncd audit list|head|verify` against a hub database file, as processes.
@Suite("syncd audit")
struct AuditCommandTests {
    @Test(
        "verify: exit 0 and the sentence; one entry edited in the file: exit 65 naming it",
        .enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func verifyFindsATamperedEntry() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        let hub = try ReplicaStore.createHub(at: path)
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
        #expect(try SQLiteShell.run(path, "UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2;").status != 0)
        #expect(try SQLiteShell.run(
            path, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET subject = 'someone-else' WHERE seq = 2;").status == 0)

        let broken = try await syncd.run(["audit", "verify", "--db", path])
        #expect(!broken.signaled && broken.exitCode == 65, "\(broken)")
        #expect(
            broken.stderr == "syncd: Audit entry #2 does not match its hash: it was changed after it was written.\n",
            "\(broken)")
        #expect(broken.stdout.isEmpty, "\(broken)")
    }

    static func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }
    static func blob(_ data: Data) -> String { "X'" + hex(data) + "'" }

    /// The regression of issue 10 §5 through the command: an entry changed in the file with every
    /// hash after it recomputed passed `verify` before the hub signed its entries.
    @Test(
        "verify: an entry rewritten with its hashes recomputed exits 65 naming it, by signature",
        .enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func verifyFindsRecomputedHashes() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        let hub = try ReplicaStore.createHub(at: path)
        for name in ["amina-laptop", "field-2", "field-3"] {
            try hub.appendAudit(actor: "operator", action: .revoked, subject: name)
        }
        var entries = try hub.auditEntries(after: 0, limit: 10)
        entries[1].subject = "someone-else"
        var sql = "DROP TRIGGER audit_log_no_update; "
        for index in 1..<entries.count {
            entries[index].previousHash = entries[index - 1].hash
            entries[index].hash = entries[index].expectedHash
            sql += """
                UPDATE audit_log SET subject = '\(entries[index].subject)', previous_hash = \(Self.blob(entries[index].previousHash)), \
                hash = \(Self.blob(entries[index].hash)) WHERE seq = \(index + 1);
                """
        }
        #expect(try SQLiteShell.run(path, sql).status == 0)
        let broken = try await syncd.run(["audit", "verify", "--db", path])
        #expect(!broken.signaled && broken.exitCode == 65, "\(broken)")
        #expect(
            broken.stderr == "syncd: Audit entry #2 is not signed by this hub's key: it was written or rewritten without the key.\n",
            "\(broken)")
    }

    @Test(
        "head prints #N HASH; verify --head: found exit 0, cut before the head exit 66, malformed exit 64",
        .enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func headAndVerifyAgainstIt() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        let hub = try ReplicaStore.createHub(at: path)
        let empty = try await syncd.run(["audit", "head", "--db", path])
        #expect(empty.succeeded && empty.stdout == "The audit log is empty; there is no head yet.\n", "\(empty)")
        for name in ["a", "b", "c"] { try hub.appendAudit(actor: "operator", action: .revoked, subject: name) }
        let newest = try #require(try hub.auditEntries(after: 2, limit: 1).first)

        let head = try await syncd.run(["audit", "head", "--db", path])
        #expect(head.succeeded && head.stdout == "#3 \(Self.hex(newest.hash))\n", "\(head)")
        let json = try await syncd.run(["audit", "head", "--db", path, "--json"]).json()
        #expect(json["sequence"] as? Int == 3)
        #expect(json["hash"] as? String == Self.hex(newest.hash))
        #expect(json["signed"] as? Bool == true)

        let kept = try await syncd.run(["audit", "verify", "--db", path, "--head", Self.hex(newest.hash)])
        #expect(kept.succeeded, "\(kept)")
        #expect(kept.stdout.contains("Every entry is signed by this hub's key."), "\(kept)")
        #expect(kept.stdout.contains("The head you kept, #3, is in the log"), "\(kept)")

        let malformed = try await syncd.run(["audit", "verify", "--db", path, "--head", "abc"])
        #expect(malformed.exitCode == 64, "\(malformed)")

        // Cut back to before the head: the shorter log still chains, the head is gone.
        let cut = """
            DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_signatures_no_delete;
            DELETE FROM audit_log WHERE seq = 3; DELETE FROM audit_signatures WHERE seq = 3;
            """
        #expect(try SQLiteShell.run(path, cut).status == 0)
        let plain = try await syncd.run(["audit", "verify", "--db", path])
        #expect(plain.succeeded, "\(plain)")
        let missing = try await syncd.run(["audit", "verify", "--db", path, "--head", Self.hex(newest.hash)])
        #expect(!missing.signaled && missing.exitCode == 66, "\(missing)")
        #expect(missing.stderr.hasPrefix("syncd: no entry of the audit log has the hash "), "\(missing)")
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
