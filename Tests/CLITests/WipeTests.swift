import AtRest
import Foundation
import ReplicaStore
import Testing
import TestSupport

/// `fieldcli wipe`: crypto-shredding, then removal.
@Suite("fieldcli wipe")
struct WipeTests {
    /// Issue 16's quick wipe, the schedule: an observer wipes an encrypted replica; the captor
    /// then recovers every byte of the removed database, WAL, key and credential files (as if
    /// carved from free blocks) and the data key file's blocks as the wipe left them, and knows the
    /// passphrase. Nothing opens: the data key was overwritten in place before anything was removed.
    @Test("wipe --now destroys the data key in place, then removes every file; recovered files and the passphrase open nothing")
    func wipeShredsTheDataKey() async throws {
        let field = try EncryptedReplicaTests.Field()
        try await field.initialize()
        try await field.succeed("put", "reports", "--body", #"{"title": "Checkpoint at Kutum moved north"}"#)
        let dataKeyPath = ReplicaStore.dataKeyPath(forReplicaAt: field.replica)
        let original = try Data(contentsOf: URL(fileURLWithPath: dataKeyPath))
        // The data key file's blocks, as the captor will read them: held open through the wipe.
        let blocks = try #require(FileHandle(forReadingAtPath: dataKeyPath))
        defer { try? blocks.close() }
        var carved: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: field.folder.path) where !name.hasSuffix(".datakey") {
            carved[name] = try Data(contentsOf: field.folder.appendingPathComponent(name))
        }

        let result = try await field.sandbox.runner.run(["wipe", "--now", "--db", field.replica, "--json"])
        #expect(result.succeeded, "\(result)")
        #expect(try result.json()["shreddedDataKey"] as? Bool == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: field.folder.path).isEmpty)
        let left = try blocks.readToEnd() ?? Data()
        #expect(left.count == original.count && left != original)
        #expect(throws: AtRestError.self) { try WrappedDataKey.decode(left) }

        carved[(dataKeyPath as NSString).lastPathComponent] = left
        for (name, bytes) in carved {
            let path = field.folder.appendingPathComponent(name).path
            #expect(FileManager.default.createFile(atPath: path, contents: bytes, attributes: [.posixPermissions: 0o600]))
        }
        let error = #expect(throws: StoreError.self) { try field.open() }
        #expect(error?.code == .keyFile, "\(String(describing: error))")
        carved[(dataKeyPath as NSString).lastPathComponent] = nil
        for bytes in carved.values { #expect(bytes.range(of: Data("Kutum".utf8)) == nil) }
    }

    /// Replays a review's finding: the replica's database is damaged (here cut to 100 bytes) or
    /// gone, its data key beside it. Before, `wipe` first opened the database, found no replica,
    /// and destroyed nothing: the key, the device key and the credential stayed, and whoever had
    /// the passphrase read what the pages left. A data key beside the path is shredded whatever
    /// the database's state.
    @Test("wipe shreds the data key of a replica whose database is damaged or gone")
    func wipeShredsTheKeyOfADamagedReplica() async throws {
        for damage in ["cut", "gone"] {
            let field = try EncryptedReplicaTests.Field()
            try await field.initialize()
            let handle = try #require(FileHandle(forWritingAtPath: field.replica))
            if damage == "cut" { try handle.truncate(atOffset: 100) }
            try handle.close()
            if damage == "gone" { try FileManager.default.removeItem(atPath: field.replica) }
            let result = try await field.sandbox.runner.run(["wipe", "--now", "--db", field.replica, "--json"])
            #expect(result.succeeded, "\(damage): \(result)")
            #expect(try result.json()["shreddedDataKey"] as? Bool == true, "\(damage)")
            #expect(try FileManager.default.contentsOfDirectory(atPath: field.folder.path).isEmpty, "\(damage)")
        }
    }

    @Test("wipe without --now and without a terminal removes nothing; a plain replica is removed with a warning")
    func confirmationAndPlainReplicas() async throws {
        let field = try EncryptedReplicaTests.Field(encrypted: false)
        try await field.initialize()
        if open("/dev/tty", O_RDWR | O_NOCTTY) < 0 {
            let refused = try await field.sandbox.runner.run(["wipe", "--db", field.replica])
            #expect(refused.exitCode == EncryptedReplicaTests.locked, "\(refused)")
            #expect(FileManager.default.fileExists(atPath: field.replica))
        }
        let result = try await field.sandbox.runner.run(["wipe", "--now", "--db", field.replica])
        #expect(result.succeeded && result.stdout.contains("may remain readable"), "\(result)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: field.folder.path).isEmpty)
        let foreign = field.sandbox.path("other.sqlite")
        try Data("not a database".utf8).write(to: URL(fileURLWithPath: foreign))
        let notReplica = try await field.sandbox.runner.run(["wipe", "--now", "--db", foreign])
        #expect(notReplica.exitCode == 70, "\(notReplica)")
        #expect(FileManager.default.fileExists(atPath: foreign))
    }
}
