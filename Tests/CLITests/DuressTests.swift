import AtRest
import Foundation
import ReplicaStore
import Testing
import TestSupport

/// `fieldcli duress set`, and what the duress passphrase does wherever a passphrase is asked.
@Suite("Duress passphrase")
struct DuressTests {
    static let duress = "the words I give when forced"

    /// An encrypted replica with reports and a duress passphrase file beside it.
    static func field() async throws -> (EncryptedReplicaTests.Field, String) {
        let field = try EncryptedReplicaTests.Field()
        try await field.initialize()
        let duressFile = field.sandbox.path("duress")
        try EncryptedReplicaTests.Field.writePrivate(duressFile, duress + "\n")
        return (field, duressFile)
    }

    @Test("after duress set the real passphrase still opens everything; the data key file keeps its shape")
    func realPassphraseStillWorks() async throws {
        let (field, duressFile) = try await Self.field()
        let id = try await field.succeed("put", "reports", "--body", #"{"title": "Convoy seen at Mornei"}"#).output
        let keyPath = ReplicaStore.dataKeyPath(forReplicaAt: field.replica)
        let before = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyPath))) as? [String: Any]
        try await field.succeed("duress", "set", "--duress-passphrase-file", duressFile)
        let after = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: keyPath))) as? [String: Any]
        // A captor reading the file cannot tell that a duress passphrase was set: same fields,
        // same sizes, the alternate slot as random-looking before as after.
        #expect(before.map { Set($0.keys) } == after.map { Set($0.keys) })
        #expect((before?["alternate"] as? String)?.count == (after?["alternate"] as? String)?.count)
        #expect(before?["alternate"] as? String != after?["alternate"] as? String)
        #expect(before?["wrapped"] as? String == after?["wrapped"] as? String)

        let get = try await field.succeed("get", "reports", id)
        #expect(get.stdout.contains("Mornei"))
        try await field.succeed("status")
        try await field.succeed("put", "reports", "--body", #"{"title": "Second report"}"#)
        #expect(try field.open().status().versions == 2)
    }

    @Test("duress set refuses the replica's own passphrase, and a replica in clear")
    func refusals() async throws {
        let (field, _) = try await Self.field()
        let same = try await field.run(["duress", "set", "--duress-passphrase-file", field.passphraseFile])
        #expect(same.exitCode == Exit.usage && same.stderr.contains("differ"), "\(same)")
        let plain = try EncryptedReplicaTests.Field(encrypted: false)
        try await plain.initialize()
        let refused = try await plain.run(["duress", "set", "--duress-passphrase-file", field.passphraseFile])
        #expect(refused.exitCode == Exit.usage && refused.stderr.contains("not encrypted"), "\(refused)")
    }

    /// Issue 16's coercion schedule: the observer, forced, types the duress passphrase. The real
    /// replica is destroyed without a word (its data key overwritten, its files removed) and an
    /// empty replica opens under the duress passphrase and works (status, list, record). A captor
    /// who then copies the folder finds none of the earlier reports' text, and the real
    /// passphrase opens nothing any more.
    @Test("the duress passphrase destroys the replica silently and opens an empty one that works")
    func duressOpensAnEmptyReplica() async throws {
        let (field, duressFile) = try await Self.field()
        let notes = "Informant Halima saw the militia at Golo"
        let reportFile = field.sandbox.path("observation.json")
        try EncryptedReplicaTests.Field.writePrivate(reportFile, RecordBodies.observation(extra: " \(notes)."))
        try await field.succeed("record", "observation", "--from", reportFile)
        try await field.succeed("put", "reports", "--body", #"{"title": "Checkpoint at Kutum moved north"}"#)
        try await field.succeed("duress", "set", "--duress-passphrase-file", duressFile)
        let realID = try field.open().replicaID

        let status = try await field.run(["status", "--json"], passphraseFile: duressFile)
        #expect(status.succeeded && status.stderr.isEmpty, "\(status)")
        #expect(try status.json()["versions"] as? Int == 0, "\(status)")
        #expect(try status.json()["replicaID"] as? String != realID.hex, "\(status)")
        let list = try await field.run(["list", "reports"], passphraseFile: duressFile)
        #expect(list.succeeded && !list.stdout.contains("Kutum"), "\(list)")
        let recorded = try await field.run(["record", "observation", "--from", reportFile], passphraseFile: duressFile)
        #expect(recorded.succeeded, "\(recorded)")
        let listed = try await field.run(["list", "observations"], passphraseFile: duressFile)
        #expect(listed.succeeded && !listed.stdout.isEmpty, "\(listed)")

        let real = try await field.run(["status"])
        #expect(real.exitCode == EncryptedReplicaTests.wrongPassphrase, "\(real)")
        var found: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: field.folder.path) {
            let bytes = try Data(contentsOf: field.folder.appendingPathComponent(name))
            for needle in ["Kutum", "Golo", RecordBodies.secret] where bytes.range(of: Data(needle.utf8)) != nil {
                found.append("\(needle) in \(name)")
            }
        }
        #expect(found.isEmpty, "found after the duress passphrase: \(found)")
    }

    /// The duress passphrase typed to `fieldcli passphrase` (asked for the current passphrase)
    /// destroys the replica too; the new passphrase then opens the empty one. A changed
    /// passphrase forgets the duress one (its slot is random again).
    @Test("changing the passphrase forgets the duress passphrase; the duress one typed there destroys the replica")
    func passphraseChangeAndDuress() async throws {
        let (field, duressFile) = try await Self.field()
        try await field.succeed("put", "reports", "--body", #"{"title": "Checkpoint at Kutum"}"#)
        try await field.succeed("duress", "set", "--duress-passphrase-file", duressFile)
        let new = field.sandbox.path("new")
        try EncryptedReplicaTests.Field.writePrivate(new, "a new long passphrase\n")
        try await field.succeed("passphrase", "--new-passphrase-file", new)
        let forgotten = try await field.run(["status"], passphraseFile: duressFile)
        #expect(forgotten.exitCode == EncryptedReplicaTests.wrongPassphrase, "\(forgotten)")
        #expect(try await field.run(["list", "reports"], passphraseFile: new).stdout.contains("Kutum"))

        let set = try await field.run(["duress", "set", "--duress-passphrase-file", duressFile], passphraseFile: new)
        #expect(set.succeeded, "\(set)")
        let other = field.sandbox.path("other")
        try EncryptedReplicaTests.Field.writePrivate(other, "yet another passphrase\n")
        let changed = try await field.sandbox.runner.run(
            ["passphrase", "--db", field.replica, "--passphrase-file", duressFile, "--new-passphrase-file", other],
            environment: ["VIGIL_SCRYPT_LOGN": "10"])
        #expect(changed.succeeded, "\(changed)")
        let empty = try await field.run(["list", "reports"], passphraseFile: other)
        #expect(empty.succeeded && !empty.stdout.contains("Kutum"), "\(empty)")
    }
}
