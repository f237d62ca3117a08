import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `fieldcli bundle export|import` and `syncd bundle import` as processes: the sentences, the exit
/// codes, and that a refused file changes nothing.
@Suite("fieldcli bundle", .serialized)
struct BundleCommandTests {
    static let damaged: Int32 = 90

    /// A sandbox whose default replica holds three notes, and a second replica `b.sqlite` that
    /// holds the first one's key (as if certified): B can verify what A exports.
    static func twoReplicas() async throws -> (sandbox: CLISandbox, b: String) {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let b = sandbox.path("b.sqlite")
        try await sandbox.initialize(b)
        for index in 1...3 { _ = try await sandbox.put("notes", #"{"title":"report \#(index)"}"#, id: "r\(index)") }
        let a = try CLISandbox.open(sandbox.replicaPath)
        try CLISandbox.open(b).savePublicKeys([a.replicaID: a.publicKey])
        return (sandbox, b)
    }

    @Test("export --all then import: the versions arrive, a second import changes nothing, the answer carries only what A lacks")
    func exportAndImport() async throws {
        let (sandbox, b) = try await Self.twoReplicas()
        let file = sandbox.path("a.vigil")
        let exported = try await sandbox.succeed("bundle", "export", "--all", "--out", file)
        #expect(exported.output.hasPrefix("Wrote 3 versions ("))
        let a = try CLISandbox.open(sandbox.replicaPath).replicaID

        let imported = try await sandbox.succeed("bundle", "import", file, "--db", b)
        #expect(imported.output == "Imported the bundle of replica \(a.short): 3 new versions, 0 already held.")
        let before = try await sandbox.snapshot(b)
        let again = try await sandbox.succeed("bundle", "import", file, "--db", b)
        #expect(again.output == "Imported the bundle of replica \(a.short): 0 new versions, 3 already held.")
        #expect(try await sandbox.snapshot(b) == before)

        _ = try await sandbox.put("notes", #"{"title":"from b"}"#, id: "b1", extra: ["--db", b])
        let answer = sandbox.path("b.vigil")
        let back = try await sandbox.succeed("bundle", "export", "--to", String(a.hex.prefix(8)), "--out", answer, "--db", b, "--json")
        #expect(try back.json()["versions"] as? Int == 1)
        try await sandbox.fail(64, mentioning: "--all", ["bundle", "export", "--out", answer])
    }

    @Test("a truncated or altered bundle exits 90 with one sentence and changes nothing")
    func damagedFilesChangeNothing() async throws {
        let (sandbox, b) = try await Self.twoReplicas()
        let file = sandbox.path("a.vigil")
        try await sandbox.succeed("bundle", "export", "--all", "--out", file)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let before = try await sandbox.snapshot(b)

        let cut = sandbox.path("cut.vigil")
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: cut))
        try await sandbox.fail(Self.damaged, mentioning: "cut short", ["bundle", "import", cut, "--db", b])

        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x01
        let altered = sandbox.path("altered.vigil")
        try flipped.write(to: URL(fileURLWithPath: altered))
        try await sandbox.fail(Self.damaged, mentioning: "altered", ["bundle", "import", altered, "--db", b])
        try await sandbox.fail(Self.damaged, mentioning: "not a Vigil bundle", ["bundle", "import", sandbox.replicaPath, "--db", b])
        #expect(try await sandbox.snapshot(b) == before)
    }

    @Test("syncd bundle import: a cut file exits 65 and changes nothing; a whole one is admitted as a push (unknown author quarantined)")
    func hubImport() async throws {
        let (sandbox, _) = try await Self.twoReplicas()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let hubPath = sandbox.path("hub.sqlite")
        _ = try ReplicaStore.createHub(at: hubPath)
        let file = sandbox.path("a.vigil")
        try await sandbox.succeed("bundle", "export", "--all", "--out", file)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let cut = sandbox.path("cut.vigil")
        try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: cut))

        let refused = try await syncd.run(["bundle", "import", cut, "--db", hubPath])
        #expect(!refused.signaled && refused.exitCode == 65, "\(refused)")
        #expect(refused.stderr.hasPrefix("syncd: The bundle is cut short"), "\(refused)")
        #expect(try ReplicaStore.openHub(at: hubPath).status().versions == 0)

        // A was never enrolled at this hub: its versions are kept in quarantine, as a push of them would be.
        let admitted = try await syncd.run(["bundle", "import", file, "--db", hubPath, "--json"])
        #expect(admitted.succeeded, "\(admitted)")
        let object = try admitted.json()
        #expect(object["versions"] as? Int == 3 && object["accepted"] as? Int == 0)
        let reasons = (object["rejected"] as? [[String: Any]])?.compactMap { $0["reason"] as? String }
        #expect(reasons == ["bad-signature", "bad-signature", "bad-signature"])
    }
}
