public import Foundation
import Crypto

extension Version {
    /// The bytes a signature covers, the same on every platform and in every version of this code.
    ///
    /// Layout (integers big-endian; strings as a 16-bit length then UTF-8):
    /// `"vigil.version.1"`, origin (16 bytes), counter (u64), collection, document id, partition,
    /// the number of context entries (u32) then each entry in replica-id order as id (16 bytes) and
    /// counter (u64), a kind byte (0 tombstone, 1 body) followed for a body by its SHA-256 (32 bytes),
    /// and the timestamp as wall milliseconds (u64) and logical (u32).
    public var canonicalEncoding: Data {
        var out = Data()
        out.reserveCapacity(128 + context.entries.count * 24)
        out.append(contentsOf: Array("vigil.version.1".utf8))
        out.append(contentsOf: dot.replica.bytes)
        out.appendBigEndian(dot.counter)
        out.appendShortString(collection.rawValue)
        out.appendShortString(documentID.rawValue)
        out.appendShortString(partition.rawValue)
        out.appendBigEndian(UInt32(context.entries.count))
        for entry in context.sortedEntries {
            out.append(contentsOf: entry.replica.bytes)
            out.appendBigEndian(entry.counter)
        }
        if let body {
            out.append(1)
            out.append(contentsOf: SHA256.hash(data: body))
        } else {
            out.append(0)
        }
        out.appendBigEndian(timestamp.wallMilliseconds)
        out.appendBigEndian(timestamp.logical)
        return out
    }

    /// The SHA-256 of the body, hex; nil for a tombstone.
    public var bodyDigest: String? {
        body.map { Array(SHA256.hash(data: $0)).hexString }
    }
}

extension Data {
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }

    mutating func appendShortString(_ text: String) {
        let utf8 = Array(text.utf8)
        appendBigEndian(UInt16(clamping: utf8.count))
        append(contentsOf: utf8.prefix(Int(UInt16.max)))
    }
}
