import AtRest
import Foundation
import Testing

/// The key hierarchy on its own: a random data key, bodies sealed under it with their row's
/// identity as associated data, the key wrapped under a passphrase-derived key (scrypt, cheap
/// test parameters here; the standard ones cost about a second).
@Suite struct KeyHierarchyTests {
    let passphrase: Passphrase

    init() throws { passphrase = try Passphrase("correct horse battery staple") }

    @Test func wrappedKeyRoundTripsThroughItsFile() throws {
        let key = DataKey.random()
        let file = try WrappedDataKey.wrap(key, passphrase: passphrase, parameters: .testing)
        let read = try WrappedDataKey.decode(try file.encoded())
        #expect(read == file)
        let unwrapped = try read.unwrap(passphrase)
        #expect(unwrapped.id == key.id)
        let label = SealLabel("versions", "abc", "1")
        let sealed = try DataKeyCipher(key: key).seal(Data("{\"a\":1}".utf8), label: label)
        #expect(try DataKeyCipher(key: unwrapped).open(sealed, label: label) == Data("{\"a\":1}".utf8))
    }

    /// A captor guessing: the wrong passphrase is a typed error, never a key.
    @Test func wrongPassphraseIsATypedError() throws {
        let file = try WrappedDataKey.wrap(DataKey.random(), passphrase: passphrase, parameters: .testing)
        let error = #expect(throws: AtRestError.self) { try file.unwrap(try Passphrase("correct horse battery stapler")) }
        #expect(error?.code == .wrongPassphrase)
        #expect(error?.message.contains("stapl") == false)
    }

    /// Parameters lowered in the file (to make guessing cheaper) no longer unwrap the key: the
    /// file's parameters and salt are authenticated with the wrapped key.
    @Test func loweredParametersDoNotUnwrap() throws {
        var file = try WrappedDataKey.wrap(DataKey.random(), passphrase: passphrase, parameters: ScryptParameters(logN: 11, r: 8, p: 1))
        file.derivation.parameters.logN = 10
        #expect(throws: AtRestError.self) { try file.unwrap(passphrase) }
    }

    @Test func absurdParametersFromAFileAreRefusedBeforeDeriving() throws {
        var file = try WrappedDataKey.wrap(DataKey.random(), passphrase: passphrase, parameters: .testing)
        file.derivation.parameters.logN = 40
        let error = #expect(throws: AtRestError.self) { try WrappedDataKey.decode(try file.encoded()) }
        #expect(error?.code == .parametersOutOfBounds)
        #expect(throws: AtRestError.self) { try WrappedDataKey.decode(Data("not json".utf8)) }
        #expect(throws: AtRestError.self) { try Passphrase("") }
    }

    /// One flipped bit anywhere in a sealed body: it does not open.
    @Test(arguments: [0, 3, 10, 20, 40])
    func tamperedCiphertextDoesNotOpen(position: Int) throws {
        let cipher = DataKeyCipher(key: DataKey.random())
        let label = SealLabel("versions", "abc", "1", "reports", "r1")
        var sealed = try cipher.seal(Data("{\"title\":\"Checkpoint closed\"}".utf8), label: label)
        sealed[position] ^= 0x01
        #expect(throws: AtRestError.self) { try cipher.open(sealed, label: label) }
    }

    /// An attacker with write access swaps the sealed bodies of two rows: neither opens.
    @Test func sealedBodiesCannotBeSwappedBetweenRows() throws {
        let cipher = DataKeyCipher(key: DataKey.random())
        let first = SealLabel("versions", "abc", "1", "reports", "r1")
        let second = SealLabel("versions", "abc", "2", "reports", "r2")
        let sealedFirst = try cipher.seal(Data("{\"a\":1}".utf8), label: first)
        let error = #expect(throws: AtRestError.self) { try cipher.open(sealedFirst, label: second) }
        #expect(error?.code == .tampered)
        // Labels are length-prefixed: moving a character between parts changes the label.
        #expect(SealLabel("ab", "c").bytes != SealLabel("a", "bc").bytes)
    }

    @Test func anotherKeyDoesNotOpenAndClearTextIsRefused() throws {
        let label = SealLabel("versions", "abc", "1")
        let sealed = try DataKeyCipher(key: DataKey.random()).seal(Data("{}".utf8), label: label)
        #expect(throws: AtRestError.self) { try DataKeyCipher(key: DataKey.random()).open(sealed, label: label) }
        let error = #expect(throws: AtRestError.self) { try DataKeyCipher(key: DataKey.random()).open(Data("{}".utf8), label: label) }
        #expect(error?.code == .notSealed)
    }

    @Test func passphrasesNeverPrint() throws {
        #expect("\(passphrase)" == "Passphrase(redacted)")
        #expect(!String(reflecting: passphrase).contains("horse"))
        var dumped = ""
        dump(passphrase, to: &dumped)
        #expect(!dumped.contains("horse"))
    }

    /// The cost of the standard parameters on this machine (VIGIL_MEASURE_KDF=1 to run: it takes
    /// 256 MiB, about a second in a release build).
    @Test(.enabled(if: ProcessInfo.processInfo.environment["VIGIL_MEASURE_KDF"] == "1"))
    func standardParametersCostAboutOneSecond() throws {
        let file = try WrappedDataKey.wrap(DataKey.random(), passphrase: passphrase, parameters: .standard)
        let start = ContinuousClock.now
        _ = try file.unwrap(passphrase)
        let elapsed = ContinuousClock.now - start
        print("scrypt logN 18 r 8 p 1: \(elapsed)")
        // A debug build runs BoringSSL's C unoptimized (about 6 s here); a release build about 1 s.
        #expect(elapsed > .milliseconds(300) && elapsed < .seconds(20))
    }
}
