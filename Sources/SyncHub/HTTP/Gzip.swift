import CompressNIO
import NIOCore

/// gzip for request and response bodies, on compress-nio's zlib.
enum Gzip {
    /// Decompresses one gzip member of at most `maxSize` bytes, so that a truncated or damaged body
    /// is refused rather than half read: zlib checks the trailer's CRC-32 when it reaches the end of
    /// the stream, and the trailer's length must match what came out (a truncated stream ends
    /// early, and its last bytes are not a trailer).
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
        let lengthOffset = compressed.readerIndex + compressed.readableBytes - 4
        guard input.readableBytes == 0,
            let length = compressed.getInteger(at: lengthOffset, endianness: .little, as: UInt32.self),
            length == UInt32(truncatingIfNeeded: output.readableBytes)
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
