import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Replica files")
struct LifecycleTests {
    @Test func createThenOpenGivesTheSameReplica() async throws {
        try await TemporaryReplica.withFolder { folder in
            let created = try folder.create()
            let written = try created.write(StoreFixtures.put("a", "first"))
            let opened = try folder.open()
            #expect(opened.replicaID == created.replicaID)
            #expect(opened.publicKey == created.publicKey)
            #expect(opened.path == folder.path("replica"))
            let document = try #require(try opened.document(written.key))
            #expect(document.siblings == [written])
            #expect(try opened.signatureStatus(of: written) == .valid)
            #expect(try opened.integrityProblems().isEmpty)
            let keyInfo = try FileManager.default.attributesOfItem(atPath: folder.path("replica") + ".key")
            #expect((keyInfo[.posixPermissions] as? NSNumber)?.intValue == 0o600, "the private key is the owner's only")
        }
    }

    @Test func createRefusesAnExistingFile() async throws {
        try await TemporaryReplica.withFolder { folder in
            let first = try folder.create()
            let error = #expect(throws: StoreError.self) { try folder.create() }
            #expect(error?.code == .replicaExists)
            #expect(try folder.open().replicaID == first.replicaID, "the existing replica is untouched")
        }
    }

    @Test func createMakesMissingFolders() async throws {
        try await TemporaryReplica.withFolder { folder in
            let path = folder.directory.appendingPathComponent("deep/er/replica.sqlite").path
            let store = try ReplicaStore.create(at: path, options: folder.options)
            #expect(try ReplicaStore.open(at: path, options: folder.options).replicaID == store.replicaID)
        }
    }

    @Test func openRefusesAMissingFile() async throws {
        try await TemporaryReplica.withFolder { folder in
            let error = #expect(throws: StoreError.self) { try folder.open("nothing") }
            #expect(error?.code == .replicaMissing)
            #expect(error?.message == "There is no replica at \(folder.path("nothing")).", "a fact; fieldcli adds what to do")
            #expect(!FileManager.default.fileExists(atPath: folder.path("nothing")), "opening creates nothing")
        }
    }

    @Test func openRefusesAnotherProgramsSQLiteFile() async throws {
        try await TemporaryReplica.withFolder { folder in
            let path = folder.path("foreign")
            #expect(StoreFixtures.foreignSQLite.count == 1024)
            try StoreFixtures.foreignSQLite.write(to: URL(fileURLWithPath: path))
            let error = #expect(throws: StoreError.self) { try folder.open("foreign") }
            #expect(error?.code == .notAReplica)
        }
    }

    @Test func openRefusesAReplicaWhoseApplicationIDWasChanged() async throws {
        try await TemporaryReplica.withFolder { folder in
            do { _ = try folder.create("patched") }  // closed at the end of the scope
            let url = URL(fileURLWithPath: folder.path("patched"))
            var bytes = try Data(contentsOf: url)
            #expect(bytes[68..<72] == Data([0x56, 0x47, 0x49, 0x4c]), "the header holds 'VGIL'")
            bytes.replaceSubrange(68..<72, with: [0, 0, 0, 1])
            try bytes.write(to: url)
            let error = #expect(throws: StoreError.self) { try folder.open("patched") }
            #expect(error?.code == .notAReplica)
        }
    }

    @Test(arguments: [0, 1, 100, 4096])
    func openRefusesGarbage(size: Int) async throws {
        try await TemporaryReplica.withFolder { folder in
            var random = SeededGenerator(seed: UInt64(size))
            let garbage = Data((0..<size).map { _ in UInt8.random(in: 0...255, using: &random) })
            try garbage.write(to: URL(fileURLWithPath: folder.path("garbage")))
            let error = #expect(throws: StoreError.self) { try folder.open("garbage") }
            #expect(error?.code == .notAReplica)
        }
    }

    @Test func openRefusesAnotherReplicasKeyFile() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("one")
            _ = try folder.create("two")
            let oneKey = folder.path("one") + ".key"
            try FileManager.default.removeItem(atPath: oneKey)
            try FileManager.default.copyItem(atPath: folder.path("two") + ".key", toPath: oneKey)
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: oneKey)
            let error = #expect(throws: StoreError.self) { try folder.open("one") }
            #expect(error?.code == .keyFile)
        }
    }

    @Test func openRefusesAMissingOrExposedKeyFile() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("exposed")
            let key = folder.path("exposed") + ".key"
            try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: key)
            let exposed = #expect(throws: StoreError.self) { try folder.open("exposed") }
            #expect(exposed?.code == .keyFileExposed)
            #expect(exposed?.message.contains("it is not used until only its owner can read it") == true)
            try FileManager.default.removeItem(atPath: key)
            let error = #expect(throws: StoreError.self) { try folder.open("exposed") }
            #expect(error?.code == .keyFile)
        }
    }

    @Test func aKeyFileThatIsNotAKeyIsRefused() async throws {
        try await TemporaryReplica.withFolder { folder in
            _ = try folder.create("bad")
            let key = folder.path("bad") + ".key"
            try Data("not a key\n".utf8).write(to: URL(fileURLWithPath: key))
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
            let error = #expect(throws: StoreError.self) { try folder.open("bad") }
            #expect(error?.code == .keyFile)
        }
    }

    @Test func defaultPathFollowsTheEnvironment() {
        #expect(ReplicaStore.defaultPath(environment: ["VIGIL_DB": "/x/r.sqlite", "HOME": "/h"]) == "/x/r.sqlite")
        #expect(
            ReplicaStore.defaultPath(environment: ["XDG_DATA_HOME": "/d", "HOME": "/h"]) == "/d/vigil/replica.sqlite")
        #expect(ReplicaStore.defaultPath(environment: ["HOME": "/h"]) == "/h/.local/share/vigil/replica.sqlite")
        #expect(
            ReplicaStore.defaultPath(environment: ["VIGIL_DB": "", "HOME": "/h"])
                == "/h/.local/share/vigil/replica.sqlite")
    }
}
