import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// What a hostile hub can make a device store of an attachment.
@Suite("Attachments from a hostile hub")
struct AttachmentHostileHubTests {
    typealias F = AttachmentFixtures

    /// A hub that answers a manifest of its own making for every hash asked, and serves the
    /// chunks that manifest names; counts the chunks it served.
    final class InventingHub: AttachmentTransport {
        let invented: AttachmentManifest
        let chunks: [Data]
        private let served = Mutex(0)
        var chunksServed: Int { served.withLock { $0 } }

        init(claiming hash: String, size: Int) {
            var chunker = AttachmentChunker()
            var chunks = chunker.add(F.bytes(size, seed: 21))
            let (last, manifest) = chunker.finish()
            if let last { chunks.append(last) }
            invented = AttachmentManifest(sha256: hash, size: manifest.size, chunks: manifest.chunks)
            self.chunks = chunks
        }

        func offerAttachment(_ manifest: AttachmentManifest) async throws -> Metered<AttachmentOfferResponse> {
            throw SyncClientError(.requestRefused, "not offered here")
        }

        func uploadChunk(_ data: Data, index: Int, of hash: String) async throws -> Metered<ChunkReceipt> {
            throw SyncClientError(.requestRefused, "not uploaded here")
        }

        func attachmentManifests(_ request: ManifestsRequest) async throws -> Metered<ManifestsResponse> {
            Metered(ManifestsResponse(manifests: [invented], unavailable: []), bytesSent: 0, bytesReceived: 0)
        }

        func downloadChunk(_ index: Int, of hash: String) async throws -> Metered<Data> {
            served.withLock { $0 += 1 }
            return Metered(chunks[index], bytesSent: 0, bytesReceived: chunks[index].count)
        }
    }

    /// Replays a review's finding: a device holds an observation naming a 300 KB photo it lacks;
    /// a hostile hub answers a manifest of that hash claiming 2 MB (up to 1 TiB passes the form)
    /// and serves chunks of its own making. Before, the device took every chunk that matched the
    /// hub's manifest, and checked the whole only at the end (withheld, never): the hub could
    /// fill the device's disk. Now a manifest whose size is not the one the naming documents
    /// give is refused before any chunk is fetched.
    @Test("a hub's manifest claiming another size than the documents naming the file is refused before any chunk")
    func aManifestOfAnotherSizeIsRefused() async throws {
        let photo = F.bytes(300_000, seed: 20)
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (author, reader) = (replicas[0], replicas[1])
            let manifest = try F.attach(photo, to: author, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b84")
            try reader.apply(
                try author.versions(missingFrom: VersionVector(), limit: 100, maxBytes: 1 << 20).versions, from: author.replicaID)
            let hub = InventingHub(claiming: manifest.sha256, size: 2_000_000)
            let report = try await AttachmentTransfer(store: reader, transport: hub, logger: silentLogger).fetch([manifest.sha256])
            #expect(report.refused.map(\.code) == [.mismatch])
            #expect(hub.chunksServed == 0)
            #expect(try reader.chunk(hub.invented.chunks[0]) == nil)
        }
    }
}
