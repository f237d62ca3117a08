import Foundation
import SyncEngine
import Testing

@Suite("DeviceKey")
struct DeviceKeyTests {
    let key = DeviceKey()

    func signed() throws -> Version {
        try key.sign(Fixtures.version(Fixtures.replica(1), 3, context: [Fixtures.replica(2): 4]))
    }

    @Test func signatureVerifiesWithThePublicKey() throws {
        let version = try signed()
        #expect(version.signature.count == 64)
        #expect(key.publicKey.isValidSignature(of: version))
        #expect(!DeviceKey().publicKey.isValidSignature(of: version), "another device's key does not verify it")
    }

    static let tamperings: [(String, @Sendable (inout Version) -> Void)] = [
        ("body", { $0.body = Data(#"{"title":"fire"}"#.utf8) }),
        ("body to tombstone", { $0.body = nil }),
        ("context", { $0.context[Fixtures.replica(2)] = 5 }),
        ("context entry", { $0.context[Fixtures.replica(3)] = 1 }),
        ("counter", { $0.dot.counter = 4 }),
        ("origin", { $0.dot.replica = Fixtures.replica(9) }),
        ("partition", { $0.partition = Partition("region-south")! }),
        ("time", { $0.timestamp.logical = 1 }),
        ("signature bit", { $0.signature[0] ^= 1 }),
        ("short signature", { $0.signature = $0.signature.prefix(63) }),
        ("empty signature", { $0.signature = Data() }),
    ]

    @Test(arguments: tamperings.indices)
    func tamperingFailsVerification(_ index: Int) throws {
        var version = try signed()
        Self.tamperings[index].1(&version)
        #expect(!key.publicKey.isValidSignature(of: version), "tampered \(Self.tamperings[index].0)")
    }

    @Test func keyRoundTripsThroughItsRawBytes() throws {
        let restored = try DeviceKey(rawRepresentation: key.rawRepresentation)
        #expect(restored.publicKey == key.publicKey)
        #expect(restored.publicKey.isValidSignature(of: try signed()))
        #expect(throws: SyncEngineError.self) { try DeviceKey(rawRepresentation: Data(repeating: 1, count: 31)) }
    }

    @Test func publicKeyCodableAndValidation() throws {
        let data = try JSONEncoder().encode(key.publicKey)
        #expect(try JSONDecoder().decode(PublicDeviceKey.self, from: data) == key.publicKey)
        #expect(throws: SyncEngineError.self) { try PublicDeviceKey(rawRepresentation: Data(repeating: 0, count: 16)) }
        #expect(throws: (any Error).self) { try JSONDecoder().decode(PublicDeviceKey.self, from: Data(#""%%%""#.utf8)) }
    }
}
