import AtRest
import Foundation
@testable import ReplicaStore
import Testing

/// The duress slot of the wrapped data key, and the store's response to the duress passphrase.
@Suite("Duress key slot")
struct DuressKeyTests {
    static let parameters = ScryptParameters.testing

    /// A captor comparing data key files cannot tell one with a duress passphrase from one
    /// without: every file has an alternate slot the size of the wrapped one, and setting the
    /// duress passphrase changes only that slot's (random-looking) bytes.
    @Test("every wrapped key has an alternate slot; setting duress changes only its bytes")
    func slotShape() throws {
        let key = DataKey.random()
        let file = try WrappedDataKey.wrap(key, passphrase: try Passphrase("real one"), parameters: Self.parameters)
        let withDuress = try file.settingDuress(try Passphrase("duress one"))
        #expect(file.alternate?.count == file.wrapped.count)
        #expect(withDuress.alternate?.count == file.wrapped.count && withDuress.alternate != file.alternate)
        var same = withDuress
        same.alternate = file.alternate
        #expect(same == file)
        let decoded = try WrappedDataKey.decode(try withDuress.encoded())
        #expect(decoded == withDuress)
    }

    @Test("one derivation opens the real key, the duress slot, or neither")
    func openings() throws {
        let key = DataKey.random()
        let file = try WrappedDataKey.wrap(key, passphrase: try Passphrase("real one"), parameters: Self.parameters)
            .settingDuress(try Passphrase("duress one"))
        guard case .dataKey(let opened) = try file.open(try Passphrase("real one")) else {
            Issue.record("the real passphrase did not open the data key")
            return
        }
        #expect(opened.id == key.id && opened.rawBytes == key.rawBytes)
        guard case .duress(let duress) = try file.open(try Passphrase("duress one")) else {
            Issue.record("the duress passphrase was not recognized")
            return
        }
        let decoy = DataKey.random()
        let decoyFile = try duress.wrap(decoy)
        #expect(decoyFile.derivation == file.derivation && decoyFile.alternate?.count == file.wrapped.count)
        guard case .dataKey(let reopened) = try decoyFile.open(try Passphrase("duress one")) else {
            Issue.record("the duress passphrase does not open the decoy's key")
            return
        }
        #expect(reopened.rawBytes == decoy.rawBytes)
        let error = #expect(throws: AtRestError.self) { try file.open(try Passphrase("neither")) }
        #expect(error?.code == .wrongPassphrase)
        let same = #expect(throws: AtRestError.self) { try file.settingDuress(try Passphrase("real one")) }
        #expect(same?.code == .duressIsPassphrase)
    }

    /// Files written before the slot existed have none: they open as before, and `setDuress`
    /// adds one.
    @Test("a data key file without an alternate slot still opens")
    func oldFiles() throws {
        var file = try WrappedDataKey.wrap(DataKey.random(), passphrase: try Passphrase("real one"), parameters: Self.parameters)
        file.alternate = nil
        let decoded = try WrappedDataKey.decode(try file.encoded())
        #expect(decoded.alternate == nil)
        guard case .dataKey = try decoded.open(try Passphrase("real one")) else {
            Issue.record("an old file did not open")
            return
        }
        #expect(try decoded.settingDuress(try Passphrase("duress one")).alternate != nil)
    }

    /// The store, opened with the duress passphrase, destroys the replica and returns an empty
    /// one with a new identity; the real passphrase then opens nothing.
    @Test("opening with the duress passphrase replaces the replica with an empty one")
    func storeReplaces() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-duress-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("replica.sqlite").path
        var options = ReplicaStore.Options()
        options.keyDerivation = Self.parameters
        options.unlockDelay = .zero
        let real = try ReplicaStore.create(at: path, encryptingWith: try Passphrase("real one"), options: options)
        let realID = real.replicaID
        try ReplicaStore.setDuress(at: path, duress: try Passphrase("duress one"))

        options.passphrase = { try Passphrase("duress one") }
        let decoy = try ReplicaStore.open(at: path, options: options)
        #expect(decoy.replicaID != realID && decoy.isEncrypted)
        #expect(try decoy.status().versions == 0)
        let reopened = try ReplicaStore.open(at: path, options: options)
        #expect(reopened.replicaID == decoy.replicaID)
        options.passphrase = { try Passphrase("real one") }
        let error = #expect(throws: StoreError.self) { try ReplicaStore.open(at: path, options: options) }
        #expect(error?.code == .wrongPassphrase)
    }
}
