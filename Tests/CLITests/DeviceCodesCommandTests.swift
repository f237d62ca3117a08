import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `syncd devices add` asks for scopes instead of granting everything, and `syncd devices codes
/// list|cancel` (issue 10 §4), as processes on a hub database file.
@Suite("syncd devices add and codes")
struct DeviceCodesCommandTests {
    /// Before: `syncd devices add NAME` from a script silently granted read and write of
    /// everything. Now it is a usage error naming the flags; --all says it on purpose.
    @Test("devices add without --read/--write and no terminal: exit 64, no code; --all grants everything")
    func addWithoutScopesFromAScriptIsAUsageError() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        for arguments in [["amina"], ["amina", "--read", "notes"], ["amina", "--write", "none"]] {
            let refused = try await syncd.run(["devices", "add"] + arguments + ["--db", path])
            #expect(refused.exitCode == 64, "\(refused)")
            #expect(refused.stderr.contains("Say what the device may read and write with --read and --write (or --all for everything); there is no terminal to ask on."), "\(refused)")
        }
        let both = try await syncd.run(["devices", "add", "amina", "--all", "--read", "notes", "--db", path])
        #expect(both.exitCode == 64, "\(both)")
        if FileManager.default.fileExists(atPath: path) {
            #expect(try ReplicaStore.openHub(at: path).unusedEnrollmentCodes().isEmpty)
        }

        let all = try await syncd.run(["devices", "add", "amina", "--all", "--db", path, "--json"]).json()
        #expect(all["read"] as? [String] == ["*/*"])
        #expect(all["write"] as? [String] == ["*/*"])
        let scoped = try await syncd.run(["devices", "add", "bruno", "--read", "notes", "--write", "none", "--db", path, "--json"]).json()
        #expect(scoped["read"] as? [String] == ["notes/*"])
        #expect(scoped["write"] as? [String] == [])
    }

    /// On a terminal (here a pseudo-terminal made by `script`), the scopes not given are asked for.
    @Test(
        "devices add on a terminal asks for the scopes it was not given",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1)"))
    func addOnATerminalAsks() async throws {
        let sandbox = try CLISandbox()
        let syncdPath = try CLIRunner.productsDirectory(containing: "syncd").appendingPathComponent("syncd").path
        let path = sandbox.path("hub.sqlite")
        let script = CLIRunner(executable: URL(fileURLWithPath: "/usr/bin/script"), environment: ["HOME": sandbox.directory.path])
        let result = try await script.run(
            ["-qec", "\(syncdPath) devices add amina --read notes --db \(path)", "/dev/null"], stdin: Data("none\n".utf8))
        #expect(result.succeeded, "\(result)")
        #expect(result.stdout.contains("What may the device write?"), "\(result)")
        let codes = try ReplicaStore.openHub(at: path).unusedEnrollmentCodes()
        #expect(codes.map(\.deviceName) == ["amina"])
        #expect(codes.first?.grants == AccessGrants(read: Scope(text: "notes") ?? .nothing, write: .nothing))
    }

    @Test("codes list shows unused codes without the code; cancel by name or hash prefix, audited; a cancelled code does not enroll")
    func listAndCancelCodes() async throws {
        let sandbox = try CLISandbox()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let path = sandbox.path("hub.sqlite")
        let none = try await syncd.run(["devices", "codes", "list", "--db", path])
        #expect(none.succeeded && none.stdout == "No unused enrollment codes.\n", "\(none)")

        var codes: [String: String] = [:]
        for name in ["amina", "bruno", "chen"] {
            let added = try await syncd.run(["devices", "add", name, "--all", "--db", path, "--json"]).json()
            codes[name] = try #require(added["code"] as? String)
        }
        let listed = try await syncd.run(["devices", "codes", "list", "--db", path, "--json"])
        #expect(listed.succeeded, "\(listed)")
        for code in codes.values {
            #expect(!listed.stdout.contains(code) && !listed.stdout.contains(code.replacingOccurrences(of: "-", with: "")))
        }
        let objects = try #require(try listed.json()["codes"] as? [[String: Any]])
        #expect(objects.compactMap { $0["name"] as? String } == ["amina", "bruno", "chen"])
        #expect(objects.allSatisfy { ($0["hash"] as? String)?.count == 12 && $0["expiresAt"] is String && $0["createdAt"] is String })
        let brunoHash = try #require(objects.first { $0["name"] as? String == "bruno" }?["hash"] as? String)

        let byName = try await syncd.run(["devices", "codes", "cancel", "amina", "--db", path])
        #expect(byName.succeeded && byName.stdout.contains("Cancelled the code"), "\(byName)")
        let byHash = try await syncd.run(["devices", "codes", "cancel", String(brunoHash.prefix(8)), "--db", path])
        #expect(byHash.succeeded && byHash.stdout.contains("for bruno"), "\(byHash)")
        let unknown = try await syncd.run(["devices", "codes", "cancel", "nobody", "--db", path])
        #expect(unknown.exitCode == 1 && unknown.stderr.hasPrefix("syncd: No unused code"), "\(unknown)")

        let left = try await syncd.run(["devices", "codes", "list", "--db", path])
        #expect(left.stdout.split(separator: "\n").count == 1 && left.stdout.contains("chen"), "\(left)")

        let hub = try ReplicaStore.openHub(at: path)
        let cancelled = try hub.auditEntries(after: 0, limit: 100).filter { $0.action == .codeCancelled }
        #expect(cancelled.map(\.subject) == ["amina", "bruno"])
        #expect(cancelled.last?.detail["code"] == brunoHash)
        let aminaCode = try #require(codes["amina"])
        let hash = try #require(EnrollmentCode.hash(aminaCode))
        let outcome = try hub.enrollDevice(
            codeHash: hash, replica: .random(), publicKey: DeviceKey().publicKey, credentialHash: Data("c".utf8))
        #expect(outcome != .enrolled(name: "amina"))
    }
}
