import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import TestSupport

/// Shared set-up of the attachment suites: observations naming stored files, synchronizers,
/// and a transport that damages chunks on their way.
enum AttachmentFixtures {
    static let observations = CollectionName("observations")!

    /// A writer and a reader replica enrolled with one hub, the reader receiving every attachment.
    struct Pair {
        let writer: ReplicaStore
        let reader: ReplicaStore
        let writerToken: String
        let readerToken: String
    }

    /// Runs `body` with two fresh replicas enrolled with `hub` (the reader with `readerGrants`,
    /// its media policy `all`), removed afterwards.
    static func withWriterAndReader<T>(
        _ hub: HubFixture, readerGrants: AccessGrants = .everything, _ body: (Pair) async throws -> T
    ) async throws -> T {
        try await TemporaryReplica.withReplicas(2) { replicas in
            let (writer, reader) = (replicas[0], replicas[1])
            let writerToken = try await hub.enroll(writer)
            let readerToken = try await hub.enroll(reader, grants: readerGrants)
            try hub.store.setMediaPolicy(.all, of: reader.replicaID)
            return try await body(
                Pair(writer: writer, reader: reader, writerToken: writerToken, readerToken: readerToken))
        }
    }

    /// `count` bytes drawn from `seed` (incompressible, like a photo).
    static func bytes(_ count: Int, seed: UInt64) -> Data {
        var generator = SeededGenerator(seed: seed)
        var data = Data(capacity: count)
        while data.count < count {
            withUnsafeBytes(of: generator.next()) { data.append(contentsOf: $0.prefix(count - data.count)) }
        }
        return data
    }

    /// Stores `file` in `store` and writes observation `id` in `region` naming it; returns its manifest.
    @discardableResult
    static func attach(
        _ file: Data, to store: ReplicaStore, id: String, region: String = "SD-DN", name: String = "photo.jpg"
    ) throws -> AttachmentManifest {
        var pieces = stride(from: 0, to: file.count, by: 100_000).map { file[$0..<min($0 + 100_000, file.count)] }[...]
        let manifest = try store.storeAttachment { pieces.popFirst().map { Data($0) } }
        let body = observation(naming: manifest.sha256, size: file.count, region: region, name: name)
        try store.write(
            WriteIntent(
                key: DocumentKey(collection: observations, id: DocumentID(id)!), partition: Partition(region)!,
                body: Data(body.utf8)))
        return manifest
    }

    /// The body of an observation in `region` naming the file `hash` of `size` bytes.
    static func observation(naming hash: String, size: Int, region: String, name: String = "photo.jpg") -> String {
        """
        {"schema_version":1,"report_kind":"incident","event_date":"2026-03-01","event_type":"Riots",\
        "actor1":{"name":"Rioters","inter":5},"location":{"country":"\(region.prefix(2))","admin1":"\(region)"},\
        "observation_mode":"direct","attachments":[{"sha256":"\(hash)","filename":"\(name)",\
        "mime":"image/jpeg","size_bytes":\(size)}]}
        """
    }

    static func transport(_ url: URL, _ token: String) -> HTTPSyncTransport {
        HTTPSyncTransport(configuration: .init(hub: url, token: token))
    }

    static func synchronizer(_ store: ReplicaStore, _ url: URL, _ token: String, peer: URL? = nil) -> Synchronizer {
        Synchronizer(
            store: store, transport: transport(url, token), peer: HubCredentials.peerName(for: peer ?? url),
            configuration: .init(retry: .never), logger: silentLogger)
    }

    /// A synchronizer whose transport carries documents only (no attachment step).
    static func documentsOnly(_ store: ReplicaStore, _ url: URL, _ token: String) -> Synchronizer {
        Synchronizer(
            store: store, transport: DocumentsOnlyTransport(base: transport(url, token)),
            peer: HubCredentials.peerName(for: url), configuration: .init(retry: .never), logger: silentLogger)
    }

    /// The whole attachment `hash` as `store` holds it; nil when not held or it fails its checks.
    static func held(_ hash: String, in store: ReplicaStore) throws -> Data? {
        var data = Data()
        return try store.writeAttachment(hash) { data.append($0) } ? data : nil
    }

    static func grants(read: String, write: String = "*") -> AccessGrants {
        AccessGrants(read: Scope(text: read)!, write: Scope(text: write)!)
    }
}

/// An attachment transport that flips one byte of the first chunk it uploads and of the first it
/// downloads (a damaged link), and records what the hub answered.
final class ChunkDamagingTransport: AttachmentTransport {
    let base: HTTPSyncTransport
    private let state = Mutex((uploadsTampered: 0, downloadsTampered: 0, refusals: [String](), downloads: [Int: Int]()))

    init(base: HTTPSyncTransport) { self.base = base }

    var uploadsTampered: Int { state.withLock { $0.uploadsTampered } }
    var downloadsTampered: Int { state.withLock { $0.downloadsTampered } }
    var refusals: [String] { state.withLock { $0.refusals } }
    func downloads(ofChunk index: Int) -> Int { state.withLock { $0.downloads[index] ?? 0 } }

    func offerAttachment(_ manifest: AttachmentManifest) async throws -> Metered<AttachmentOfferResponse> {
        try await base.offerAttachment(manifest)
    }

    func uploadChunk(_ data: Data, index: Int, of hash: String) async throws -> Metered<ChunkReceipt> {
        let tamper = state.withLock { state -> Bool in
            guard state.uploadsTampered == 0 else { return false }
            state.uploadsTampered += 1
            return true
        }
        do {
            return try await base.uploadChunk(tamper ? Self.flipped(data) : data, index: index, of: hash)
        } catch let error as AttachmentTransferError {
            state.withLock { $0.refusals.append(error.code.description) }
            throw error
        }
    }

    func attachmentManifests(_ request: ManifestsRequest) async throws -> Metered<ManifestsResponse> {
        try await base.attachmentManifests(request)
    }

    func downloadChunk(_ index: Int, of hash: String) async throws -> Metered<Data> {
        var answer = try await base.downloadChunk(index, of: hash)
        let tamper = state.withLock { state -> Bool in
            state.downloads[index, default: 0] += 1
            guard state.downloadsTampered == 0 else { return false }
            state.downloadsTampered += 1
            return true
        }
        if tamper { answer.value = Self.flipped(answer.value) }
        return answer
    }

    static func flipped(_ data: Data) -> Data {
        var data = data
        if !data.isEmpty { data[data.startIndex + data.count / 2] ^= 0x01 }
        return data
    }
}

/// The exchange of an HTTP transport without its attachment routes.
struct DocumentsOnlyTransport: SyncTransport {
    let base: HTTPSyncTransport
    func exchange(_ request: SyncRequest) async throws -> TransportReply { try await base.exchange(request) }
    func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse { try await base.incarnate(request) }
}
