public import Foundation
import Crypto

/// A replica's random 256-bit data key: everything the replica seals is sealed under it. It
/// exists on disk only wrapped (``WrappedDataKey``); destroying that file destroys access.
public struct DataKey: Sendable {
    /// The length of a key, in bytes.
    public static let byteCount = 32

    let symmetricKey: SymmetricKey
    /// A random id (32 hexadecimal digits) chosen with the key, recorded in the replica so that a
    /// key file of another replica is refused before anything is sealed with it.
    public let id: String

    init(symmetricKey: SymmetricKey, id: String) {
        self.symmetricKey = symmetricKey
        self.id = id
    }

    /// The key handed over by an unlock agent: ``byteCount`` bytes and a well-formed id, else
    /// ``AtRestError/Code/malformedKeyFile``.
    public init(rawBytes: Data, id: String) throws {
        guard rawBytes.count == Self.byteCount, Self.isWellFormedID(id) else {
            throw AtRestError(.malformedKeyFile, "A data key handed over is not one this program made.")
        }
        self.init(symmetricKey: SymmetricKey(data: rawBytes), id: id)
    }

    /// The key's bytes, for an unlock agent to hold in memory; never written to a file.
    public var rawBytes: Data { symmetricKey.withUnsafeBytes { Data($0) } }

    /// Whether `id` has the form of a key id: 32 lowercase hexadecimal digits.
    public static func isWellFormedID(_ id: String) -> Bool {
        id.utf8.count == 32 && id.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// A new random key with a new random id.
    public static func random() -> DataKey {
        DataKey(symmetricKey: SymmetricKey(size: .bits256), id: randomHex(16))
    }

    static func randomHex(_ count: Int) -> String {
        SymmetricKey(size: SymmetricKeySize(bitCount: count * 8)).withUnsafeBytes { bytes in
            bytes.map { String(format: "%02x", $0) }.joined()
        }
    }
}
