import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// A set-aside version's reason is a code beside its sentence (issue 12: "rejection and quarantine
/// reasons are typed codes with a detail, end to end"); no query reads the sentence back.
@Suite("Set-aside codes")
struct SetAsideCodeTests {
    /// A replica set aside before `v21-set-aside-codes` (its schema taken back with the `sqlite3`
    /// shell) holds one version of each reason sentence the earlier builds wrote: the migration gives
    /// each its code, and what is decided by code (taking a rejected version back, counting the
    /// versions set aside apart from forgotten ones) works on the migrated rows.
    @Test(.enabled(if: SQLiteShell.isInstalled, "needs the sqlite3 shell"))
    func reasonsWrittenBeforeCodesGetTheirCodes() async throws {
        let sentences: [(String, SetAsideReason.Code)] = [
            ("implausible context: it names a version nobody holds", .implausibleContext),
            ("rejected by the hub (out-of-scope): Quarantined: out of scope: replica a may not write.", .rejectedByHub),
            ("it moves notes/k from partition 'north' to 'south'", .partitionMove),
            ("outside this device's read scope", .outsideReadScope),
            ("set aside: the hub holds another version at a:4 (its origin forked)", .forkedOrigin),
            ("out of scope: replica a may not write notes", .outOfScope),
            ("bad signature: a:7 does not verify", .badSignature),
            ("invalid record: title is missing", .invalidRecord),
        ]
        try await TemporaryReplica.withFolder { folder in
            let store = try folder.createBeforeRoles("field")
            let versions = try sentences.indices.map { try store.write(StoreFixtures.put("n\($0)", "note \($0)")) }
            var sql = """
                ALTER TABLE versions DROP COLUMN set_aside_code; ALTER TABLE foreign_quarantine DROP COLUMN code;
                DELETE FROM grdb_migrations WHERE identifier = 'v21-set-aside-codes';
                """
            for (version, (sentence, _)) in zip(versions, sentences) {
                let quoted = sentence.replacingOccurrences(of: "'", with: "''")
                sql += "UPDATE versions SET set_aside_reason = '\(quoted)' WHERE counter = \(version.dot.counter);"
            }
            let shell = try SQLiteShell.run(store.path, sql)
            #expect(shell.status == 0, "\(shell.stderr)")

            let migrated = try folder.open("field")
            let reasons = try migrated.setAsideReasons(of: versions.map(\.dot))
            for (version, (sentence, code)) in zip(versions, sentences) {
                #expect(reasons[version.dot] == SetAsideReason(code, sentence))
            }
            #expect(try migrated.status().setAside == sentences.count - 1, "a forgotten document's own version is no rejection")
            try migrated.apply([], from: nil, inSameTransaction: { context in try context.readmit(versions.map(\.dot)) })
            let after = try migrated.setAsideReasons(of: versions.map(\.dot))
            #expect(after[versions[1].dot] == nil, "only the version the hub rejected is taken back")
            #expect(after.count == sentences.count - 1)
        }
    }

    /// The hub tells a pusher the reason its code names, whatever the sentence says: a record whose
    /// problem reads like another reason is still an invalid record. Before codes the hub parsed
    /// the sentence's first words.
    @Test func theHubReportsTheCodeNotTheSentence() {
        let reasons: [SetAsideReason.Code: Rejection.Reason] = [
            .outOfScope: .outOfScope, .badSignature: .badSignature, .implausibleContext: .implausibleContext,
            .invalidRecord: .invalidRecord, .forkedOrigin: .fork,
        ]
        for (code, rejection) in reasons {
            #expect(SetAsideReason(code, "bad signature: out of scope: implausible context").rejection == rejection)
        }
        #expect(SetAsideReason.Code.allCases.filter(\.isRefusalOfContent) == [.outOfScope, .invalidRecord])
    }
}
