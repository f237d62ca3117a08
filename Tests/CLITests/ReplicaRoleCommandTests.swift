import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import Testing
import TestSupport

/// A hub's database given to `fieldcli` or `syncd run`, or a device's replica given to `syncd
/// serve` and the hub's other commands, is refused with one sentence and an existing exit code
/// (issue 12: a replica file knows its role), and neither file changes role.
@Suite("Replica roles at the command line")
struct ReplicaRoleCommandTests {
    @Test("fieldcli on a hub's database: exit 70 and one sentence; the file stays a hub's")
    func fieldcliRefusesAHubsDatabase() async throws {
        let sandbox = try CLISandbox()
        let hubPath = sandbox.path("hub.sqlite")
        _ = try ReplicaStore.createHub(at: hubPath)
        for arguments in [["status", "--db", hubPath], ["history", "notes", "n1", "--db", hubPath]] {
            let result = try await sandbox.fail(Exit.notAReplica, mentioning: "is a hub's database, not a device's replica", arguments)
            #expect(result.stderr.contains("point --db (or VIGIL_DB)"), "\(result)")
        }
        #expect(try ReplicaStore.openHub(at: hubPath).role == .hub)
    }

    @Test("syncd serve, devices and run on the wrong file: exit 1 and one sentence")
    func syncdRefusesTheOtherRole() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let syncd = try CLIRunner(product: "syncd", environment: ["HOME": sandbox.directory.path])
        let device = sandbox.replicaPath
        let hubPath = sandbox.path("hub.sqlite")
        _ = try ReplicaStore.createHub(at: hubPath)
        let runs: [(arguments: [String], phrase: String)] = [
            (["serve", "--db", device, "--listen", "127.0.0.1:0"], "is a device's replica, not a hub's database"),
            (["devices", "list", "--db", device], "is a device's replica, not a hub's database"),
            (["run", "--db", hubPath, "--hub", "http://127.0.0.1:9", "--token", "x"], "is a hub's database, not a device's replica"),
        ]
        for run in runs {
            // An encrypted device replica is refused as well before anyone is asked for its passphrase.
            let result = try await syncd.run(run.arguments)
            #expect(!result.signaled && result.exitCode == 1, "\(result)")
            #expect(result.stderr.hasPrefix("syncd: ") && result.stderr.contains(run.phrase), "\(result)")
            #expect(result.stderr.split(separator: "\n").count == 1, "\(result)")
        }
        #expect(try CLISandbox.open(device).role == .device)
    }
}
