import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// A scripted editor for `fieldcli edit`: a shell script run as `$EDITOR` with an argument of its
/// own, in a TMPDIR whose name holds a space (so the file paths must reach it quoted). It logs
/// each file's mode and name, and its folder's mode, then edits the first file as told.
struct ScriptedEditor {
    let sandbox: CLISandbox
    /// The TMPDIR of every run: where `fieldcli edit` makes its private folder.
    let temporary: String
    let log: String

    init(_ sandbox: CLISandbox) throws {
        self.sandbox = sandbox
        temporary = sandbox.path("tmp dir")
        log = sandbox.path("editor.log")
        try FileManager.default.createDirectory(atPath: temporary, withIntermediateDirectories: true)
        try Data(Self.script.utf8).write(to: URL(fileURLWithPath: script))
    }

    var script: String { sandbox.path("editor.sh") }

    static let script = #"""
        #!/bin/sh
        [ "$1" = "--marker" ] || { echo "the editor's own argument is missing" >&2; exit 3; }
        shift
        for file in "$@"; do
          printf '%s %s\n' "$(stat -c %a "$file")" "$(basename "$file")" >> "$EDIT_LOG"
        done
        printf 'folder %s\n' "$(stat -c %a "$(dirname "$1")")" >> "$EDIT_LOG"
        if [ -n "$EDIT_SECRET" ] && grep -q "$EDIT_SECRET" "$@"; then echo "secret seen" >> "$EDIT_LOG"; fi
        if [ -n "$EDIT_SYNC" ]; then "$FIELDCLI" sync --db "$EDIT_SYNC" --json > /dev/null || exit 4; fi
        if [ -n "$EDIT_SED" ]; then sed -i "$EDIT_SED" "$1"; fi
        if [ -n "$EDIT_BODY" ]; then printf '%s' "$EDIT_BODY" > "$1"; fi
        exit "${EDIT_EXIT:-0}"
        """#

    /// Runs `fieldcli edit ARGUMENTS` with this editor; `environment` tells the script what to do
    /// (`EDIT_BODY`, `EDIT_SED`, `EDIT_SYNC`, `EDIT_SECRET`, `EDIT_EXIT`).
    func edit(_ arguments: [String], _ environment: [String: String] = [:]) async throws -> CLIResult {
        var variables = environment
        variables["EDITOR"] = "/bin/sh '\(script)' --marker"
        variables["VISUAL"] = ""
        variables["TMPDIR"] = temporary
        variables["EDIT_LOG"] = log
        variables["FIELDCLI"] = sandbox.runner.executable.path
        return try await sandbox.runner.run(["edit"] + arguments, environment: variables)
    }

    /// The lines the script logged so far.
    var logged: [String] {
        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    /// What is left in TMPDIR.
    func leftovers() throws -> [String] { try FileManager.default.contentsOfDirectory(atPath: temporary) }
}

@Suite("fieldcli edit")
struct EditCommandTests {
    @Test("the edited body is written with the base read; the file is private and removed afterwards")
    func editWritesTheNewBody() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let editor = try ScriptedEditor(sandbox)
        let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open"}"#)
        let result = try await editor.edit(["reports", id], ["EDIT_BODY": #"{"title": "Flood", "status": "closed"}"#])
        #expect(result.succeeded && result.stderr.isEmpty, "\(result)")
        #expect(result.output.hasPrefix("Wrote reports/\(id): version "))
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        let siblings = try #require(document["siblings"] as? [[String: Any]])
        #expect(siblings.count == 1)
        #expect((siblings.first?["body"] as? [String: Any])?["status"] as? String == "closed")
        #expect(editor.logged == ["600 reports-\(id).json", "folder 700"])
        #expect(try editor.leftovers().isEmpty)
    }

    @Test("an unchanged body writes nothing and says so")
    func unchangedWritesNothing() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let editor = try ScriptedEditor(sandbox)
        let id = try await sandbox.put("reports", #"{"title":"Flood","status":"open"}"#)
        let before = try await sandbox.snapshot()
        let result = try await editor.edit(["reports", id])
        #expect(result.succeeded && result.stderr.isEmpty, "\(result)")
        #expect(result.output == "No change to reports/\(id); nothing was written.")
        // Reformatting is no change either.
        let reformatted = try await editor.edit(
            ["reports", id, "--json"], ["EDIT_BODY": #"{"status":"open","title":"Flood"}"#])
        #expect(try reformatted.json()["changed"] as? Bool == false)
        #expect(try await sandbox.snapshot() == before)
        #expect(try editor.leftovers().isEmpty)
    }

    @Test("invalid JSON or an invalid record: one sentence, exit 65, nothing written, the text kept where it says")
    func invalidTextIsKept() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let editor = try ScriptedEditor(sandbox)
        let id = try await sandbox.put("reports", #"{"title": "Flood"}"#)
        let observation = sandbox.path("observation.json")
        try Data(RecordBodies.observation().utf8).write(to: URL(fileURLWithPath: observation))
        let record = try await sandbox.succeed("record", "observation", "--from", observation).output
        let before = try await sandbox.snapshot()
        let cases: [([String], String, String)] = [
            (["reports", id], #"{"title": "Flood", "#, "not valid JSON"),
            (["reports", id], #"["Flood"]"#, "not an object"),
            (["observations", record], #"{"schema_version": 1, "report_kind": "incident"}"#, "observation"),
        ]
        for (arguments, text, phrase) in cases {
            let result = try await editor.edit(arguments, ["EDIT_BODY": text])
            #expect(result.exitCode == Exit.invalidInput, "\(result)")
            #expect(result.stdout.isEmpty && result.stderr.split(separator: "\n").count == 1, "\(result)")
            #expect(result.stderr.localizedCaseInsensitiveContains(phrase), "\(result)")
            let marker = "your text is kept in "
            let kept = try #require(result.stderr.range(of: marker).map { String(result.stderr[$0.upperBound...]) })
            let path = String(kept.trimmingCharacters(in: .whitespacesAndNewlines).dropLast())
            #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
            #expect(path.hasPrefix(editor.temporary + "/vigil-edit-"))
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            #expect(try FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int == 0o700)
            try FileManager.default.removeItem(atPath: folder)
        }
        let failed = try await editor.edit(["reports", id], ["EDIT_EXIT": "1"])
        #expect(failed.exitCode == 1 && failed.stderr.contains("exited with status 1"), "\(failed)")
        #expect(try editor.leftovers().isEmpty)
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("a sealed field stays sealed: shown as (sealed), never in the file, its value kept")
    func sealedFieldsKeepTheirValue() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let editor = try ScriptedEditor(sandbox)
        let observation = sandbox.path("observation.json")
        try Data(RecordBodies.observation().utf8).write(to: URL(fileURLWithPath: observation))
        let id = try await sandbox.succeed("record", "observation", "--from", observation).output
        let result = try await editor.edit(
            ["observations", id],
            ["EDIT_SED": "s/Attack at dawn/Attack before dawn/", "EDIT_SECRET": RecordBodies.secret])
        #expect(result.succeeded, "\(result)")
        #expect(!editor.logged.contains("secret seen"))
        let store = try CLISandbox.open(sandbox.replicaPath)
        let key = DocumentKey(collection: CollectionName("observations")!, id: DocumentID(id)!)
        let body = try #require(try store.document(key)?.siblings.first?.body)
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.contains("Attack before dawn"))
        #expect(text.contains(RecordBodies.secret))
    }

    @Test("a document in conflict needs --reason, opens every version beside the resolution, and is resolved")
    func conflictIsResolved() async throws {
        let sandbox = try CLISandbox()
        let (id, _) = try await ConflictTests().makeConflict(sandbox)
        let editor = try ScriptedEditor(sandbox)
        let before = try await sandbox.snapshot()
        try await sandbox.fail(Exit.usage, mentioning: "--reason", ["edit", "reports", id])
        #expect(try await sandbox.snapshot() == before)

        let merged = #"{"title": "Flood", "status": "closed", "casualties": 3}"#
        let result = try await editor.edit(
            ["reports", id, "--reason", "Both were right", "--json"], ["EDIT_BODY": merged])
        #expect(result.succeeded, "\(result)")
        #expect((try result.json()["resolved"] as? [String])?.count == 2)
        let logged = editor.logged
        #expect(logged.count == 4)
        #expect(logged.first == "600 reports-\(id).resolution.json")
        #expect(logged.dropFirst().prefix(2).allSatisfy { $0.hasPrefix("400 reports-\(id).version-") })
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        #expect(document["conflict"] as? Bool == false)
        let body = try #require((document["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any])
        #expect(body["casualties"] as? Int == 3)
        #expect((body["_resolution"] as? [String: Any])?["reason"] as? String == "Both were right")
        #expect(try editor.leftovers().isEmpty)
    }

    /// Issue 11 §1 with `edit`: A's observer opens a report; while the editor is open, `fieldcli
    /// sync` (standing in for `syncd run`) pulls B's edit of it; the observer saves. The version
    /// written carries what the observer read, so B's edit stays beside it: both replicas show the
    /// conflict after syncing.
    @Test("an edit pulled while the editor is open stays beside the saved version")
    func syncDuringTheEditMakesAConflict() async throws {
        try await SharedReplicas.with { shared in
            let sandbox = shared.sandbox
            let editor = try ScriptedEditor(sandbox)
            let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open"}"#)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            try await sandbox.succeed(
                "put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood", "status": "closed"}"#)
            try await shared.sync(shared.b)

            let result = try await editor.edit(
                ["reports", id, "--json"],
                ["EDIT_SYNC": shared.a, "EDIT_BODY": #"{"title": "Flood", "status": "open", "casualties": 3}"#])
            #expect(result.succeeded, "\(result)")
            #expect(try result.json()["conflict"] as? Bool == true)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            for path in [shared.a, shared.b] {
                let (conflict, bodies) = try await shared.siblings(path, "reports", id)
                #expect(conflict, "\(path)")
                #expect(Set(bodies.compactMap { $0["status"] as? String }) == ["open", "closed"], "\(path)")
            }
        }
    }

    /// A resolution in the editor while a sync brings another version of the document: the base
    /// read no longer covers every version, so the resolution is refused (68), nothing is written,
    /// and the typed text is kept.
    @Test("a resolution refused because a version arrived while the editor was open keeps the text")
    func resolutionRaceKeepsTheText() async throws {
        try await SharedReplicas.with { shared in
            let sandbox = shared.sandbox
            let editor = try ScriptedEditor(sandbox)
            let id = try await sandbox.put("reports", #"{"title": "Flood", "status": "open"}"#)
            try await shared.sync(shared.a)
            try await shared.sync(shared.b)
            _ = try await sandbox.put("reports", #"{"title": "Flood", "status": "closed"}"#, id: id)
            try await sandbox.succeed("put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood", "dead": 3}"#)
            try await shared.sync(shared.b)
            try await shared.sync(shared.a)
            try await sandbox.succeed("put", "reports", id, "--db", shared.b, "--body", #"{"title": "Flood", "dead": 4}"#)
            try await shared.sync(shared.b)
            let before = try await sandbox.snapshot()

            let merged = #"{"title": "Flood", "status": "closed", "dead": 3}"#
            let result = try await editor.edit(
                ["reports", id, "--reason", "Merged"], ["EDIT_SYNC": shared.a, "EDIT_BODY": merged])
            #expect(result.exitCode == Exit.conflict, "\(result)")
            #expect(result.stderr.contains("your text is kept in "), "\(result)")
            let (conflict, bodies) = try await shared.siblings(shared.a, "reports", id)
            #expect(conflict)
            #expect(bodies.contains { $0["dead"] as? Int == 4 })
            #expect(!bodies.contains { $0["_resolution"] != nil })
            #expect(try await sandbox.snapshot() != before, "the sync in the editor pulled B's second version")
        }
    }
}
