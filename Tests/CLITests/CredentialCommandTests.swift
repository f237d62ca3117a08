import Foundation
import SyncClient
import Testing
import TestSupport

/// `fieldcli sync` with a saved credential (issue 10 §4), through the built binary: the credential
/// is refused for another hub than its own with advice naming the flags, and a credential file
/// others can read is refused. Neither case reaches the network: the hubs named here do not exist.
@Suite("Saved credential on the command line")
struct CredentialCommandTests {
    static let savedHub = "http://127.0.0.1:9"

    /// Saves a credential for `savedHub` as `fieldcli enroll` does (sealed when the replica is
    /// encrypted), then gives its file `mode`.
    static func saveCredential(_ sandbox: CLISandbox, mode: Int) throws {
        let hub = try #require(URL(string: savedHub))
        try HubCredentials(url: hub, token: "saved-credential-value").saveToken(for: CLISandbox.open(sandbox.replicaPath))
        let path = HubCredentials.credentialPath(forReplicaAt: sandbox.replicaPath)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    }

    /// Attack: `--hub` (or `VIGIL_HUB`) pointed at a host someone else holds, to collect the
    /// device's saved credential.
    @Test("another hub without --token is a usage error naming --token, and the credential is not printed")
    func anotherHubNeedsAToken() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        try Self.saveCredential(sandbox, mode: 0o600)
        for arguments in [["sync", "--hub", "http://127.0.0.1:10"], ["sync"]] {
            let environment = arguments.count == 1 ? ["VIGIL_HUB": "http://127.0.0.1:10"] : [:]
            let result = try await sandbox.runner.run(arguments, environment: environment)
            #expect(result.exitCode == Exit.usage, "\(result)")
            #expect(result.stderr.contains("--token"), "\(result)")
            #expect(result.stderr.contains(Self.savedHub), "\(result)")
            #expect(!result.stderr.contains("saved-credential-value"), "\(result)")
        }
    }

    @Test("a credential file others can read is refused with exit 76")
    func exposedCredentialFile() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        try Self.saveCredential(sandbox, mode: 0o644)
        let result = try await sandbox.fieldcli("sync")
        #expect(result.exitCode == 76, "\(result)")
        #expect(result.stderr.contains("chmod 600"), "\(result)")
    }
}
