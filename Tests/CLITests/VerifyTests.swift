import Foundation
import Testing
import TestSupport

/// `fieldcli verify`: every version checked against its author's key.
@Suite("fieldcli verify")
struct VerifyTests {
    @Test("all versions verify: exit 0; a body byte changed in SQLite: listed with its dot and document, exit 65")
    func findsATamperedVersion() async throws {
        try #require(SQLiteShell.isInstalled, "needs the sqlite3 shell")
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let kept = try await sandbox.put("reports", #"{"title":"Road blocked"}"#)
        let altered = try await sandbox.put("reports", #"{"title":"Shots heard"}"#)

        let clean = try await sandbox.succeed("verify", "--json").json()
        #expect(clean["checked"] as? Int == 2)
        #expect(clean["valid"] as? Int == 2)
        #expect((clean["invalid"] as? [Any])?.isEmpty == true)
        let text = try await sandbox.succeed("verify")
        #expect(text.stdout.contains("Checked 2 versions"))

        try Self.alterOneByte(of: altered, in: sandbox.replicaPath)

        let result = try await sandbox.fieldcli("verify", "--json")
        #expect(result.exitCode == 65, "\(result)")
        let report = try result.json()
        let invalid = try #require(report["invalid"] as? [[String: Any]])
        #expect(invalid.count == 1)
        #expect(invalid.first?["id"] as? String == altered)
        #expect(invalid.first?["collection"] as? String == "reports")
        #expect((invalid.first?["dot"] as? String)?.hasSuffix(":2") == true)
        #expect(report["valid"] as? Int == 1)

        let listed = try await sandbox.fieldcli("verify")
        #expect(listed.exitCode == 65)
        let reason = TemporaryReplica.encrypting ? "its encrypted body does not open" : "invalid signature"
        #expect(listed.stdout.contains("reports/\(altered)") && listed.stdout.contains(reason), "\(listed)")
        #expect(!listed.stdout.contains(kept))
        if TemporaryReplica.encrypting {
            // A sealed body that does not open cannot be shown: reading it fails, in one sentence.
            try await sandbox.fail(Exit.diskOrIO, mentioning: "does not open", ["get", "reports", altered])
        } else {
            // history flags it too.
            let history = try await sandbox.succeed("history", "reports", altered, "--json").json()
            let versions = try #require(history["versions"] as? [[String: Any]])
            #expect(versions.first?["signature"] as? String == "invalid")
        }
    }

    /// Changes one byte of the body of document `id` directly in the file: in clear, "Shots"
    /// becomes "Shote"; sealed, the last byte of the tag is flipped.
    static func alterOneByte(of id: String, in path: String, sealed: Bool = TemporaryReplica.encrypting) throws {
        let body = sealed
            ? "CAST(substr(body, 1, length(body) - 1) || CASE WHEN substr(body, -1) = X'00' THEN X'01' ELSE X'00' END AS BLOB)"
            : "CAST(replace(CAST(body AS TEXT), 'Shots', 'Shote') AS BLOB)"
        #expect(try SQLiteShell.run(path, "UPDATE versions SET body = \(body) WHERE document_id = '\(id)';").status == 0)
    }
}
