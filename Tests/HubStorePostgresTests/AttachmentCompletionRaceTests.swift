import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The SQLite hub checks a file whole outside its write (`ReplicaStore.completeAttachment`): what
/// it marks held must be the manifest it hashed.
@Suite struct AttachmentCompletionRaceTests {
    /// Schedule replayed: an honest device's last chunk arrives and the hub hashes the file; in
    /// that window a seized device offers a false manifest of the same hash (another last chunk), which
    /// replaces the incomplete one; then the hub marks the file held. Before the fix the mark
    /// applied to the false manifest, unchecked: the hub said it held a file nobody could fetch,
    /// and every device's offer of the true one was answered "complete".
    @Test func aManifestReplacedWhileTheFileIsHashedIsNotMarkedHeld() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-race-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try ReplicaStore.createHub(at: folder.appendingPathComponent("hub.sqlite").path)
        let file = AttachmentFile(size: 600_000)
        let (honest, seized) = (ReplicaID.random(), ReplicaID.random())
        var forged = file.manifest
        forged.chunks[forged.chunks.count - 1] = String(repeating: "ab", count: 32)

        #expect(try store.offerAttachment(file.manifest, by: honest, quota: 0) == .missing(Array(file.chunks.indices)))
        for (index, chunk) in file.chunks.enumerated() { try store.storeChunk(chunk, hash: file.manifest.chunks[index]) }
        let held = try store.completeAttachment(file.sha256, beforeMarking: { () throws in
            let outcome = try store.offerAttachment(forged, by: seized, quota: 0)
            #expect(outcome == .missing([file.chunks.count - 1]))
        })

        #expect(!held)
        let row = try #require(try store.attachmentManifest(file.sha256))
        #expect(row.manifest == forged)
        #expect(!row.complete, "the forged manifest was marked held without being checked")
        // The honest device's next offer puts the true manifest back, and it is checked and held.
        #expect(try store.offerAttachment(file.manifest, by: honest, quota: 0) == .missing([]))
        var fetched = Data()
        #expect(try store.writeAttachment(file.sha256) { fetched.append($0) })
        #expect(fetched == file.chunks.reduce(Data(), +))
    }
}
