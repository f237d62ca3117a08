import Foundation
import Crypto

/// A replica's random 256-bit data key: everything the replica seals is sealed under it. It
/// exists on disk only wrapped (``WrappedDataKey``); destroying that file destroys access.
public struct DataKey: Sendable {
    let symmetricKey: SymmetricKey
    /// A random id (32 hexadecimal digits) chosen with the key, recorded in the replica so that a
    /// key file of another replica is refused before anything is sealed with it.
    public let id: String

    init(symmetricKey: SymmetricKey, id: String) {
        self.symmetricKey = symmetricKey
        self.id = id
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
