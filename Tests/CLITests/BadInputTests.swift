import Foundation
import Testing
import TestSupport

/// Every user-caused failure: one sentence on stderr, its own exit code, the replica as before.
@Suite("fieldcli bad input")
struct BadInputTests {
    @Test("malformed and non-object JSON bodies are refused with 65")
    func badBodies() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let id = try await sandbox.put("reports", #"{"title": "Kept"}"#)
        let before = try await sandbox.snapshot()
        try await sandbox.fail(Exit.invalidInput, mentioning: "not valid JSON", ["put", "reports", "--body", #"{"title": "#])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not an object", ["put", "reports", "--body", "[1, 2]"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not an object", ["put", "reports", id, "--body", "\"text\""])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not valid JSON", ["put", "reports"], stdin: "not json")
        try await sandbox.fail(Exit.invalidInput, mentioning: "empty", ["put", "reports"], stdin: "")
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "cannot read the body file", ["put", "reports", "--file", sandbox.path("absent.json")])
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("error text never quotes the body")
    func bodiesStayOutOfErrors() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let result = try await sandbox.fail(
            Exit.invalidInput, mentioning: "JSON", ["put", "reports", "--body", #"{"secret": "informant-name-"#])
        #expect(!result.stderr.contains("informant"))
    }

    @Test("bad names, cursors, flags and partition changes are refused with their codes")
    func badArguments() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let id = try await sandbox.put("reports", #"{"a": 1}"#, extra: ["--partition", "north"])
        let before = try await sandbox.snapshot()
        try await sandbox.fail(Exit.usage, mentioning: "unknown option", ["put", "reports", "--body", "{}", "--frobnicate"])
        for budget in ["5XB", "-1MB", "lots", "2000GB"] {
            try await sandbox.fail(Exit.usage, mentioning: "--budget", ["sync", "--budget", budget])
        }
        try await sandbox.fail(Exit.usage, mentioning: "not both", ["put", "reports", "--body", "{}", "--file", "x.json"])
        try await sandbox.fail(Exit.usage, mentioning: "--limit", ["list", "reports", "--limit", "0"])
        try await sandbox.fail(Exit.usage, mentioning: "missing", ["get", "reports"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not a collection name", ["put", "Reports!", "--body", "{}"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not a document id", ["put", "reports", "a/b", "--body", "{}"])
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "not a partition", ["put", "reports", "--body", "{}", "--partition", "no way"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not a page cursor", ["list", "reports", "--cursor", "yesterday"])
        try await sandbox.fail(
            Exit.conflict, mentioning: "partitions never change",
            ["put", "reports", id, "--body", "{}", "--partition", "south"])
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("an id that does not exist is not found (67) for get, delete, history and conflicts show")
    func missingDocument() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        _ = try await sandbox.put("reports", #"{"a": 1}"#)
        let before = try await sandbox.snapshot()
        for command in [["get"], ["delete"], ["history"], ["conflicts", "show"]] {
            try await sandbox.fail(
                Exit.notFound, mentioning: "fieldcli list reports", command + ["reports", "0190c6a4-0000-7000-8000-000000000000"])
        }
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("no replica at the path says to run fieldcli init (66) and creates nothing")
    func missingReplica() async throws {
        let sandbox = try CLISandbox()
        for command in [["status"], ["put", "reports", "--body", "{}"], ["list", "reports"], ["conflicts", "list"]] {
            try await sandbox.fail(Exit.noReplica, mentioning: "fieldcli init", command)
        }
        let contents = try FileManager.default.contentsOfDirectory(atPath: sandbox.directory.path)
        #expect(contents.isEmpty, "\(contents)")
    }

    @Test("a file of random bytes is not a replica (70) and stays byte for byte as it was")
    func corruptFile() async throws {
        let sandbox = try CLISandbox()
        var generator = SeededGenerator(seed: 7)
        let bytes = Data((0..<16384).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        try bytes.write(to: URL(fileURLWithPath: sandbox.replicaPath))
        for command in [["status"], ["put", "reports", "--body", "{}"], ["init"]] {
            let code = command == ["init"] ? Exit.replicaExists : Exit.notAReplica
            try await sandbox.fail(code, mentioning: command == ["init"] ? "already exists" : "not a Vigil replica", command)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: sandbox.replicaPath)) == bytes)
        let contents = try FileManager.default.contentsOfDirectory(atPath: sandbox.directory.path)
        #expect(contents == ["replica.sqlite"], "\(contents)")
    }

    @Test(
        "another program's SQLite database is not a replica (70) and stays byte for byte as it was",
        .enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 command"))
    func foreignDatabase() async throws {
        let sandbox = try CLISandbox()
        let sqlite = CLIRunner(executable: URL(fileURLWithPath: SQLiteShell.path))
        let made = try await sqlite.run([
            sandbox.replicaPath, "CREATE TABLE contacts (name TEXT); INSERT INTO contacts VALUES ('someone');",
        ])
        #expect(made.succeeded, "\(made)")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: sandbox.replicaPath))
        for command in [["status"], ["put", "reports", "--body", "{}"], ["get", "reports", "x"]] {
            try await sandbox.fail(Exit.notAReplica, mentioning: "not a Vigil replica", command)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: sandbox.replicaPath)) == bytes)
        let mode = try await sqlite.run([sandbox.replicaPath, "PRAGMA journal_mode"])
        #expect(mode.output == "delete")
    }

    @Test("a missing or readable-by-others device key file is refused (76)")
    func keyFileProblems() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let before = try await sandbox.snapshot()
        let keyPath = sandbox.replicaPath + ".key"
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: keyPath)
        try await sandbox.fail(76, mentioning: "chmod 600", ["put", "reports", "--body", "{}"])
        try FileManager.default.moveItem(atPath: keyPath, toPath: keyPath + ".away")
        try await sandbox.fail(76, mentioning: "missing", ["put", "reports", "--body", "{}"])
        try FileManager.default.moveItem(atPath: keyPath + ".away", toPath: keyPath)
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: keyPath)
        #expect(try await sandbox.snapshot() == before)
    }

    @Test(
        "a replica on a read-only disk cannot be written (73) and is unchanged",
        .enabled(if: TemporaryMount.isPermitted, "needs permission to mount a tmpfs (root)"))
    func readOnlyDisk() async throws {
        let sandbox = try CLISandbox()
        let mount = try TemporaryMount(kilobytes: 2048)
        defer { mount.unmount() }
        let path = mount.path("replica.sqlite")
        try await sandbox.succeed("init", "--db", path)
        _ = try await sandbox.put("reports", #"{"a": 1}"#, extra: ["--db", path])
        let before = try await sandbox.snapshot(path)
        try mount.setReadOnly(true)
        try await sandbox.fail(Exit.cannotWrite, mentioning: "read-only", ["put", "reports", "--body", "{}", "--db", path])
        try await sandbox.fail(Exit.cannotWrite, mentioning: "read-only", ["init", "--db", mount.path("other.sqlite")])
        try mount.setReadOnly(false)
        #expect(try await sandbox.snapshot(path) == before)
    }

    @Test(
        "a replica on a full disk is refused (74) and is unchanged once space is back",
        .enabled(if: TemporaryMount.isPermitted, "needs permission to mount a tmpfs (root)"))
    func fullDisk() async throws {
        let sandbox = try CLISandbox()
        let mount = try TemporaryMount(kilobytes: 2048)
        defer { mount.unmount() }
        let path = mount.path("replica.sqlite")
        try await sandbox.succeed("init", "--db", path)
        _ = try await sandbox.put("reports", #"{"a": 1}"#, extra: ["--db", path])
        let before = try await sandbox.snapshot(path)
        mount.fill()
        let body = #"{"text": ""# + String(repeating: "x", count: 20_000) + #""}"#
        try await sandbox.fail(Exit.diskOrIO, mentioning: "disk", ["put", "reports", "--body", body, "--db", path])
        try await sandbox.fail(Exit.diskOrIO, mentioning: "space", ["init", "--db", mount.path("other.sqlite")])
        try FileManager.default.removeItem(atPath: mount.path("filler"))
        #expect(try await sandbox.snapshot(path) == before)
    }
}
