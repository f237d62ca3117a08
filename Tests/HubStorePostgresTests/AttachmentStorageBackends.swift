import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import ReplicaStore
import SyncEngine
import Testing

/// One hub's attachment storage as a backend gives it, beside the storage that takes the pushes
/// naming its files and the device tables its media policies live in.
struct AttachmentsUnderTest: Sendable {
    let attachments: any HubAttachmentStorage
    let storage: any HubStorage
    let registry: any DeviceRegistry
    let administration: any DeviceAdministrationStorage
    /// The bytes of attachments a device offered, counted against its quota.
    let uploadedBytes: @Sendable (ReplicaID) async throws -> Int

    /// Runs `body` with a fresh, empty hub on `backend` (the conformance suites' backends), removed afterwards.
    static func with<Result>(_ backend: StorageBackend, _ body: (AttachmentsUnderTest) async throws -> Result)
        async throws -> Result
    {
        switch backend {
        case .sqlite:
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
                "vigil-attachments-\(UUID().uuidString)")
            defer { try? FileManager.default.removeItem(at: folder) }
            let store = try ReplicaStore.createHub(at: folder.appendingPathComponent("hub.sqlite").path)
            return try await body(
                AttachmentsUnderTest(
                    attachments: SQLiteHubAttachmentStorage(store: store), storage: try SQLiteHubStorage(store: store),
                    registry: SQLiteDeviceRegistry(store: store),
                    administration: SQLiteDeviceAdministration(store: store),
                    uploadedBytes: { try store.uploadedBytes(by: $0) }))
        case .postgres:
            return try await PostgresTestDatabase.withClients(1) { clients, schema in
                let tables = try PostgresDeviceTables(
                    client: clients[0], schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(),
                    logger: PostgresTestDatabase.quiet)
                let attachments = PostgresAttachmentStorage(tables: tables)
                return try await body(
                    AttachmentsUnderTest(
                        attachments: attachments, storage: try PostgresHubStorage(tables: tables),
                        registry: PostgresDeviceRegistry(tables: tables),
                        administration: PostgresDeviceAdministration(tables: tables),
                        uploadedBytes: { try await attachments.uploadedBytes(by: $0) }))
            }
        }
    }

    /// Stores `versions` as pushed by their first origin under `policy`.
    @discardableResult
    func push(_ versions: [Version], policy: AdmissionPolicy = .inOrder) async throws -> PushReport {
        let pusher = versions.first?.dot.replica ?? ReplicaID.random()
        return try await storage.take(PushPlan(versions: versions, pusher: pusher, policy: policy, forged: []))
    }

    /// Offers `file`'s manifest as `device` and uploads every chunk the hub lacks, in order;
    /// returns the last chunk's outcome (nil when none was lacked).
    @discardableResult
    func upload(_ file: AttachmentFile, by device: ReplicaID, quota: Int = 0) async throws -> ChunkOutcome? {
        guard case .missing(let missing) = try await attachments.offer(file.manifest, by: device, quota: quota) else {
            Issue.record("the offer of \(file.manifest.sha256) was refused")
            return nil
        }
        var last: ChunkOutcome?
        for index in missing {
            last = try await attachments.receive(file.chunks[index], index: index, of: file.manifest.sha256)
        }
        return last
    }
}

/// A file cut into its chunks, with its manifest.
struct AttachmentFile: Sendable {
    let manifest: AttachmentManifest
    let chunks: [Data]
    var sha256: String { manifest.sha256 }

    /// `size` random bytes.
    init(size: Int) {
        var generator = SystemRandomNumberGenerator()
        self.init(Data((0..<size).map { _ in UInt8.random(in: .min ... .max, using: &generator) }))
    }

    init(_ bytes: Data) {
        var chunker = AttachmentChunker()
        var chunks = chunker.add(bytes)
        let (last, manifest) = chunker.finish()
        if let last { chunks.append(last) }
        self.manifest = manifest
        self.chunks = chunks
    }

    /// A version of `origin` at `counter` whose body names `hashes` (none: a body naming nothing).
    static func naming(
        _ hashes: [String], _ origin: ReplicaID, _ counter: UInt64, document: String? = nil,
        partition: String = "SD-DN",
        context: VersionVector = VersionVector()
    ) throws -> Version {
        var version = try PushFixtures.version(
            origin, counter, document: document, partition: partition, context: context)
        let named = hashes.map { #"{"sha256":"\#($0)","mime":"image/jpeg"}"# }.joined(separator: ",")
        version.body = Data(#"{"n":\#(counter),"attachments":[\#(named)]}"#.utf8)
        return version
    }
}
