import Foundation
import ReplicaStore
import SyncEngine
import Records
import Testing
import TestSupport

/// `fieldcli import COLLECTION FILE` through the built binary: JSON lines and CSV, every line
/// checked first, bad lines named, nothing written without `--skip-invalid`, distinct exit codes.
@Suite("fieldcli import", .serialized)
struct ImportCommandTests {
    static let importRefused: Int32 = 82
    static let importSkipped: Int32 = 83

    static func observation(region: String = "SD-DN", notes: String = "Shelters burned at dawn", id: String? = nil) -> String {
        RecordBodies.observation(region: region, extra: " \(notes)").replacingOccurrences(of: "\n", with: " ")
            .replacingOccurrences(of: "{\"schema_version\"", with: id.map { "{\"id\": \"\($0)\", \"schema_version\"" } ?? "{\"schema_version\"")
    }

    static func write(_ sandbox: CLISandbox, _ name: String, _ lines: [String]) throws -> String {
        let path = sandbox.path(name)
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    static func count(_ sandbox: CLISandbox, _ collection: String = "observations") async throws -> Int {
        let listed = try jsonObject(try await sandbox.succeed("list", collection, "--json", "--limit", "1000").stdout)
        return (listed["documents"] as? [Any])?.count ?? -1
    }

    @Test("a JSON lines file is imported: every record written, the count printed, ids from the id field")
    func importsJSONLines() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let file = try Self.write(sandbox, "march.jsonl", (0..<40).map { Self.observation(notes: "report \($0)", id: $0 == 7 ? "obs-7" : nil) })
        let result = try await sandbox.succeed("import", "observations", file)
        #expect(result.output == "Imported 40 records into observations.")
        #expect(try await Self.count(sandbox) == 40)
        let document = try jsonObject(try await sandbox.succeed("get", "observations", "obs-7", "--json").stdout)
        #expect(document["partition"] as? String == "SD-DN")
        let json = try jsonObject(try await sandbox.succeed("import", "observations", file, "--json", "--skip-invalid").stdout)
        #expect(json["imported"] as? Int == 40)
        #expect(try await Self.count(sandbox) == 79, "40 new documents, and a new version of obs-7")
    }

    @Test("bad lines are named by line, field and reason, and nothing is written (82); --skip-invalid writes the rest (83)")
    func badLines() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let before = try await sandbox.snapshot()
        let file = try Self.write(sandbox, "mixed.jsonl", [
            Self.observation(), Self.observation().replacingOccurrences(of: #""admin1": "SD-DN""#, with: #""admin1": "XX-1""#), "{not json", Self.observation(notes: "fine"),
        ])
        let refused = try await sandbox.fieldcli("import", "observations", file)
        #expect(refused.exitCode == Self.importRefused, "\(refused)")
        let lines = refused.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 3, "\(refused)")
        #expect(lines[0].hasPrefix("fieldcli: line 2: location.admin1: is 'XX-1'"), "\(lines)")
        #expect(lines[1].hasPrefix("fieldcli: line 3: (line): "))
        #expect(lines[2] == "fieldcli: Nothing was imported: 2 invalid lines among 4 records; fix them, or pass --skip-invalid to import the others.")
        #expect(refused.stdout.isEmpty)
        #expect(try await sandbox.snapshot() == before)

        let skipped = try await sandbox.fieldcli("import", "observations", file, "--skip-invalid")
        #expect(skipped.exitCode == Self.importSkipped, "\(skipped)")
        #expect(skipped.stderr.contains("Imported 2 of 4 records into observations; skipped 2 invalid lines."))
        #expect(try await Self.count(sandbox) == 2)
    }

    @Test("a CSV file with a header row: dotted names nest, typed columns hold, stdin with --format")
    func importsCSV() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let csv = """
            id,schema_version,report_kind,event_date,event_type,sub_event_type,actor1.name,actor1.inter,location.country,location.admin1,observation_mode,notes:string
            c-1,1,incident,2026-03-01,Violence against civilians,Attack,"Armed group, unknown",3,SD,SD-DN,witness_account,12
            c-2,1,incident,2026-03-02,Violence against civilians,Attack,Militia,3,SD,SD-DS,witness_account,

            """
        let file = sandbox.path("reports.csv")
        try Data(csv.utf8).write(to: URL(fileURLWithPath: file))
        try await sandbox.succeed("import", "observations", file)
        let document = try jsonObject(try await sandbox.succeed("get", "observations", "c-1", "--json").stdout)
        let body = try #require((document["siblings"] as? [[String: Any]])?.first?["body"] as? [String: Any])
        #expect(body["notes"] as? String == "12")
        #expect((body["actor1"] as? [String: Any])?["name"] as? String == "Armed group, unknown")
        #expect(body["id"] == nil)
        try await sandbox.succeed("import", "notes", "-", "--format", "jsonl", "--partition", "north", stdin: "{\"text\": \"a\"}\n{\"text\": \"b\"}\n")
        #expect(try await Self.count(sandbox, "notes") == 2)
    }

    @Test("usage and input problems: unknown format 64, unusable header 82, unreadable file 65, partition of a record 65")
    func usage() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let text = try Self.write(sandbox, "a.txt", ["{}"])
        try await sandbox.fail(Exit.usage, mentioning: "--format", ["import", "notes", text])
        try await sandbox.fail(Exit.usage, mentioning: "--format", ["import", "notes", "-"], stdin: "{}")
        let header = try Self.write(sandbox, "bad.csv", ["a,a", "1,2"])
        try await sandbox.fail(Self.importRefused, mentioning: "line 1: a: the header names this field twice", ["import", "notes", header])
        try await sandbox.fail(Exit.invalidInput, mentioning: "cannot read", ["import", "notes", sandbox.path("missing.jsonl")])
        let records = try Self.write(sandbox, "r.jsonl", [Self.observation()])
        try await sandbox.fail(Exit.invalidInput, mentioning: "--partition", ["import", "observations", records, "--partition", "north"])
    }

    /// The attack of the seized-device threat model: a captor copies an encrypted replica after a
    /// bulk import; no imported report may be readable in the copy.
    @Test("an import into an encrypted replica seals every body")
    func encryptedImport() async throws {
        let field = try EncryptedReplicaTests.Field()
        try await field.initialize()
        let secret = "Zamzam north gate witness 4471"
        let file = try Self.write(field.sandbox, "secret.jsonl", (0..<20).map { Self.observation(notes: "\(secret) \($0)") })
        let result = try await field.run(["import", "observations", file])
        #expect(result.succeeded, "\(result)")
        for name in try FileManager.default.contentsOfDirectory(atPath: field.folder.path) {
            let bytes = try Data(contentsOf: field.folder.appendingPathComponent(name))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(name) holds an imported report in clear")
        }
        #expect(try field.open().status().documentsPerCollection[RecordKind.observation.collection] == 20)
    }
}

/// An import on an enrolled replica that holds no informant key yet (the network has none, or a
/// PostgreSQL hub that serves none).
@Suite("fieldcli import and the informant key check", .serialized)
struct ImportInformantKeyCheckTests {
    static let peer = "hub"
    static let sixHours: UInt64 = 6 * 3_600_000

    /// An enrolled replica (a pinned hub) that asked for the informant key a moment ago.
    static func enrolledSandbox() async throws -> CLISandbox {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let store = try CLISandbox.open(sandbox.replicaPath)
        try store.pinHub(ReplicaID.random(), key: DeviceKey().publicKey)
        try store.noteInformantKeyCheck(peer: peer)
        return sandbox
    }

    /// Schedule (found by the cluster check, 6 December): every `fieldcli import` on an enrolled
    /// replica with no informant key cleared the 6-hour check, so each sync after an import asked
    /// the hub for the key again: an extra round trip on a paid link, 39 in 58 syncs there.
    @Test("an import with no informant reference leaves the six-hour check alone")
    func importWithoutReferencesDoesNotAskAgain() async throws {
        let sandbox = try await Self.enrolledSandbox()
        let file = try ImportCommandTests.write(sandbox, "notes.jsonl", [#"{"text": "water point dry"}"#, #"{"text": "road open"}"#])
        try await sandbox.succeed("import", "notes", file)
        #expect(try CLISandbox.open(sandbox.replicaPath).informantKeyCheckIsDue(peer: Self.peer, interval: Self.sixHours) == false)
    }

    @Test("an import refused for the want of the informant key makes the next sync ask at once")
    func importRefusedForTheKeyAsksAgain() async throws {
        let sandbox = try await Self.enrolledSandbox()
        let file = try ImportCommandTests.write(sandbox, "march.jsonl", [ImportCommandTests.observation()])
        let refused = try await sandbox.fieldcli("import", "observations", file)
        #expect(refused.exitCode == ImportCommandTests.importRefused, "\(refused)")
        #expect(refused.stderr.contains(ImportIssue.informantReference), "\(refused)")
        #expect(try CLISandbox.open(sandbox.replicaPath).informantKeyCheckIsDue(peer: Self.peer, interval: Self.sixHours))
    }
}
