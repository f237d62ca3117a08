import Foundation
import HubStore
import HubStoreSQLite
@testable import ReplicaStore
import SyncEngine
import Records
import Testing
import TestSupport

/// The informant key in the store: the hub's signed statement, its private key sealed to each
/// eligible operator (never to a viewer, dropped when a role becomes viewer), and a device that
/// takes a statement only under the hub key it pinned.
@Suite("Informant key store")
struct InformantKeyStoreTests {
    @Test func theKeyIsSealedToEligibleOperatorsOnly() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, device) = (stores[0], stores[1])
            let own = [("amina", OperatorRole.resolver), ("vic", .viewer)].map { name, role in
                (name, role, InformantPrivateKey())
            }
            for (name, role, key) in own {
                _ = try hub.addOperator(name: name, role: role, setupHash: Data(name.utf8), setupExpiresAt: hub.now() + 60_000)
                try hub.setOperatorKey(name: name, publicKey: key.publicKey, wrappedPrivateKey: "test")
            }
            let informant = InformantPrivateKey()
            let (statement, granted) = try hub.createInformantKey(informant, keyFileWritten: false)
            #expect(granted == ["amina"], "a viewer gets no copy")
            #expect(statement.isSigned(by: hub.publicKey) && statement.hub == hub.replicaID)
            #expect(try hub.informantKey() == statement)
            #expect(throws: InformantKeyError(.exists)) { try hub.createInformantKey(InformantPrivateKey(), keyFileWritten: false) }

            let sealed = try #require(try hub.operatorKey(name: "amina")?.sealedInformantKey)
            let opened = try X25519Box.open(
                sealed, with: own[0].2, info: ReplicaStore.operatorGrantInfo,
                aad: ReplicaStore.grantAAD(operator: "amina", keyID: informant.publicKey.keyID))
            #expect(opened == informant.rawRepresentation)
            #expect(throws: InformantKeyError(.notEligible)) { try hub.grantInformantKey(informant, to: "vic", by: "test") }
            #expect(throws: InformantKeyError(.wrongKey)) { try hub.grantInformantKey(InformantPrivateKey(), to: "amina", by: "test") }
            #expect(throws: InformantKeyError(.noSuchOperator)) { try hub.grantInformantKey(informant, to: "nobody", by: "test") }

            // A role changed to viewer loses the copy (the trigger of v17-informant-keys).
            try hub.write { db in try db.execute(sql: "UPDATE operators SET role = 'viewer' WHERE name = 'amina'") }
            let copies = try hub.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM operator_informant_keys") }
            #expect(copies == 0)

            // A device takes the statement only under the hub key it pinned.
            #expect(throws: InformantKeyError(.notSigned)) { try device.saveInformantKey(statement) }
            try device.pinHub(hub.replicaID, key: hub.publicKey)
            var forged = statement
            forged.publicKey = InformantPrivateKey().publicKey
            #expect(throws: InformantKeyError(.notSigned)) { try device.saveInformantKey(forged) }
            #expect(try device.saveInformantKey(statement))
            #expect(try device.saveInformantKey(statement) == false, "the same key again changes nothing")
            #expect(try device.informantKey() == statement)
        }
    }
}
