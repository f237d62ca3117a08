import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Attachments between replicas and a hub over HTTP: resumable after a cut, verified per chunk,
/// within scopes, media policies and limits.
@Suite("Attachment sync", .serialized, .timeLimit(.minutes(10)))
struct AttachmentSyncTests {
    typealias F = AttachmentFixtures

    /// Replays a satellite link dropping in the middle of a 2 MB photo, once on the way up and once
    /// on the way down, at a random byte (seeded): the next sync sends or fetches only the chunks
    /// not yet whole on the other side, never the file from its start.
    @Test("a link cut at a random byte resumes from the last whole chunk, up and down", arguments: [UInt64(7), 1_234, 99_991])
    func resumeAfterCut(seed: UInt64) async throws {
        var random = SeededGenerator(seed: seed)
        let photo = F.bytes(2_000_000, seed: seed)
        let chunk = AttachmentManifest.chunkSize
        try await HubFixture.withHub { hub in
            try await F.withWriterAndReader(hub) { pair in
                let (writer, reader, writerToken, readerToken) = (pair.writer, pair.reader, pair.writerToken, pair.readerToken)
                let proxy = try ChunkCuttingProxy(targetPort: hub.port)
                defer { proxy.stop() }
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c")
                #expect(manifest.chunks.count == 8)

                // Up: cut after the documents, somewhere in the chunks.
                let cutUp = Int.random(in: 40_000..<1_950_000, using: &random)
                proxy.armCut(after: cutUp, upstream: true)
                await #expect(throws: SyncClientError.self) {
                    try await F.synchronizer(writer, proxy.url, writerToken).run()
                }
                let heldUp = manifest.chunks.count - (try hub.store.missingChunks(of: manifest).count)
                #expect(heldUp >= (cutUp - 40_000) / (chunk + 4_096), "chunks wholly sent before the cut at \(cutUp) are kept")
                proxy.reset()
                try await F.synchronizer(writer, proxy.url, writerToken).run()
                let resentUp = proxy.counts.up
                #expect(resentUp <= (manifest.chunks.count - heldUp) * chunk + 60_000, "resent \(resentUp) bytes after holding \(heldUp) chunks")
                #expect(try F.held(manifest.sha256, in: hub.store) == photo)

                // Down: the reader (media all) is cut while fetching.
                proxy.reset()
                let cutDown = Int.random(in: 60_000..<1_950_000, using: &random)
                proxy.armCut(after: cutDown, upstream: false)
                await #expect(throws: SyncClientError.self) {
                    try await F.synchronizer(reader, proxy.url, readerToken).run()
                }
                let missingDown = try reader.missingChunks(of: manifest).count
                #expect(
                    manifest.chunks.count - missingDown >= (cutDown - 60_000) / (chunk + 4_096),
                    "chunks wholly received before the cut at \(cutDown) are kept")
                proxy.reset()
                try await F.synchronizer(reader, proxy.url, readerToken).run()
                let refetched = proxy.counts.down
                #expect(refetched <= missingDown * chunk + 60_000, "fetched \(refetched) bytes again for \(missingDown) missing chunks")
                #expect(try F.held(manifest.sha256, in: reader) == photo)
            }
        }
    }

    /// Replays a link that damages bytes: a chunk whose bytes do not match its hash is refused by
    /// the hub with 422 `chunk-mismatch` (nothing of it kept) and sent again; one damaged on the way
    /// down is refused here and fetched again. Nothing damaged is ever kept.
    @Test("a tampered chunk is refused with problem+json and sent or fetched again")
    func tamperedChunk() async throws {
        let photo = F.bytes(700_000, seed: 42)
        try await HubFixture.withHub { hub in
            try await F.withWriterAndReader(hub) { pair in
                let (writer, reader, writerToken, readerToken) = (pair.writer, pair.reader, pair.writerToken, pair.readerToken)
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7d")
                try await F.documentsOnly(writer, hub.url, writerToken).run()

                // Straight to the hub: a damaged chunk is refused, and nothing of it is kept.
                let direct = F.transport(hub.url, writerToken)
                #expect(try await direct.offerAttachment(manifest).value.missing == [0, 1, 2])
                let refusal = await #expect(throws: AttachmentTransferError.self) {
                    _ = try await direct.uploadChunk(
                        ChunkDamagingTransport.flipped(photo.prefix(AttachmentManifest.chunkSize)), index: 0, of: manifest.sha256)
                }
                #expect(refusal?.code == .chunkRefused)
                #expect(try hub.store.missingChunks(of: manifest) == [0, 1, 2])

                // Through a damaging link: the first chunk is refused once, then sent again.
                let tampering = ChunkDamagingTransport(base: direct)
                let up = try await AttachmentTransfer(store: writer, transport: tampering, logger: silentLogger).run()
                #expect(tampering.uploadsTampered == 1)
                #expect(tampering.refusals == ["chunk-mismatch"])
                #expect(up.uploaded == 1 && up.refused.isEmpty)
                #expect(try F.held(manifest.sha256, in: hub.store) == photo)

                // Down: the reader's first chunk arrives damaged, is refused here and fetched again.
                try await F.documentsOnly(reader, hub.url, readerToken).run()
                let readerLink = ChunkDamagingTransport(base: F.transport(hub.url, readerToken))
                let down = try await AttachmentTransfer(store: reader, transport: readerLink, logger: silentLogger).run()
                #expect(readerLink.downloadsTampered == 1)
                #expect(down.downloaded == 1 && down.refused.isEmpty)
                #expect(readerLink.downloads(ofChunk: 0) == 2)
                #expect(try F.held(manifest.sha256, in: reader) == photo)
            }
        }
    }
}

extension AttachmentSyncTests {
    /// A day's budget on a paid link: a run moves whole chunks until the next would pass the
    /// budget, then stops with what is left waiting; the next run goes on from there.
    @Test("a byte budget stops the transfer at the last chunk it affords; the next run goes on")
    func byteBudget() async throws {
        let photo = F.bytes(2_000_000, seed: 21)
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplica { writer in
                let token = try await hub.enroll(writer)
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b90")
                try await F.documentsOnly(writer, hub.url, token).run()
                let link = F.transport(hub.url, token)
                let first = try await AttachmentTransfer(store: writer, transport: link, byteBudget: 700_000, logger: silentLogger).run()
                #expect(first.budgetSpent && first.uploaded == 0)
                #expect(first.bytesMoved <= 700_000)
                #expect(first.chunksSent == 2)
                #expect(try hub.store.missingChunks(of: manifest).count == manifest.chunks.count - 2)
                #expect(try writer.attachmentBacklog().toSend == 1)
                let rest = try await AttachmentTransfer(store: writer, transport: link, logger: silentLogger).run()
                #expect(!rest.budgetSpent && rest.uploaded == 1 && rest.chunksSent == manifest.chunks.count - 2)
                #expect(try F.held(manifest.sha256, in: hub.store) == photo)
            }
        }
    }
}
