import AtRest
import Foundation
import GRDB
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// Attachments in the store: chunked by 256 KiB, each chunk kept once, held files written out
/// checked, and chunks sealed like bodies on an encrypted replica.
@Suite struct AttachmentStoreTests {
    static func file(_ count: Int, seed: UInt64 = 3) -> Data {
        var generator = SeededGenerator(seed: seed)
        return Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }

    static func store(_ data: Data, in store: ReplicaStore) throws -> AttachmentManifest {
        var pieces = stride(from: 0, to: data.count, by: 70_000).map { Data(data[$0..<min($0 + 70_000, data.count)]) }[...]
        return try store.storeAttachment { pieces.popFirst() }
    }

    @Test("chunk boundaries: 0, one chunk exactly, one byte more", arguments: [0, AttachmentManifest.chunkSize, AttachmentManifest.chunkSize + 1, 600_000])
    func chunking(size: Int) async throws {
        try await TemporaryReplica.withReplica { replica in
            let data = Self.file(size)
            let manifest = try Self.store(data, in: replica)
            #expect(manifest.isWellFormed)
            #expect(manifest.sha256 == AttachmentDigest.hex(of: data))
            #expect(manifest.chunks.count == AttachmentManifest.chunkCount(size: size))
            var written = Data()
            #expect(try replica.writeAttachment(manifest.sha256) { written.append($0) })
            #expect(written == data)
            #expect(try replica.attachmentHoldings([manifest.sha256])[manifest.sha256] == .held)
        }
    }

    /// A captor of an encrypted replica's file finds no byte of an attached photo in clear:
    /// chunks are sealed with the body cipher, bound to their hash.
    @Test("an encrypted replica seals its chunks; they open only through the store")
    func encryptedChunks() throws {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        var options = folder.options
        options.keyDerivation = .testing
        options.passphrase = { try Passphrase("a long passphrase for tests") }
        options.unlockDelay = .zero
        let replica = try ReplicaStore.create(
            at: folder.path("field"), encryptingWith: try Passphrase("a long passphrase for tests"), options: options)
        let photo = Self.file(300_000, seed: 9)
        let manifest = try Self.store(photo, in: replica)
        var written = Data()
        #expect(try replica.writeAttachment(manifest.sha256) { written.append($0) })
        #expect(written == photo)
        let raw = try DatabaseQueue(path: folder.path("field"))
        let stored = try raw.read { db in try Data.fetchAll(db, sql: "SELECT data FROM attachment_chunks") }
        #expect(stored.count == 2)
        for blob in stored {
            #expect(blob.starts(with: Data([0x00, 0x56, 0x01])))
            #expect(blob.range(of: photo.prefix(64)) == nil && blob.range(of: photo.suffix(64)) == nil)
        }
        #expect(try Captor.filesHolding(photo.dropFirst(1_000).prefix(64), in: folder.directory).isEmpty)
    }

    /// Replays a review's finding: a photo attached while the replica was in clear, then
    /// `encrypt`. Before, the chunks stayed in clear in the file for good (encrypt sealed bodies,
    /// not chunks, and a held chunk is never fetched again), and the store could no longer open
    /// them. Now they are sealed with the bodies, and the photo still reads whole. A device's
    /// connections keep SQLite's temporary files in memory (`temp_store`), where an `encrypt`'s
    /// statement journal held the clear pages on disk.
    @Test("encrypting a replica in clear seals the chunks it holds; the photo still reads; temporary files stay in memory")
    func encryptSealsHeldChunks() throws {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        let path = folder.path("field")
        let photo = Self.file(300_000, seed: 12)
        let manifest = try Self.store(photo, in: try folder.create("field"))
        var options = folder.options
        options.keyDerivation = .testing
        options.passphrase = { try Passphrase("a long passphrase for tests") }
        options.unlockDelay = .zero
        try ReplicaStore.encrypt(at: path, passphrase: try Passphrase("a long passphrase for tests"), options: options)
        let raw = try DatabaseQueue(path: path)
        let stored = try raw.read { db in try Data.fetchAll(db, sql: "SELECT data FROM attachment_chunks") }
        #expect(stored.count == 2)
        for blob in stored { #expect(blob.starts(with: Data([0x00, 0x56, 0x01]))) }
        let replica = try ReplicaStore.open(at: path, options: options)
        var written = Data()
        #expect(try replica.writeAttachment(manifest.sha256) { written.append($0) })
        #expect(written == photo)
        #expect(try replica.read { db in try Int.fetchOne(db, sql: "PRAGMA temp_store") } == 2, "in memory")
    }

    /// A peer describing a file falsely (each chunk true to its own hash, the whole not): the
    /// manifest is dropped once whole, never marked held.
    @Test("a manifest whose whole does not match its SHA-256 is dropped")
    func falseManifest() async throws {
        try await TemporaryReplica.withReplica { replica in
            let data = Self.file(300_000, seed: 4)
            let chunks = [Data(data.prefix(AttachmentManifest.chunkSize)), Data(data.dropFirst(AttachmentManifest.chunkSize))]
            let lie = AttachmentManifest(
                sha256: String(repeating: "ab", count: 32), size: data.count, chunks: chunks.map(AttachmentDigest.hex))
            try replica.saveAttachmentManifest(lie)
            for (index, chunk) in chunks.enumerated() { try replica.storeChunk(chunk, hash: lie.chunks[index]) }
            #expect(try replica.completeAttachment(lie.sha256) == false)
            #expect(try replica.attachmentManifest(lie.sha256) == nil)
        }
    }
}
