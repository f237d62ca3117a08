import Foundation
public import HubStore
public import SyncEngine

extension HubAttachments {
    /// What taking a bundle's files at the hub did.
    public struct BundleFiles: Sendable, Hashable {
        /// Files the hub holds whole after the import that it did not before.
        public var stored = 0
        /// Files the hub held whole already.
        public var alreadyHeld = 0
        /// Files not taken, each with the hub's sentence.
        public var refused: [Refusal] = []

        /// Nothing taken yet (a backend that keeps no attachments takes none).
        public init() {}

        public struct Refusal: Sendable, Hashable {
            public var sha256: String
            public var message: String
        }
    }

    /// Takes `bundle`'s files as uploads by their authors, through ``offer(_:for:by:)`` and
    /// ``receive(_:index:of:by:)``: the file must be named by a version the hub admitted that a
    /// device in `devices` wrote within its write scope, within the size limit and that device's
    /// quota; every chunk and the whole are checked. Call it after the bundle's versions were
    /// imported. Importing again stores nothing twice.
    public func importFiles(of bundle: SyncBundle, devices: [DeviceRecord]) async throws -> BundleFiles {
        var result = BundleFiles()
        for (manifest, file) in zip(bundle.attachments ?? [], bundle.attachmentFiles) {
            let hash = manifest.sha256
            if try await storage.manifest(of: hash)?.complete == true {
                result.alreadyHeld += 1
                continue
            }
            let namings = try await storage.namings(of: hash)
            let writers = devices.filter { device in
                namings.contains {
                    device.isIncarnation($0.origin) && device.grants.write.allows(collection: $0.collection, partition: $0.partition)
                }
            }
            guard let author = writers.first else {
                result.refused.append(.init(sha256: hash, message: "No version this hub admitted names it within its author's write scope."))
                continue
            }
            do {
                for index in try await offer(manifest, for: hash, by: author).missing {
                    let start = index * manifest.chunkSize
                    _ = try await receive(file.subdata(in: start..<start + manifest.length(ofChunk: index)), index: index, of: hash, by: author)
                }
                result.stored += 1
            } catch let error as SyncHubError {
                result.refused.append(.init(sha256: hash, message: error.message))
            }
        }
        return result
    }
}
