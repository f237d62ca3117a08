import Foundation
import ReplicaStore
import SyncEngine

extension FieldBundles {
    /// Adds to `bundle` the files its versions name that `store` holds whole, each once.
    static func attachFiles(to bundle: inout SyncBundle, from store: ReplicaStore) throws {
        var seen = Set<String>()
        var manifests: [AttachmentManifest] = []
        var files: [Data] = []
        for version in bundle.versions {
            for hash in AttachmentNames.named(in: version.body ?? Data()) where seen.insert(hash).inserted {
                guard let (manifest, complete) = try store.attachmentManifest(hash), complete else { continue }
                var file = Data()
                guard try store.writeAttachment(hash, to: { file.append($0) }) else { continue }
                manifests.append(manifest)
                files.append(file)
            }
        }
        guard !manifests.isEmpty else { return }
        bundle.attachments = manifests
        bundle.attachmentFiles = files
    }

    /// What taking a bundle's attachments did.
    struct AttachmentsTaken: Sendable, Hashable {
        /// Files now held whole that were not before.
        var stored = 0
        /// Files refused: a chunk or the whole file does not match its SHA-256.
        var refused = 0
    }

    /// Stores the bundle's files that `admitted` versions name (so a file goes only where its
    /// document may: verified, within the read scope), each chunk checked against its hash and the
    /// whole against the file's, as a fetch checks them. A file held already is skipped.
    static func takeAttachments(of bundle: SyncBundle, namedBy admitted: [Version], into store: ReplicaStore) throws
        -> AttachmentsTaken
    {
        let named = Set(admitted.flatMap { AttachmentNames.named(in: $0.body ?? Data()) })
        var taken = AttachmentsTaken()
        for (manifest, file) in zip(bundle.attachments ?? [], bundle.attachmentFiles) where named.contains(manifest.sha256) {
            if case .held? = try store.attachmentHoldings([manifest.sha256])[manifest.sha256] { continue }
            try store.saveAttachmentManifest(manifest)
            for index in manifest.chunks.indices {
                let start = index * manifest.chunkSize
                let data = file.subdata(in: start..<start + manifest.length(ofChunk: index))
                if manifest.accepts(data, asChunk: index) { try store.storeChunk(data, hash: manifest.chunks[index]) }
            }
            if try store.completeAttachment(manifest.sha256) { taken.stored += 1 } else { taken.refused += 1 }
        }
        return taken
    }
}
