import AtRest
import Foundation
import GRDB
@testable import ReplicaStore
import SyncEngine
import Testing
import TestSupport

/// What a captor who copies a replica's folder can read: every file, byte by byte.
enum Captor {
    /// Every file of `directory` (the replica, its -wal and -shm, its key files), by name.
    static func files(in directory: URL) throws -> [(name: String, bytes: Data)] {
        try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted().map { name in
            (name, try Data(contentsOf: directory.appendingPathComponent(name)))
        }
    }

    /// The names of the files of `directory` that hold `needle` anywhere.
    static func filesHolding(_ needle: Data, in directory: URL) throws -> [String] {
        try files(in: directory).filter { $0.bytes.range(of: needle) != nil }.map(\.name)
    }
}

/// Encrypted replicas in the store: bodies, set-aside copies and the device key sealed under a
/// data key wrapped by a passphrase (cheap scrypt parameters here).
@Suite struct EncryptionTests {
    static let secret = "Imam Y. of Tawila, phone 0912"
    static let notes = "Armed men burned the shelters of the Zamzam north gate"

    static func passphrase(_ text: String = "a long passphrase for tests") -> @Sendable () throws -> Passphrase {
        { try Passphrase(text) }
    }

    static func options(_ folder: TemporaryReplica, passphrase: String = "a long passphrase for tests") -> ReplicaStore.Options {
        var options = folder.options
        options.keyDerivation = .testing
        options.passphrase = Self.passphrase(passphrase)
        options.unlockDelay = .zero
        return options
    }

    static func create(_ folder: TemporaryReplica, _ name: String, encrypted: Bool) throws -> ReplicaStore {
        try ReplicaStore.create(
            at: folder.path(name), encryptingWith: encrypted ? try Passphrase("a long passphrase for tests") : nil,
            options: options(folder))
    }

    static func report(_ id: String) throws -> WriteIntent {
        WriteIntent(
            key: DocumentKey(collection: try #require(CollectionName("reports")), id: try #require(DocumentID(id))),
            body: Data(#"{"title": "\#(notes) \#(id)", "informant_ref": "\#(secret)"}"#.utf8))
    }

    @Test func anEncryptedReplicaReopensWithItsPassphrase() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        #expect(store.isEncrypted)
        let written = try store.write(try Self.report("r1"))
        let again = try ReplicaStore.open(at: store.path, options: Self.options(folder))
        #expect(again.isEncrypted)
        #expect(again.publicKey == store.publicKey)
        let document = try #require(try again.document(written.key))
        #expect(document.siblings == [written])
        #expect(try again.history(of: written.key).map(\.version) == [written])
        #expect(try again.signatureStatus(of: document.siblings[0]) == .valid)
    }

    /// A captor guessing the passphrase: refused with a typed error, and not one byte of the
    /// replica's files changes.
    @Test func aWrongPassphraseIsRefusedAndChangesNothing() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        try store.write(try Self.report("r1"))
        let before = try Captor.files(in: folder.directory)
        let error = #expect(throws: StoreError.self) {
            try ReplicaStore.open(at: store.path, options: Self.options(folder, passphrase: "a long passphrase for test"))
        }
        #expect(error?.code == .wrongPassphrase)
        #expect(error?.message.contains("passphrase for test") == false)
        // The -shm file is SQLite's shared-memory index (readers' marks), not content.
        // Beside them, the count of failed attempts (for the growing delay) is all that is new.
        let after = try Captor.files(in: folder.directory).filter { !$0.name.hasSuffix(".unlock-failures") }
        #expect(after.map(\.name) == before.map(\.name))
        for (old, new) in zip(before, after) where !old.name.hasSuffix("-shm") {
            #expect(old.bytes == new.bytes, "\(old.name) changed")
        }
        var noPassphrase = folder.options
        noPassphrase.passphrase = nil
        let locked = #expect(throws: StoreError.self) { try ReplicaStore.open(at: store.path, options: noPassphrase) }
        #expect(locked?.code == .locked)
    }

    /// Someone at the device trying passphrases one after another (each try a new process): every
    /// wrong one makes the next attempt wait twice as long before the key is even derived; the
    /// right one, after that wait, clears the count.
    @Test func wrongPassphrasesAreAnsweredEverMoreSlowly() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        var wrong = Self.options(folder, passphrase: "wrong wrong wrong")
        wrong.unlockDelay = .milliseconds(100)
        var times: [Duration] = []
        for _ in 0..<3 {
            let start = ContinuousClock.now
            #expect(throws: StoreError.self) { try ReplicaStore.open(at: store.path, options: wrong) }
            times.append(ContinuousClock.now - start)
        }
        #expect(times[1] >= .milliseconds(100) && times[2] >= .milliseconds(200), "\(times)")
        var right = Self.options(folder)
        right.unlockDelay = .milliseconds(100)
        let start = ContinuousClock.now
        _ = try ReplicaStore.open(at: store.path, options: right)
        #expect(ContinuousClock.now - start >= .milliseconds(400))
        #expect(!FileManager.default.fileExists(atPath: store.path + ".unlock-failures"))
    }

    /// A new passphrase (and a higher cost): only the wrapped key changes; the old passphrase no
    /// longer opens, the new one does, and the old file's bytes are overwritten (a captor who later
    /// learns the old passphrase finds no key wrapped under it).
    @Test func changingThePassphraseRewrapsTheKeyAndShredsTheOldFile() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        let written = try store.write(try Self.report("r1"))
        let keyPath = ReplicaStore.dataKeyPath(forReplicaAt: store.path)
        let original = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        let oldBlocks = try #require(FileHandle(forReadingAtPath: keyPath))
        defer { try? oldBlocks.close() }
        var options = Self.options(folder)
        options.keyDerivation = ScryptParameters(logN: 11, r: 8, p: 1)
        try ReplicaStore.changePassphrase(at: store.path, to: try Passphrase("the new passphrase"), options: options)

        let error = #expect(throws: StoreError.self) { try ReplicaStore.open(at: store.path, options: Self.options(folder)) }
        #expect(error?.code == .wrongPassphrase)
        let reopened = try ReplicaStore.open(at: store.path, options: Self.options(folder, passphrase: "the new passphrase"))
        #expect(try reopened.document(written.key)?.siblings == [written])
        let file = try WrappedDataKey.decode(try Data(contentsOf: URL(fileURLWithPath: keyPath)))
        #expect(file.derivation.parameters.logN == 11)
        let left = try oldBlocks.readToEnd() ?? Data()
        #expect(left.count == original.count && left != original)
        #expect(throws: StoreError.self) {
            try ReplicaStore.changePassphrase(at: store.path, to: try Passphrase("x"), options: Self.options(folder))
        }
    }

    /// The data key file removed (the replica would open in clear and mix clear bodies in), or
    /// another replica's put in its place: refused.
    @Test func aMissingOrForeignDataKeyIsRefused() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        let other = try Self.create(folder, "other", encrypted: true)
        let keyPath = ReplicaStore.dataKeyPath(forReplicaAt: store.path)
        let saved = try Data(contentsOf: URL(fileURLWithPath: keyPath))
        try FileManager.default.removeItem(atPath: keyPath)
        let missing = #expect(throws: StoreError.self) { try ReplicaStore.open(at: store.path, options: Self.options(folder)) }
        #expect(missing?.code == .keyFile)
        try FileManager.default.copyItem(atPath: ReplicaStore.dataKeyPath(forReplicaAt: other.path), toPath: keyPath)
        let foreign = #expect(throws: StoreError.self) { try ReplicaStore.open(at: store.path, options: Self.options(folder)) }
        #expect(foreign?.code == .keyFile)
        try FileManager.default.removeItem(atPath: keyPath)
        try PrivateFile.write(saved, to: keyPath)
        _ = try ReplicaStore.open(at: store.path, options: Self.options(folder))
    }

    /// Someone with write access to the file swaps two rows' sealed bodies (to make one report say
    /// what another said): neither opens, and nothing wrong is shown.
    @Test func bodiesSwappedBetweenRowsDoNotOpen() throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: true)
        let first = try store.write(try Self.report("r1"))
        let second = try store.write(try Self.report("r2"))
        try store.database.writeWithoutTransaction { db in
            try db.execute(sql: """
                UPDATE versions SET body = (SELECT body FROM versions WHERE counter = 2) WHERE counter = 1;
                """)
        }
        #expect(throws: StoreError.self) { try store.document(first.key) }
        #expect(try store.document(second.key)?.siblings == [second])
    }

    /// The captor test of the store: an encrypted replica holding reports, a pulled version set
    /// aside because its signature failed, every file copied as a captor would (the WAL not
    /// checkpointed): no report text, informant reference or device key anywhere. The same on a
    /// replica in clear finds them, so the search can fail.
    @Test(arguments: [true, false])
    func aCaptorFindsNothingOfAnEncryptedReplica(encrypted: Bool) throws {
        let folder = try TemporaryReplica()
        let store = try Self.create(folder, "field", encrypted: encrypted)
        let other = try Self.create(folder, "other", encrypted: false)
        for id in ["r1", "r2", "r3"] { try store.write(try Self.report(id)) }
        // A version from another device that failed verification is kept whole, apart.
        var forged = try other.write(try Self.report("r4"))
        forged.signature = Data(repeating: 1, count: 64)
        let unverified = forged
        try store.apply([], from: nil, inSameTransaction: { context in try context.keepUnverified([(unverified, .badSignature)], at: 1) })
        #expect(try store.unverifiedVersions().map(\.version) == [forged])
        try FileManager.default.removeItem(atPath: other.path)
        for suffix in ["-wal", "-shm", ".key"] { try? FileManager.default.removeItem(atPath: other.path + suffix) }

        let needles = [
            Data(Self.secret.utf8), Data(Self.notes.utf8), Data("Tawila".utf8),
            store.key.rawRepresentation, Data(store.key.rawRepresentation.base64EncodedString().utf8),
        ]
        let found = try needles.map { try Captor.filesHolding($0, in: folder.directory) }
        if encrypted {
            #expect(found.allSatisfy { $0.isEmpty }, "\(found)")
        } else {
            #expect(!found[0].isEmpty && !found[1].isEmpty && !found[4].isEmpty, "\(found)")
        }
    }
}
