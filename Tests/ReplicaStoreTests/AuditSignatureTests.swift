import Foundation
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// The hub's audit log as evidence (issue 10 §5): every entry is signed with the hub's key, which
/// lives in the key file beside the database, so that rewriting the database, hashes and all, is
/// found; a head kept elsewhere finds a log cut short.
@Suite("Audit signatures")
struct AuditSignatureTests {

    static func blob(_ data: Data) -> String { "X'" + data.map { String(format: "%02x", $0) }.joined() + "'" }

    /// Appends `count` operator entries; returns them as stored.
    static func fill(_ hub: ReplicaStore, _ count: Int) throws -> [AuditEntry] {
        for index in 0..<count {
            try hub.appendAudit(actor: AuditEntry.operatorActor, action: .revoked, subject: "device-\(index)")
        }
        return try hub.auditEntries(after: 0, limit: 10_000)
    }

    /// SQL that writes `entries` over the rows of the same sequence (triggers dropped first), as
    /// someone with the database but not the key would.
    static func rewrite(_ entries: some Sequence<AuditEntry>) -> String {
        var sql = "DROP TRIGGER IF EXISTS audit_log_no_update; "
        for entry in entries {
            sql += """
                UPDATE audit_log SET subject = '\(entry.subject)', format = \(entry.format.rawValue), \
                previous_hash = \(blob(entry.previousHash)), hash = \(blob(entry.hash)) WHERE seq = \(entry.sequence);
                """
        }
        return sql
    }

    static func rechain(_ entries: inout [AuditEntry], from start: Int) {
        for index in start..<entries.count {
            if index > 0 { entries[index].previousHash = entries[index - 1].hash }
            entries[index].hash = entries[index].expectedHash
        }
    }

    /// The regression of issue 10 §5: an entry changed in the file and every hash after it
    /// recomputed verified as intact before entries were signed.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func rewritingTheDatabaseWithRecomputedHashesIsFound() async throws {
        try await TemporaryReplica.withHub { hub in
            var entries = try Self.fill(hub, 4)
            #expect(try hub.verifyAuditChain().verdict == .intact(
                AuditChain.Position(sequence: 4, hash: entries[3].hash, count: 4)))
            entries[1].subject = "someone-else"
            Self.rechain(&entries, from: 1)
            #expect(try SQLiteShell.run(hub.path, Self.rewrite(entries[1...])).status == 0)
            #expect(try hub.verifyAuditChain().verdict == .broken(AuditChainBreak(sequence: 2, problem: .badSignature)))

            // Signing the rewritten entries with a key of one's own does not help either.
            let other = DeviceKey()
            var sql = "DROP TRIGGER audit_signatures_no_update; "
            for entry in entries[1...] {
                let signature = try other.signature(for: AuditEntry.signedBytes(hash: entry.hash))
                sql += "UPDATE audit_signatures SET signature = \(Self.blob(signature)) WHERE seq = \(entry.sequence); "
            }
            #expect(try SQLiteShell.run(hub.path, sql).status == 0)
            #expect(try hub.verifyAuditChain().verdict == .broken(AuditChainBreak(sequence: 2, problem: .badSignature)))
        }
    }

    /// Putting one's own public key into the database to go with one's own signatures: the key
    /// file beside the database no longer matches, and the hub's database does not open.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func replacingTheHubsKeyInTheDatabaseIsRefused() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try folder.create("hub")
            _ = try Self.fill(hub, 2)
            let sql = "UPDATE replica SET public_key = \(Self.blob(DeviceKey().publicKey.rawRepresentation));"
            #expect(try SQLiteShell.run(hub.path, sql).status == 0)
            #expect(throws: StoreError.self) { try folder.open("hub") }
        }
    }

    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func aRemovedSignatureIsFound() async throws {
        try await TemporaryReplica.withHub { hub in
            _ = try Self.fill(hub, 3)
            let sql = "DROP TRIGGER audit_signatures_no_delete; DELETE FROM audit_signatures WHERE seq = 2;"
            #expect(try SQLiteShell.run(hub.path, sql).status == 0)
            #expect(try hub.verifyAuditChain().verdict == .broken(AuditChainBreak(sequence: 2, problem: .missingSignature)))
        }
    }

    /// Entries written before this version (format 1, no signature) are kept as they are:
    /// nothing is signed retroactively, and verify reports where signing began.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func entriesFromBeforeSigningStayUnsignedAndTheLogGoesOnSigned() async throws {
        try await TemporaryReplica.withHub { hub in
            var previous = AuditEntry.genesisHash
            var sql = ""
            for sequence in Int64(1)...3 {
                let entry = AuditEntry(
                    sequence: sequence, at: 1_600_000_000_000 + UInt64(sequence), actor: "operator", action: .revoked,
                    subject: "old-\(sequence)", previousHash: previous, format: .unsigned)
                sql += """
                    INSERT INTO audit_log (seq, at, actor, action, subject, detail, previous_hash, hash) VALUES \
                    (\(sequence), \(entry.at), 'operator', 'device.revoked', '\(entry.subject)', '{}', \
                    \(Self.blob(entry.previousHash)), \(Self.blob(entry.hash)));
                    """
                previous = entry.hash
            }
            #expect(try SQLiteShell.run(hub.path, sql).status == 0)
            let added = try Self.fill(hub, 2)
            #expect(added.map(\.format) == [.unsigned, .unsigned, .unsigned, .signed, .signed])
            #expect(added.prefix(3).allSatisfy { $0.signature == nil })
            #expect(added.suffix(2).allSatisfy { $0.hasValidSignature(by: hub.publicKey) })
            guard case .intact(let position) = try hub.verifyAuditChain().verdict else {
                Issue.record("a log with an unsigned beginning broke")
                return
            }
            #expect(position.lastUnsigned == 3)
            #expect(position.count == 5)
        }
    }

    /// The migration itself: a hub file from before `v8-audit-signatures` (its schema taken back
    /// with the `sqlite3` shell) with entries in it is opened by this version: the old entries stay
    /// as they were, unsigned, and what is written afterwards is signed.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func aHubFromBeforeSigningMigrates() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try folder.create("hub")
            var sql = """
                DROP INDEX audit_log_unsigned; DROP INDEX audit_log_by_actor; DROP INDEX foreign_quarantine_by_pusher;
                DROP TABLE audit_signatures; DROP TABLE audit_suppressed; ALTER TABLE audit_log DROP COLUMN format;
                DELETE FROM grdb_migrations WHERE identifier = 'v8-audit-signatures';
                """
            var previous = AuditEntry.genesisHash
            for sequence in Int64(1)...2 {
                let entry = AuditEntry(
                    sequence: sequence, at: 1_600_000_000_000, actor: "operator", action: .codeIssued,
                    subject: "old-\(sequence)", previousHash: previous, format: .unsigned)
                sql += """
                    INSERT INTO audit_log (seq, at, actor, action, subject, detail, previous_hash, hash) VALUES \
                    (\(sequence), \(entry.at), 'operator', 'device.code-issued', '\(entry.subject)', '{}', \
                    \(Self.blob(entry.previousHash)), \(Self.blob(entry.hash)));
                    """
                previous = entry.hash
            }
            let shell = try SQLiteShell.run(hub.path, sql)
            #expect(shell.status == 0, "\(shell.stderr)")
            let migrated = try folder.open("hub")
            try migrated.appendAudit(actor: AuditEntry.operatorActor, action: .revoked, subject: "new")
            let entries = try migrated.auditEntries(after: 0, limit: 10)
            #expect(entries.map(\.format) == [.unsigned, .unsigned, .signed])
            #expect(entries.map { $0.signature != nil } == [false, false, true])
            guard case .intact(let position) = try migrated.verifyAuditChain().verdict else {
                Issue.record("the migrated log broke")
                return
            }
            #expect(position.lastUnsigned == 2)
            #expect(position.count == 3)
        }
    }

    @Test func entriesWrittenInsideOtherTransactionsAreSignedBeforeTheyCommit() async throws {
        try await TemporaryReplica.withHubAndReplicas(2) { stores in
            let (hub, field) = (stores[0], stores[1])
            _ = try AuditLogTests.enroll(hub, name: "amina-laptop")
            _ = try hub.revokeDevice("amina-laptop")
            let version = try field.write(StoreFixtures.put("a", "hello"))
            try hub.apply([version], from: field.replicaID, inSameTransaction: { context in
                try context.appendAudit(actor: "hub", action: .quarantined, subject: version.dot.description, at: 1)
            })
            let entries = try hub.auditEntries(after: 0, limit: 100)
            #expect(entries.count >= 4)
            #expect(entries.allSatisfy { $0.format == .signed && $0.hasValidSignature(by: hub.publicKey) })
            guard case .intact(let position) = try hub.verifyAuditChain().verdict else {
                Issue.record("the chain broke")
                return
            }
            #expect(position.lastUnsigned == 0)
            #expect(try hub.newestAuditEntry() == entries.last)
        }
    }

    /// A head kept elsewhere: the log cut back to before it is found, even when the hub (with
    /// its key) goes on writing afterwards; cut back to after it, it still verifies.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func aHeadKeptElsewhereFindsALogCutShort() async throws {
        try await TemporaryReplica.withHub { hub in
            let entries = try Self.fill(hub, 5)
            let head = entries[3].hash
            #expect(try hub.verifyAuditChain(head: head).head == .found(sequence: 4))
            #expect(try hub.verifyAuditChain().head == .notGiven)

            let cutAfter = "DROP TRIGGER audit_log_no_delete; DROP TRIGGER audit_signatures_no_delete; DELETE FROM audit_log WHERE seq > 4; DELETE FROM audit_signatures WHERE seq > 4;"
            #expect(try SQLiteShell.run(hub.path, cutAfter).status == 0)
            let shorter = try hub.verifyAuditChain(head: head)
            #expect(shorter.head == .found(sequence: 4))
            #expect(shorter.verdict == .intact(AuditChain.Position(sequence: 4, hash: head, count: 4)))

            let cutBefore = "DELETE FROM audit_log WHERE seq > 2; DELETE FROM audit_signatures WHERE seq > 2;"
            #expect(try SQLiteShell.run(hub.path, cutBefore).status == 0)
            _ = try Self.fill(hub, 3)
            let rewritten = try hub.verifyAuditChain(head: head)
            guard case .intact = rewritten.verdict else {
                Issue.record("the cut log, continued with the hub's key, should chain")
                return
            }
            #expect(rewritten.head == .missing)
        }
    }
}
