package import Foundation
import Crypto

/// The signed bytes of a statement a hub makes with its key: a domain tag, then fixed-width
/// fields in a fixed order, so that no two statements of different kinds or contents share bytes.
package struct SignedBytes {
    package private(set) var data: Data

    /// Starts with the statement's domain tag (such as `vigil.cert.1`), length-prefixed.
    package init(domain: String) {
        data = Data()
        append(domain)
    }

    /// The 16 raw bytes of `id`.
    package mutating func append(_ id: ReplicaID) { data.append(contentsOf: id.bytes) }

    /// Eight bytes, big-endian.
    package mutating func append(_ number: UInt64) { withUnsafeBytes(of: number.bigEndian) { data.append(contentsOf: $0) } }

    /// The UTF-8 bytes, after their count as four bytes big-endian.
    package mutating func append(_ text: String) {
        let utf8 = Data(text.utf8)
        withUnsafeBytes(of: UInt32(clamping: utf8.count).bigEndian) { data.append(contentsOf: $0) }
        data.append(utf8)
    }

    package mutating func append(_ key: PublicDeviceKey) { data.append(key.rawRepresentation) }
}

extension PublicDeviceKey {
    /// The first 16 bytes of the SHA-256 of the key, as eight groups of four hexadecimal digits:
    /// what an operator reads aloud to compare the key a device pinned with the hub's.
    public var fingerprint: String {
        let digest = Array(SHA256.hash(data: rawRepresentation)).prefix(16)
        return stride(from: 0, to: digest.count, by: 2).map { index in
            Array(digest[digest.startIndex + index..<digest.startIndex + index + 2]).hexString
        }.joined(separator: " ")
    }
}

/// Decoding helpers shared by the hub-signed statements.
package enum StatementDecoding {
    package static func signature<K: CodingKey>(_ container: KeyedDecodingContainer<K>, _ key: K) throws -> Data {
        guard let data = Data(base64Encoded: try container.decode(String.self, forKey: key)), data.count == 64 else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "A signature is 64 bytes in base64.")
        }
        return data
    }

    package static func counter<K: CodingKey>(_ container: KeyedDecodingContainer<K>, _ key: K, allowZero: Bool = false) throws -> UInt64 {
        let value = try container.decode(UInt64.self, forKey: key)
        guard value <= Dot.maxCounter, allowZero || value > 0 else {
            throw DecodingError.dataCorruptedError(
                forKey: key, in: container, debugDescription: "A number here is between \(allowZero ? 0 : 1) and \(Dot.maxCounter).")
        }
        return value
    }
}
