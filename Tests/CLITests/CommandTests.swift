import Foundation
import Testing
import TestSupport

/// Every command's happy path, through the built `fieldcli`, in text and in `--json`.
@Suite("fieldcli commands")
struct CommandTests {
    @Test("init creates a replica and its private key file, and refuses to overwrite it")
    func initCreatesReplica() async throws {
        let sandbox = try CLISandbox()
        let result = try await sandbox.succeed("init", "--json")
        let object = try result.json()
        #expect(object["path"] as? String == sandbox.replicaPath)
        #expect((object["replicaID"] as? String)?.count == 32)
        #expect(object["keyFile"] as? String == sandbox.replicaPath + ".key")
        let attributes = try FileManager.default.attributesOfItem(atPath: sandbox.replicaPath + ".key")
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)

        let before = try await sandbox.snapshot()
        try await sandbox.fail(Exit.replicaExists, mentioning: "already exists", ["init"])
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("init honours --db over VIGIL_DB and prints the path, id and key file")
    func initWithDatabaseFlag() async throws {
        let sandbox = try CLISandbox()
        let path = sandbox.path("nested/field.sqlite")
        let result = try await sandbox.succeed("init", "--db", path)
        #expect(result.stdout.contains(path))
        #expect(result.stdout.contains(path + ".key"))
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!FileManager.default.fileExists(atPath: sandbox.replicaPath))
    }

    @Test("put makes a UUIDv7 id, get shows the body, put with the id amends it")
    func putAndGet() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let created = try await sandbox.succeed("put", "reports", "--body", #"{"title": "Road blocked", "severity": 2}"#, "--json").json()
        let id = try #require(created["id"] as? String)
        #expect(id.count == 36 && id[id.index(id.startIndex, offsetBy: 14)] == "7")
        #expect(created["collection"] as? String == "reports")
        #expect((created["dot"] as? String)?.hasSuffix(":1") == true)

        let text = try await sandbox.succeed("get", "reports", id)
        #expect(text.stdout.contains("\"title\" : \"Road blocked\""))
        #expect(text.stdout.contains("partition default"))

        let amended = try await sandbox.put("reports", #"{"title": "Road blocked", "severity": 3}"#, id: id)
        #expect(amended == id)
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        let siblings = try #require(document["siblings"] as? [[String: Any]])
        #expect(siblings.count == 1)
        #expect((siblings[0]["body"] as? [String: Any])?["severity"] as? Int == 3)
        #expect(document["conflict"] as? Bool == false)
        #expect((siblings[0]["time"] as? String)?.hasSuffix("Z") == true)
    }

    @Test("put reads the body from a file, from --file - and from piped stdin")
    func putBodySources() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let file = sandbox.path("body.json")
        try Data(#"{"source": "file"}"#.utf8).write(to: URL(fileURLWithPath: file))
        let fromFile = try await sandbox.succeed("put", "notes", "--file", file).output
        let fromDash = try await sandbox.succeed("put", "notes", "--file", "-", stdin: #"{"source": "dash"}"#).output
        let fromPipe = try await sandbox.succeed("put", "notes", stdin: #"{"source": "pipe"}"#).output
        for (id, source) in [(fromFile, "file"), (fromDash, "dash"), (fromPipe, "pipe")] {
            let document = try await sandbox.succeed("get", "notes", id, "--json").json()
            let body = (document["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any]
            #expect(body?["source"] as? String == source)
        }
    }

    @Test("list is newest first, filters by partition, pages with a cursor, hides deleted documents")
    func listPagesAndFilters() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        var ids: [String] = []
        for index in 0..<5 {
            let partition = index.isMultiple(of: 2) ? "north" : "south"
            ids.append(try await sandbox.put("reports", #"{"n": \#(index)}"#, extra: ["--partition", partition]))
        }
        let all = try await sandbox.succeed("list", "reports", "--json").json()
        let listed = (all["documents"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
        #expect(listed == ids.reversed())
        #expect(all["nextCursor"] is NSNull)

        let north = try await sandbox.succeed("list", "reports", "--partition", "north", "--json").json()
        #expect((north["documents"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[4], ids[2], ids[0]])

        let first = try await sandbox.succeed("list", "reports", "--limit", "2", "--json").json()
        let cursor = try #require(first["nextCursor"] as? String)
        let second = try await sandbox.succeed("list", "reports", "--limit", "2", "--cursor", cursor, "--json").json()
        #expect((second["documents"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [ids[2], ids[1]])

        let text = try await sandbox.succeed("list", "reports", "--limit", "2")
        #expect(text.stdout.contains("--cursor "))
        #expect(text.stdout.contains(ids[4]) && !text.stdout.contains(ids[2]))

        try await sandbox.succeed("delete", "reports", ids[4])
        let live = try await sandbox.succeed("list", "reports", "--json").json()
        #expect((live["documents"] as? [[String: Any]])?.count == 4)
        let everything = try await sandbox.succeed("list", "reports", "--include-deleted", "--json").json()
        let deleted = (everything["documents"] as? [[String: Any]])?.first { $0["id"] as? String == ids[4] }
        #expect(deleted?["deleted"] as? Bool == true)
    }

    @Test("delete writes a tombstone that get and history show")
    func deleteWritesTombstone() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let id = try await sandbox.put("reports", #"{"title": "Duplicate"}"#)
        let deleted = try await sandbox.succeed("delete", "reports", id, "--json").json()
        #expect((deleted["dot"] as? String)?.hasSuffix(":2") == true)
        let document = try await sandbox.succeed("get", "reports", id, "--json").json()
        #expect(document["deleted"] as? Bool == true)
        #expect(try await sandbox.succeed("get", "reports", id).stdout.contains("deleted"))
        let history = try await sandbox.succeed("history", "reports", id, "--json").json()
        let versions = try #require(history["versions"] as? [[String: Any]])
        #expect(versions.map { $0["deleted"] as? Bool } == [false, true])
    }

    @Test("history lists every version with dot, author, time, context and a valid signature")
    func historyShowsVersions() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let replica = try await sandbox.succeed("status", "--json").json()["replicaID"] as? String
        let id = try await sandbox.put("reports", #"{"v": 1}"#)
        _ = try await sandbox.put("reports", #"{"v": 2}"#, id: id)
        let history = try await sandbox.succeed("history", "reports", id, "--json").json()
        let versions = try #require(history["versions"] as? [[String: Any]])
        #expect(versions.count == 2)
        #expect(versions.map { $0["signature"] as? String } == ["valid", "valid"])
        #expect(versions.allSatisfy { $0["author"] as? String == replica })
        #expect((versions[0]["context"] as? [String: Any])?.isEmpty == true)
        #expect((versions[1]["context"] as? [String: Any])?[replica ?? ""] as? Int == 1)
        #expect(versions.allSatisfy { $0["setAsideReason"] is NSNull })

        let text = try await sandbox.succeed("history", "reports", id)
        #expect(text.stdout.contains("signature  valid"))
        #expect(text.stdout.contains("2 versions"))
    }

    @Test("status counts documents per collection, deleted ones, versions and conflicts")
    func statusCounts() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        _ = try await sandbox.put("reports", #"{"a": 1}"#)
        let doomed = try await sandbox.put("reports", #"{"a": 2}"#)
        _ = try await sandbox.put("alerts", #"{"level": "high"}"#)
        try await sandbox.succeed("delete", "reports", doomed)
        let status = try await sandbox.succeed("status", "--json").json()
        #expect(status["counter"] as? Int == 4)
        #expect(status["versions"] as? Int == 4)
        #expect(status["deleted"] as? Int == 1)
        #expect(status["conflicts"] as? Int == 0)
        #expect(status["setAside"] as? Int == 0)
        #expect((status["documents"] as? [String: Int]) == ["reports": 1, "alerts": 1])
        let replica = try #require(status["replicaID"] as? String)
        #expect((status["knowledge"] as? [String: Int]) == [replica: 4])
        let text = try await sandbox.succeed("status")
        #expect(text.stdout.contains("alerts 1, reports 1"))
    }

    @Test("every command has help with examples")
    func helpHasExamples() async throws {
        let sandbox = try CLISandbox()
        for command in [
            ["init"], ["put"], ["get"], ["list"], ["delete"], ["history"], ["status"], ["conflicts", "list"],
            ["conflicts", "show"], ["conflicts", "resolve"],
        ] {
            let result = try await sandbox.runner.run(command + ["--help"])
            #expect(result.succeeded, "\(result)")
            #expect(result.stdout.contains("Examples:"), "\(command)")
            #expect(result.stdout.contains("--db"), "\(command)")
        }
    }
}
