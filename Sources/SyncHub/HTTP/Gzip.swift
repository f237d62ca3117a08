import CompressNIO
import NIOCore

/// gzip for request and response bodies, on compress-nio's zlib.
enum Gzip {
    /// Decompresses one gzip member of at most `maxSize` bytes, checking its trailer (CRC-32 and
    /// length), so that a truncated or damaged body is refused rather than half read.
    static func decompress(_ compressed: ByteBuffer, maxSize: Int) throws -> ByteBuffer {
        // A gzip member holds at least a 10-byte header, an empty deflate block and an 8-byte trailer.
        guard compressed.readableBytes >= 20,
            compressed.getInteger(at: compressed.readerIndex, as: UInt16.self) == 0x1F8B
        else {
            throw SyncHubError(.corruptEncoding, "The request body says it is gzip but is not.")
        }
        var input = compressed
        let output: ByteBuffer
        do {
            output = try input.decompress(with: .gzip(), maxSize: maxSize)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw SyncHubError(
                .tooLarge, "The request body decompresses to more than \(maxSize) bytes, the limit of this hub.")
        } catch {
            throw SyncHubError(.corruptEncoding, "The gzip request body is damaged; send it again.")
        }
        let trailerStart = compressed.readerIndex + compressed.readableBytes - 8
        guard input.readableBytes == 0,
            let crc = compressed.getInteger(at: trailerStart, endianness: .little, as: UInt32.self),
            let length = compressed.getInteger(at: trailerStart + 4, endianness: .little, as: UInt32.self),
            length == UInt32(truncatingIfNeeded: output.readableBytes),
            crc == CRC32.checksum(output.readableBytesView)
        else {
            throw SyncHubError(.corruptEncoding, "The gzip request body is truncated or damaged; send it again.")
        }
        return output
    }

    /// Compresses `buffer` into one gzip member.
    static func compress(_ buffer: ByteBuffer) throws -> ByteBuffer {
        var input = buffer
        return try input.compress(with: .gzip())
    }

    /// Whether an `Accept-Encoding` header value accepts gzip (`gzip`, `x-gzip` or `*`, not with `q=0`).
    static func isAccepted(by acceptEncoding: String) -> Bool {
        for item in acceptEncoding.split(separator: ",") {
            let parts = item.split(separator: ";").map { $0.trimmingSpaces.lowercased() }
            guard let coding = parts.first, ["gzip", "x-gzip", "*"].contains(coding) else { continue }
            let quality = parts.dropFirst().first { $0.hasPrefix("q=") }.flatMap { Double($0.dropFirst(2)) } ?? 1
            if quality > 0 { return true }
        }
        return false
    }
}

/// CRC-32 (IEEE 802.3), as in the gzip trailer.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { index in
        var value = UInt32(index)
        for _ in 0..<8 { value = value & 1 == 1 ? 0xEDB8_8320 ^ (value >> 1) : value >> 1 }
        return value
    }

    static func checksum(_ bytes: some Sequence<UInt8>) -> UInt32 {
        let table = Self.table
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in bytes { crc = table[Int((crc ^ UInt32(byte)) & 0xFF)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
