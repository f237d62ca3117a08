import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import Testing

/// `syncd copy-to-postgres` reads a snapshot of the hub's file (HubFileExport): the snapshot holds
/// the whole database and a copy of the hub's signing key, so it is made beside the file, on the
/// volume that protects it, and removed afterwards.
@Suite("Hub file snapshot")
struct HubFileSnapshotTests {
    static func snapshotFolders(in folder: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder.path)
            .filter { $0.hasPrefix(HubFileExport.snapshotFolderPrefix) }
    }

    /// Replays a copy to PostgreSQL on a hub whose file lies on an encrypted volume while TMPDIR
    /// lies outside it: before, the snapshot (database and key, in clear) was written to TMPDIR,
    /// where its deleted blocks stay readable, and left there whole when the copy was killed.
    @Test("the snapshot is made in a private folder beside the hub's file, none in TMPDIR, and removed afterwards")
    func snapshotBesideTheFile() async throws {
        let volume = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-volume-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: volume, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: volume) }
        let path = volume.appendingPathComponent("hub.sqlite").path
        let hub = try ReplicaStore.createHub(at: path)
        let hubID = hub.replicaID
        // A hub in use: one enrollment code given out.
        #expect(try hub.addEnrollmentCode(hash: Data(repeating: 7, count: 32), deviceName: "field-1", expiresAt: .max))
        let temporary = FileManager.default.temporaryDirectory
        let before = Set(try FileManager.default.contentsOfDirectory(atPath: temporary.path))

        let seen = try await HubFileExport.reading(path) { export in
            let folders = try Self.snapshotFolders(in: volume)
            #expect(folders.count == 1)
            if let folder = folders.first {
                let attributes = try FileManager.default.attributesOfItem(atPath: volume.appendingPathComponent(folder).path)
                #expect((attributes[.posixPermissions] as? Int) == 0o700)
            }
            let added = Set(try FileManager.default.contentsOfDirectory(atPath: temporary.path)).subtracting(before)
            #expect(!added.contains { $0.contains("snapshot") }, "nothing of the snapshot in TMPDIR")
            return export.storage.hubID
        }
        #expect(seen == hubID)
        #expect(try Self.snapshotFolders(in: volume).isEmpty)
    }
}
