import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Conflicts made by two replicas editing one document, then shown and resolved with `fieldcli`.
@Suite("fieldcli conflicts")
struct ConflictTests {
    /// Replica A (the sandbox's default) and replica B each amend one report after B received A's
    /// first version; B's versions are then delivered to A, which now holds a conflict.
    /// Returns the document id and B's path.
    func makeConflict(_ sandbox: CLISandbox) async throws -> (id: String, other: String) {
        let other = sandbox.path("b.sqlite")
        try await sandbox.initialize()
        try await sandbox.initialize(other)
        let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open", "casualties": 0}"#)
        try CLISandbox.deliver(from: sandbox.replicaPath, to: other)
        _ = try await sandbox.put("reports", #"{"title": "Flood", "status": "closed", "casualties": 0}"#, id: id)
        _ = try await sandbox.put(
            "reports", #"{"title": "Flood", "status": "open", "casualties": 3}"#, id: id, extra: ["--db", other])
        try CLISandbox.deliver(from: other, to: sandbox.replicaPath)
        return (id, other)
    }

    @Test("a conflict shows in status, conflicts list, get and conflicts show with the differing fields")
    func conflictIsVisible() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await makeConflict(sandbox)

        #expect(try await sandbox.succeed("status", "--json").json()["conflicts"] as? Int == 1)

        let list = try await sandbox.succeed("conflicts", "list", "--json").json()
        let entry = try #require((list["conflicts"] as? [[String: Any]])?.first)
        #expect(entry["id"] as? String == id)
        #expect(entry["differingFields"] as? [String] == ["casualties", "status"])
        #expect((entry["siblings"] as? [String])?.count == 2)
        #expect(try await sandbox.succeed("conflicts", "list").stdout.contains("differ in: casualties, status"))

        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        #expect(document["conflict"] as? Bool == true)
        #expect((document["siblings"] as? [[String: Any]])?.count == 2)
        let text = try await sandbox.succeed("get", "reports", id).stdout
        #expect(text.contains("in conflict: 2 versions"))
        #expect(text.contains("conflicts resolve reports \(id)"))

        let show = try await sandbox.succeed("conflicts", "show", "reports", id)
        let lines = show.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains { $0.hasPrefix("* casualties") && $0.contains("0") && $0.contains("3") })
        #expect(lines.contains { $0.hasPrefix("* status") && $0.contains("\"open\"") && $0.contains("\"closed\"") })
        #expect(lines.contains { $0.hasPrefix("  title") })
        let shown = try await sandbox.succeed("conflicts", "show", "reports", id, "--json").json()
        #expect(shown["differingFields"] as? [String] == ["casualties", "status"])
        #expect(((shown["fields"] as? [String: Any])?["status"] as? [String])?.sorted() == ["closed", "open"])

        let history = try await sandbox.succeed("history", "reports", id, "--json").json()
        let signatures = (history["versions"] as? [[String: Any]])?.compactMap { $0["signature"] as? String }
        #expect(signatures == ["valid", "valid", "valid"])
    }

    @Test("editing or deleting a document in conflict is refused and points to conflicts resolve")
    func editInConflictIsRefused() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await makeConflict(sandbox)
        let before = try await sandbox.snapshot()
        try await sandbox.fail(
            Exit.conflict, mentioning: "fieldcli conflicts resolve reports \(id)",
            ["put", "reports", id, "--body", #"{"title": "Edited"}"#])
        try await sandbox.fail(Exit.conflict, mentioning: "conflicts resolve", ["delete", "reports", id])
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("resolve --pick keeps that version's body, records the reason, supersedes every sibling")
    func resolveByPicking() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await makeConflict(sandbox)
        let shown = try await sandbox.succeed("conflicts", "show", "reports", id, "--json").json()
        let siblings = try #require(shown["siblings"] as? [[String: Any]])
        let chosen = try #require(siblings.first { ($0["body"] as? [String: Any])?["casualties"] as? Int == 3 })
        let dot = try #require(chosen["dot"] as? String)
        let shortDot = String(dot.prefix(8)) + ":" + (dot.split(separator: ":").last ?? "")

        let resolved = try await sandbox.succeed(
            "conflicts", "resolve", "reports", id, "--pick", shortDot, "--reason", "Confirmed by phone", "--json"
        ).json()
        #expect((resolved["resolved"] as? [String])?.count == 2)

        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        #expect(document["conflict"] as? Bool == false)
        let body = try #require((document["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any])
        #expect(body["casualties"] as? Int == 3 && body["status"] as? String == "open")
        let note = try #require(body["_resolution"] as? [String: Any])
        #expect(note["reason"] as? String == "Confirmed by phone")
        #expect(Set(note["siblings"] as? [String] ?? []) == Set(siblings.compactMap { $0["dot"] as? String }))
        let context = try #require(((document["siblings"] as? [[String: Any]])?.first?["context"]) as? [String: Int])
        for sibling in siblings.compactMap({ $0["dot"] as? String }) {
            let parts = sibling.split(separator: ":")
            #expect((context[String(parts[0])] ?? 0) >= Int(parts[1]) ?? .max)
        }

        let status = try await sandbox.succeed("status", "--json").json()
        #expect(status["conflicts"] as? Int == 0)
        #expect(status["versions"] as? Int == 4)
        let history = try await sandbox.succeed("history", "reports", id, "--json").json()
        #expect((history["versions"] as? [[String: Any]])?.count == 4)
        try await sandbox.succeed("put", "reports", id, "--body", #"{"title": "Flood", "status": "closed"}"#)
    }

    @Test("a delete concurrent with an edit is a conflict; picking the deletion deletes the document")
    func resolveByPickingDeletion() async throws {
        let sandbox = try CLISandbox()
        let other = sandbox.path("b.sqlite")
        try await sandbox.initialize()
        try await sandbox.initialize(other)
        let id = try await sandbox.put("reports", #"{"title": "Rumour"}"#)
        try CLISandbox.deliver(from: sandbox.replicaPath, to: other)
        _ = try await sandbox.put("reports", #"{"title": "Rumour, confirmed"}"#, id: id)
        try await sandbox.succeed("delete", "reports", id, "--db", other)
        try CLISandbox.deliver(from: other, to: sandbox.replicaPath)

        let show = try await sandbox.succeed("conflicts", "show", "reports", id)
        #expect(show.stdout.split(separator: "\n").contains { $0.hasPrefix("* deleted") })
        let shown = try await sandbox.succeed("conflicts", "show", "reports", id, "--json").json()
        let tombstone = try #require(
            (shown["siblings"] as? [[String: Any]])?.first { $0["deleted"] as? Bool == true }?["dot"] as? String)
        try await sandbox.succeed("conflicts", "resolve", "reports", id, "--pick", tombstone, "--reason", "Unfounded")
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        #expect(document["deleted"] as? Bool == true && document["conflict"] as? Bool == false)
    }

    @Test("resolve --body writes the merged JSON with the reason")
    func resolveWithMergedBody() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await makeConflict(sandbox)
        try await sandbox.succeed(
            "conflicts", "resolve", "reports", id, "--body", #"{"title": "Flood", "status": "closed", "casualties": 3}"#,
            "--reason", "Both were right")
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        let body = try #require((document["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any])
        #expect(body["status"] as? String == "closed" && body["casualties"] as? Int == 3)
        #expect((body["_resolution"] as? [String: Any])?["reason"] as? String == "Both were right")
    }

    @Test("resolve refuses a missing reason, two sources, a bad or unknown version, and a clean document")
    func resolveRefusesBadInput() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await makeConflict(sandbox)
        let clean = try await sandbox.put("reports", #"{"title": "Calm"}"#)
        let before = try await sandbox.snapshot()
        let resolve = ["conflicts", "resolve", "reports", id]
        try await sandbox.fail(Exit.usage, mentioning: "--reason", resolve + ["--body", "{}"])
        try await sandbox.fail(Exit.usage, mentioning: "exactly one", resolve + ["--body", "{}", "--pick", "ab:1", "--reason", "x"])
        try await sandbox.fail(Exit.usage, mentioning: "reason", resolve + ["--body", "{}", "--reason", "  "])
        try await sandbox.fail(Exit.invalidInput, mentioning: "is not a version", resolve + ["--pick", "nonsense", "--reason", "x"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not one of the conflicting", resolve + ["--pick", "abcd:99", "--reason", "x"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not an object", resolve + ["--body", "[1]", "--reason", "x"])
        try await sandbox.fail(
            Exit.conflict, mentioning: "nothing to resolve",
            ["conflicts", "resolve", "reports", clean, "--body", "{}", "--reason", "x"])
        try await sandbox.fail(
            Exit.notFound, mentioning: "no document",
            ["conflicts", "resolve", "reports", "missing-id", "--body", "{}", "--reason", "x"])
        #expect(try await sandbox.snapshot() == before)
    }
}
