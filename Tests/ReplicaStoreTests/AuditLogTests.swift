import Foundation
import GRDB
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The hub's audit log in its SQLite file (HubStoreSQLite's `ReplicaStore+AuditLog.swift`): append-only,
/// chained, written with the events it records.
@Suite("Audit log")
struct AuditLogTests {
    /// Gives out a code for `name` and enrolls a new device with it; returns the device's id.
    static func enroll(_ hub: ReplicaStore, name: String) throws -> ReplicaID {
        let code = Data((name + "-code").utf8)
        _ = try hub.addEnrollmentCode(hash: code, deviceName: name, expiresAt: hub.now() + 60_000)
        let replica = ReplicaID.random()
        let outcome = try hub.enrollDevice(
            codeHash: code, replica: replica, publicKey: DeviceKey().publicKey, credentialHash: Data((name + "-credential").utf8))
        #expect(outcome == .enrolled(name: name))
        return replica
    }

    static func entries(_ store: ReplicaStore) throws -> [AuditEntry] {
        try store.auditEntries(after: 0, limit: 10_000)
    }

    @Test func entriesChainFromTheFirst() async throws {
        try await TemporaryReplica.withHub { hub in
            #expect(try hub.verifyAuditChain().verdict == .intact(.start))
            let first = try hub.appendAudit(actor: "operator", action: .revoked, subject: "a", detail: ["x": "1"])
            let second = try hub.appendAudit(actor: "hub", action: .resolved, subject: "notes/b")
            #expect(first.sequence == 1 && second.sequence == 2)
            #expect(first.previousHash == AuditEntry.genesisHash)
            #expect(second.previousHash == first.hash)
            #expect(try Self.entries(hub) == [first, second])
            #expect(try hub.auditEntries(after: 1, limit: 5) == [second])
            #expect(try hub.auditEntries(after: 0, limit: 1) == [first])
            #expect(try hub.verifyAuditChain().verdict == .intact(AuditChain.Position(sequence: 2, hash: second.hash, count: 2)))
            #expect(try hub.auditEntryCount() == 2)
        }
    }

    @Test func verifyingReadsPastOnePage() async throws {
        try await TemporaryReplica.withHub { hub in
            for index in 0..<2_100 {
                try hub.appendAudit(actor: "hub", action: .resolved, subject: "notes/\(index)")
            }
            guard case .intact(let position) = try hub.verifyAuditChain().verdict else {
                Issue.record("the chain broke")
                return
            }
            #expect(position.count == 2_100)
        }
    }

    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func updatesAndDeletesAreRefused() async throws {
        try await TemporaryReplica.withHub { hub in
            try hub.appendAudit(actor: "operator", action: .revoked, subject: "a")
            let update = try SQLiteShell.run(hub.path, "UPDATE audit_log SET subject = 'b';")
            #expect(update.status != 0)
            #expect(update.stderr.contains("the audit log is append-only"))
            let delete = try SQLiteShell.run(hub.path, "DELETE FROM audit_log;")
            #expect(delete.status != 0)
            #expect(delete.stderr.contains("the audit log is append-only"))
            #expect(try Self.entries(hub).map(\.subject) == ["a"])
        }
    }

    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func tamperingIsFound() async throws {
        try await TemporaryReplica.withHub { hub in
            for name in ["a", "b", "c"] { try hub.appendAudit(actor: "operator", action: .revoked, subject: name) }
            #expect(try SQLiteShell.run(hub.path, "DROP TRIGGER audit_log_no_update; UPDATE audit_log SET subject = 'z' WHERE seq = 2;").status == 0)
            #expect(try hub.verifyAuditChain().verdict == .broken(AuditChainBreak(sequence: 2, problem: .hashMismatch)))
            #expect(try SQLiteShell.run(hub.path, "UPDATE audit_log SET detail = 'not json' WHERE seq = 1;").status == 0)
            #expect(try hub.verifyAuditChain().verdict == .broken(AuditChainBreak(sequence: 1, problem: .unreadable)))
            #expect(throws: StoreError.self) { try hub.auditEntries(after: 0, limit: 10) }
        }
    }

    @Test func enrollmentLeavesOneEntry() async throws {
        try await TemporaryReplica.withHub { hub in
            let code = Data("code".utf8)
            _ = try hub.addEnrollmentCode(hash: code, deviceName: "amina-laptop", expiresAt: hub.now() + 60_000)
            let before = try hub.auditEntryCount()
            let replica = ReplicaID.random()
            let outcome = try hub.enrollDevice(
                codeHash: code, replica: replica, publicKey: DeviceKey().publicKey, credentialHash: Data("secret".utf8))
            #expect(outcome == .enrolled(name: "amina-laptop"))
            let added = try hub.auditEntries(after: Int64(before), limit: 10)
            #expect(added.count == 1)
            #expect(added.first?.action == .enrolled)
            #expect(added.first?.actor == replica.hex)
            #expect(added.first?.subject == "amina-laptop")
            #expect(added.first?.detail["replica"] == replica.hex)
            #expect(added.first?.detail["code"] == "636f6465")  // "code", no more than a prefix of the hash
            guard case .intact = try hub.verifyAuditChain().verdict else {
                Issue.record("the chain broke")
                return
            }
        }
    }

    @Test func revocationLeavesOneEntry() async throws {
        try await TemporaryReplica.withHub { hub in
            let replica = try Self.enroll(hub, name: "amina-laptop")
            let before = try hub.auditEntryCount()
            guard case .revoked = try hub.revokeDevice("amina-laptop") else {
                Issue.record("not revoked")
                return
            }
            let added = try hub.auditEntries(after: Int64(before), limit: 10)
            #expect(added.count == 1)
            #expect(added.first?.action == .revoked)
            #expect(added.first?.actor == "operator")
            #expect(added.first?.subject == "amina-laptop")
            #expect(added.first?.detail["replica"] == replica.hex)
        }
    }

    @Test func incarnationLeavesOneEntry() async throws {
        try await TemporaryReplica.withHub { hub in
            let device = try Self.enroll(hub, name: "amina-laptop")
            let before = try hub.auditEntryCount()
            let newID = ReplicaID.random()
            let forkedAt = Dot(replica: device, counter: 3)
            guard case .bound = try hub.bindIncarnation(of: device, as: newID, forkedAt: forkedAt) else {
                Issue.record("not bound")
                return
            }
            // Binding it again is a no-op: no second entry.
            _ = try hub.bindIncarnation(of: device, as: newID, forkedAt: forkedAt)
            let added = try hub.auditEntries(after: Int64(before), limit: 10)
            #expect(added.count == 1)
            #expect(added.first?.action == .incarnated)
            #expect(added.first?.actor == device.hex)
            #expect(added.first?.detail["replica"] == newID.hex)
            #expect(added.first?.detail["forkedAt"] == forkedAt.description)
        }
    }

    @Test func foreignQuarantineLeavesOneEntryPerVersion() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let version = try field.write(StoreFixtures.put("a", "hello"))
            let pusher = ReplicaID.random()
            try hub.quarantineForeign([(version, SetAsideReason(.badSignature, "bad signature"))], pushedBy: pusher, limit: 0)
            // Pushed again after a lost answer: still one entry.
            try hub.quarantineForeign([(version, SetAsideReason(.badSignature, "bad signature"))], pushedBy: pusher, limit: 0)
            let entries = try Self.entries(hub)
            #expect(entries.count == 1)
            #expect(entries.first?.action == .quarantined)
            #expect(entries.first?.actor == pusher.hex)
            #expect(entries.first?.subject == version.dot.description)
            #expect(entries.first?.detail["reason"] == "bad signature")
            #expect(entries.first?.detail["collection"] == "notes")
            #expect(try hub.foreignQuarantineCount() == 1)
        }
    }

    @Test func refusedEventsLeaveNoEntry() async throws {
        try await TemporaryReplica.withHub { hub in
            _ = try Self.enroll(hub, name: "amina-laptop")
            let before = try hub.auditEntryCount()
            // The code was used, and no device is called "nobody".
            let again = try hub.enrollDevice(
                codeHash: Data("amina-laptop-code".utf8), replica: .random(), publicKey: DeviceKey().publicKey,
                credentialHash: Data("other".utf8))
            #expect(again == .used)
            #expect(try hub.revokeDevice("nobody") == .notFound)
            #expect(try hub.bindIncarnation(of: .random(), as: .random(), forkedAt: nil) == .unknownDevice)
            #expect(try hub.auditEntryCount() == before)
        }
    }

    @Test func anEntryRollsBackWithItsTransaction() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let version = try field.write(StoreFixtures.put("a", "hello"))
            struct Abort: Error {}
            #expect(throws: Abort.self) {
                try hub.apply([version], from: field.replicaID, inSameTransaction: { context in
                    try context.appendAudit(actor: "hub", action: .quarantined, subject: version.dot.description, at: 1)
                    throw Abort()
                })
            }
            #expect(try hub.auditEntryCount() == 0)
            #expect(try hub.knowledge()[field.replicaID] == 0)
        }
    }

    @Test func fieldReplicasAuditNothingOfTheirApplies() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let version = try field.write(StoreFixtures.put("a", "hello"))
            let report = try hub.apply([version], from: field.replicaID) { _, _ in .setAside(SetAsideReason(.outOfScope, "out of scope")) }
            #expect(report.setAside.count == 1)
            #expect(try hub.auditEntryCount() == 0)
        }
    }

    @Test func theApplyContextSeesTheReport() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            let kept = try field.write(StoreFixtures.put("a", "hello"))
            let setAside = try field.write(StoreFixtures.put("b", "bye"))
            try hub.apply([kept, setAside], from: field.replicaID, admit: { version, _ in
                version.dot == setAside.dot ? .setAside(SetAsideReason(.outOfScope, "out of scope")) : .merge
            }) { context in
                #expect(context.report.setAside == [setAside.dot: SetAsideReason(.outOfScope, "out of scope")])
                #expect(context.report.stored == 2)
            }
        }
    }

    @Test func aResolutionOnAHubIsAuditedAndOnAFieldReplicaNot() async throws {
        try await TemporaryReplica.withHubAndReplicas(4) { stores in
            let (hub, field, a, b) = (stores[0], stores[1], stores[2], stores[3])
            _ = try Self.enroll(hub, name: "device")
            let siblings = [try a.write(StoreFixtures.put("doc", "one")), try b.write(StoreFixtures.put("doc", "two"))]
            for store in [hub, field] { try store.apply(siblings, from: a.replicaID) }
            let resolution = WriteIntent(
                key: StoreFixtures.key("doc"), body: StoreFixtures.body("both"), isResolution: true,
                expectedSiblings: siblings.map(\.dot))
            let before = try hub.auditEntryCount()
            let written = try hub.write(resolution)
            let added = try hub.auditEntries(after: Int64(before), limit: 10)
            #expect(added.map(\.action) == [.resolved])
            #expect(added.first?.actor == AuditEntry.operatorActor)
            #expect(added.first?.subject == StoreFixtures.key("doc").description)
            #expect(added.first?.detail["dot"] == written.dot.description)
            try field.write(resolution)
            #expect(try field.read { db in try !db.tableExists("audit_log") }, "a field replica has no audit log to write to")
        }
    }
}
