import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// Attachments whose every chunk the hub holds before they are offered (a 0-byte file, a file made
/// of chunks other files share, a file offered again after a false manifest was dropped), through
/// the hub's real routes: no chunk is sent, so the hub checks the whole at the offer.
@Suite("Attachments whose chunks the hub holds", .serialized, .timeLimit(.minutes(5)))
struct AttachmentHeldChunksTests {
    typealias F = AttachmentFixtures

    /// Three chunks: two whole ones and a short last one.
    static let size = 2 * AttachmentManifest.chunkSize + 1_000

    /// `bytes` with its first two chunks swapped: the same chunks, another file.
    static func swapped(_ bytes: Data) -> Data {
        let chunk = AttachmentManifest.chunkSize
        return Data(bytes[chunk..<2 * chunk]) + Data(bytes[0..<chunk]) + Data(bytes[(2 * chunk)...])
    }

    /// Replays device A attaching, after a first sync that uploaded a photo, a 0-byte file and a
    /// file made only of the photo's chunks (in another order), then syncing: the offers lack
    /// nothing and no chunk travels. Before the hub checked the whole at the offer, A marked both
    /// sent while the hub never held them whole, and device B got `not-held` for them forever.
    @Test("a file whose chunks the hub holds is whole at its offer and reaches the other device")
    func heldChunksReachTheOtherDevice() async throws {
        let photo = F.bytes(Self.size, seed: 5)
        let reordered = Self.swapped(photo)
        try await HubFixture.withHub { hub in
            try await F.withWriterAndReader(hub) { pair in
                let (writer, reader, writerToken, readerToken) = (pair.writer, pair.reader, pair.writerToken, pair.readerToken)
                try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6c01")
                try await F.synchronizer(writer, hub.url, writerToken).run()

                let same = try F.attach(reordered, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6c02")
                let empty = try F.attach(
                    Data(), to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6c03", name: "empty.txt")
                #expect(try hub.store.missingChunks(of: same).isEmpty && empty.chunks.isEmpty)
                let link = F.transport(hub.url, writerToken)
                try await F.documentsOnly(writer, hub.url, writerToken).run()
                let up = try await AttachmentTransfer(store: writer, transport: link, logger: silentLogger).run()
                #expect(up.uploaded == 2 && up.chunksSent == 0 && up.refused.isEmpty)
                #expect(try writer.attachmentBacklog().toSend == 0)
                #expect(try hub.store.attachmentManifest(same.sha256)?.complete == true)
                #expect(try hub.store.attachmentManifest(empty.sha256)?.complete == true)

                try await F.synchronizer(reader, hub.url, readerToken).run()
                #expect(try F.held(same.sha256, in: reader) == reordered)
                #expect(try F.held(empty.sha256, in: reader) == Data())
                #expect(try reader.attachmentBacklog().lacked == 0)
            }
        }
    }

    /// Replays a false manifest whose chunks the hub all holds (the photo's chunks under the
    /// reordered file's name, as a faulty client would describe it), then the true one: the hub
    /// answers the offer `422 attachment-mismatch` and drops it; the client records the refusal,
    /// neither marks the file sent nor offers it again in that run; the next run offers the true
    /// manifest, which lacks nothing, and the other device receives the file.
    @Test("a false manifest of held chunks is refused at its offer; the true one goes at the next run")
    func falseManifestOfHeldChunks() async throws {
        let photo = F.bytes(Self.size, seed: 6)
        let reordered = Self.swapped(photo)
        try await HubFixture.withHub { hub in
            try await F.withWriterAndReader(hub) { pair in
                let (writer, reader, writerToken, readerToken) = (pair.writer, pair.reader, pair.writerToken, pair.readerToken)
                let original = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6c11")
                try await F.synchronizer(writer, hub.url, writerToken).run()
                let same = try F.attach(reordered, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6c12")
                try await F.documentsOnly(writer, hub.url, writerToken).run()

                let falsifying = ManifestFalsifyingTransport(
                    base: F.transport(hub.url, writerToken), hash: same.sha256, chunks: original.chunks)
                let refused = try await AttachmentTransfer(store: writer, transport: falsifying, logger: silentLogger)
                    .run()
                #expect(falsifying.offers == [same.sha256])
                #expect(refused.uploaded == 0 && refused.chunksSent == 0)
                #expect(refused.refused.map(\.code) == [.mismatch])
                #expect(try writer.refusedAttachments().map(\.problem) == ["attachment-mismatch"])
                #expect(try writer.attachmentsToSend().map(\.sha256) == [same.sha256])
                #expect(try hub.store.attachmentManifest(same.sha256) == nil)

                let link = F.transport(hub.url, writerToken)
                let sent = try await AttachmentTransfer(store: writer, transport: link, logger: silentLogger).run()
                #expect(sent.uploaded == 1 && sent.chunksSent == 0 && sent.refused.isEmpty)
                #expect(try writer.refusedAttachments().isEmpty && writer.attachmentsToSend().isEmpty)
                try await F.synchronizer(reader, hub.url, readerToken).run()
                #expect(try F.held(same.sha256, in: reader) == reordered)
            }
        }
    }
}

/// An attachment transport that offers, for one attachment, a manifest naming other chunks (a
/// faulty client's description of it), and records the hashes it offered.
final class ManifestFalsifyingTransport: AttachmentTransport {
    let base: HTTPSyncTransport
    let hash: String
    let chunks: [String]
    private let offered = Mutex([String]())

    init(base: HTTPSyncTransport, hash: String, chunks: [String]) {
        self.base = base
        self.hash = hash
        self.chunks = chunks
    }

    var offers: [String] { offered.withLock { $0 } }

    func offerAttachment(_ manifest: AttachmentManifest) async throws -> Metered<AttachmentOfferResponse> {
        offered.withLock { $0.append(manifest.sha256) }
        var manifest = manifest
        if manifest.sha256 == hash { manifest.chunks = chunks }
        return try await base.offerAttachment(manifest)
    }

    func uploadChunk(_ data: Data, index: Int, of hash: String) async throws -> Metered<ChunkReceipt> {
        try await base.uploadChunk(data, index: index, of: hash)
    }

    func attachmentManifests(_ request: ManifestsRequest) async throws -> Metered<ManifestsResponse> {
        try await base.attachmentManifests(request)
    }

    func downloadChunk(_ index: Int, of hash: String) async throws -> Metered<Data> {
        try await base.downloadChunk(index, of: hash)
    }
}
