import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Testing
import TestSupport
@testable import fieldcli

/// `fieldcli sync` in process: exit codes of the fixed table, and the token saved after a success.
@Suite("Client command")
struct ClientCommandTests {
    /// Runs `fieldcli sync ARGUMENTS` in this process (with the passphrase of an encrypted test replica).
    static func run(_ arguments: [String]) async throws {
        try await TemporaryReplica.withPassphraseArguments { passphrase in
            try await FieldCLI.Sync.parse(arguments + passphrase).run()
        }
    }

    /// The exit code `fieldcli sync ARGUMENTS` ends with, as `fieldcli`'s main translates errors;
    /// nil, with the error recorded, for an error main would report as unexpected.
    static func exitCode(_ arguments: [String]) async -> Int32? {
        do {
            try await run(arguments)
            return 0
        } catch let error as ExitCode {
            return error.rawValue
        } catch {
            if let diagnostic = Diagnostic(error) { return diagnostic.exitCode.rawValue }
            Issue.record(error, "fieldcli sync \(arguments.joined(separator: " ")) failed unexpectedly")
            return nil
        }
    }

    @Test("unreachable 69, refused 77, not configured 64, success saves the token")
    func exitCodes() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let store = try folder.create("field")
                try store.write(WriteIntent(key: DocumentKey(collection: CollectionName("notes")!, id: DocumentID("a")!), body: Data("{}".utf8)))
                let db = ["--db", store.path, "--json"]
                #expect(await Self.exitCode(db) == 64)
                #expect(await Self.exitCode(db + ["--hub", "http://127.0.0.1:1", "--token", "t", "--timeout", "2"]) == 69)
                #expect(await Self.exitCode(db + ["--hub", hub.url.absoluteString, "--token", "wrong"]) == 77)
                #expect(!FileManager.default.fileExists(atPath: HubCredentials.credentialPath(forReplicaAt: store.path)))
                let token = try await hub.enroll(store)
                #expect(await Self.exitCode(db + ["--hub", hub.url.absoluteString, "--token", token]) == 0)
                #expect(HubCredentials.savedToken(for: store) == token)
                // The next run needs no flags.
                #expect(await Self.exitCode(db) == 0)
                #expect(throws: (any Error).self) {
                    var command = try FieldCLI.Sync.parse(["--hub", "ftp://x"])
                    try command.validate()
                }
            }
        }
    }
}
