import Foundation
import GRDB
@testable import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// `apply` and `importBatch` bind a body as it is in a replica in clear (`vigil_seal` would
/// return it unchanged, at a cost per row) and must still seal it in an encrypted replica: what
/// the file holds is checked column by column, and the versions read back are the ones written.
@Suite struct ApplySealingTests {
    @Test(arguments: [true, false])
    func appliedAndImportedBodiesAreSealedOnlyInAnEncryptedReplica(encrypted: Bool) throws {
        let folder = try TemporaryReplica()
        let store = try EncryptionTests.create(folder, "field", encrypted: encrypted)
        let other = try EncryptionTests.create(folder, "other", encrypted: false)
        let received = try other.write(try EncryptionTests.report("r1"))
        #expect(try store.apply([received], from: other.replicaID).stored == 1)
        let notes = "Shelters of the Zamzam north gate burned, imported"
        let imported = try store.importRecords(
            ImportTests.lines([ImportTests.observation(notes: notes)]), format: .jsonl, into: ImportTests.observations)
        #expect(imported.written == 1)

        let rows = try store.database.read { db in
            try Row.fetchAll(db, sql: "SELECT origin, body FROM versions ORDER BY seq").map { row in
                (origin: row[0] as String, body: row[1] as Data)
            }
        }
        try #require(rows.count == 2)
        let appliedBody = try #require(received.body)
        let importedBody = try #require(StoreFixtures.allVersions(store).first { $0.dot.replica == store.replicaID }?.body)
        #expect(importedBody.range(of: Data(notes.utf8)) != nil)
        for (row, plain) in zip(rows, [appliedBody, importedBody]) {
            if encrypted {
                #expect(row.body != plain)
                #expect(row.body.range(of: Data("Zamzam".utf8)) == nil)
            } else {
                #expect(row.body == plain)
            }
        }
        #expect(try store.document(received.key)?.siblings == [received])
    }
}
