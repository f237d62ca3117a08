import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Files that hold reports or secrets are created 0600 in folders created 0700 (issue 10 §4):
/// a replica and its key, its WAL and shared-memory files, exports. The schedule replayed: another
/// user on the same machine reading a device's reports because the files were made with the
/// default umask (0644 files, 0755 folders).
@Suite("File permissions")
struct FilePermissionTests {
    static func mode(_ path: String) -> Int? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return Int(info.st_mode & 0o7777)
    }

    static func expectMode(_ path: String, _ expected: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let actual = mode(path)
        #expect(
            actual == expected,
            "\(path): \(actual.map { String($0, radix: 8) } ?? "missing"), expected \(String(expected, radix: 8))",
            sourceLocation: sourceLocation)
    }

    @Test("init creates the replica, its key, WAL and SHM 0600 in new folders 0700; an export is 0600")
    func replicaAndExport() async throws {
        let sandbox = try CLISandbox()
        let outer = sandbox.path("field")
        let inner = outer + "/reports"
        let replica = inner + "/replica.sqlite"
        try await sandbox.succeed("init", "--db", replica)
        Self.expectMode(outer, 0o700)
        Self.expectMode(inner, 0o700)
        Self.expectMode(replica, 0o600)
        Self.expectMode(replica + ".key", 0o600)

        // An open replica with a write has its WAL and shared-memory files: SQLite gives them the
        // main file's mode.
        let store = try ReplicaStore.open(at: replica)
        let key = DocumentKey(collection: try #require(CollectionName("notes")), id: try #require(DocumentID("n1")))
        try store.write(WriteIntent(key: key, body: Data(#"{"title":"private"}"#.utf8)))
        Self.expectMode(replica + "-wal", 0o600)
        Self.expectMode(replica + "-shm", 0o600)

        // An export replaces whatever was there with a private file.
        let export = sandbox.path("march.csv")
        #expect(FileManager.default.createFile(atPath: export, contents: Data("old".utf8), attributes: [.posixPermissions: 0o644]))
        try await sandbox.succeed("export", "observations", "--format", "csv", "--out", export, "--db", replica)
        Self.expectMode(export, 0o600)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: sandbox.directory.path).filter { $0.contains(".tmp-") }
        #expect(leftovers.isEmpty)
    }

    /// Schedule: an observer runs `fieldcli init --db r/replica.sqlite` from their home folder.
    /// Before the fix Foundation's `deletingLastPathComponent` trapped on the one-letter folder
    /// name and the command died with SIGILL.
    @Test("init with a relative path under a new one-letter folder creates it 0700")
    func relativePathWithAOneLetterFolder() async throws {
        let sandbox = try CLISandbox()
        let result = try await sandbox.runner.run(["init", "--db", "r/replica.sqlite"], currentDirectory: sandbox.directory)
        #expect(result.succeeded && !result.signaled, "\(result)")
        Self.expectMode(sandbox.path("r"), 0o700)
        Self.expectMode(sandbox.path("r/replica.sqlite"), 0o600)
        #expect(PrivateFile.parentFolder(of: "r") == "")
        #expect(PrivateFile.parentFolder(of: "r/replica.sqlite") == "r")
        #expect(PrivateFile.parentFolder(of: "/replica.sqlite") == "/")
        #expect(PrivateFile.parentFolder(of: "/a//b/") == "/a")
        #expect(PrivateFile.parentFolder(of: "./x/y/replica.sqlite") == "./x/y")
    }

    @Test("a failed init keeps a key file that was already there")
    func failedInitKeepsAnExistingKey() async throws {
        let sandbox = try CLISandbox()
        let replica = sandbox.path("replica.sqlite")
        #expect(FileManager.default.createFile(atPath: replica + ".key", contents: Data("kept\n".utf8), attributes: [.posixPermissions: 0o600]))
        let result = try await sandbox.fieldcli("init", "--db", replica)
        #expect(!result.succeeded)
        #expect(FileManager.default.contents(atPath: replica + ".key") == Data("kept\n".utf8))
        #expect(!FileManager.default.fileExists(atPath: replica))
    }
}
