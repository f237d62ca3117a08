import AtRest
import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Issue 16, "forgetting is erasure": what a device forgets leaves no plaintext in the replica's
/// free pages or its WAL, where a captor copying the files would read it.
@Suite("Erasure of forgotten documents", .serialized)
struct ErasureTests {
    static let notes = CollectionName("notes")!
    static let shortText = "Militia trucks crossed the Wadi Kaja ford at 04:10"
    static let longText = "Names of the nine detained at the Geneina market checkpoint"

    /// The files a captor copies: the replica, its WAL and its shared memory, as they are.
    static func captorFinds(_ needles: [String], in replica: ReplicaStore) throws -> [String: [String]] {
        var found: [String: [String]] = [:]
        for file in [replica.path, replica.path + "-wal", replica.path + "-shm"] {
            guard let bytes = FileManager.default.contents(atPath: file) else { continue }
            for needle in needles where bytes.range(of: Data(needle.utf8)) != nil {
                found[needle, default: []].append((file as NSString).lastPathComponent)
            }
        }
        return found
    }

    /// The reader replica in the folder, in clear or encrypted (fast scrypt parameters): created,
    /// or opened again when `existing`.
    static func reader(in folder: TemporaryReplica, encrypted: Bool, existing: Bool = false) throws -> ReplicaStore {
        // In clear or not as asked, whatever VIGIL_TEST_ENCRYPTED says.
        let path = folder.path("reader")
        if existing { return try ReplicaStore.open(at: path, options: folder.options) }
        let passphrase = encrypted ? try Passphrase(TemporaryReplica.passphrase) : nil
        return try ReplicaStore.create(at: path, encryptingWith: passphrase, options: folder.options)
    }

    /// Enrolls a new reader, pulls what the writer sent, and closes it again (as `fieldcli sync`
    /// does on exit: the last connection moves the WAL into the file, so the texts sit in the
    /// file's pages, not only in WAL frames); returns its credential.
    static func pullAndClose(_ hub: HubFixture, in folder: TemporaryReplica, encrypted: Bool) async throws -> String {
        let reader = try Self.reader(in: folder, encrypted: encrypted)
        let token = try await hub.enroll(reader)
        #expect(try await ScopeTests.synchronizer(reader, hub, token).run().versionsPulled == 3)
        return token
    }

    /// The scope-narrowing schedule of ScopeTests.narrowingForgets, followed by a captor: a writer
    /// sends a short report and a long one (overflow pages) in partition ML-1; the reader pulls
    /// them and closes (its WAL moved into the file); the hub narrows the reader's read scope to
    /// notes/SD-DN and the reader forgets them at its next sync; then the raw bytes of its replica
    /// file, -wal and -shm are searched for both texts. Without the checkpoint after the forget,
    /// the replica in clear still holds them in its WAL; without `secure_delete`, in the file's
    /// free space once the WAL is checkpointed.
    @Test("a document forgotten when the read scope narrows leaves no text in the replica, its WAL or -shm", arguments: [false, true])
    func forgottenLeavesNoPlaintext(encrypted: Bool) async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withFolder { folder in
                let writer = try folder.create("writer")
                let writerToken = try await hub.enroll(writer)
                let paragraph = String(repeating: "\(Self.longText); ", count: 120)
                try ScopeTests.write(writer, "kept", in: "SD-DN", text: "Calm at the Kutum well")
                try ScopeTests.write(writer, "short", in: "ML-1", text: Self.shortText)
                try ScopeTests.write(writer, "long", in: "ML-1", text: paragraph)
                try await ScopeTests.synchronizer(writer, hub, writerToken).run()
                let readerToken = try await Self.pullAndClose(hub, in: folder, encrypted: encrypted)
                let reader = try Self.reader(in: folder, encrypted: encrypted, existing: true)
                if !encrypted {
                    let before = try Self.captorFinds([Self.shortText, Self.longText], in: reader)
                    #expect(before.count == 2 && before.values.allSatisfy { $0.contains("reader.sqlite") }, "the texts are in the file before the scope narrows: \(before)")
                }
                try await ScopeTests.setScopes(hub, reader, read: "notes/SD-DN")
                let narrowed = try await ScopeTests.synchronizer(reader, hub, readerToken).run()
                #expect(narrowed.documentsForgotten == 2)
                #expect(try ScopeTests.ids(reader) == ["kept"])
                let found = try Self.captorFinds([Self.shortText, Self.longText], in: reader)
                #expect(found.isEmpty, "found in the captor's copy: \(found)")
            }
        }
    }
}
