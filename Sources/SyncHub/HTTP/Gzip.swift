import CompressNIO
import Foundation
import NIOCore

/// gzip for request and response bodies, on compress-nio's zlib.
enum Gzip {
    /// The size a gzip body says it decompresses to (its trailer's length); 400 when the body is
    /// not gzip. Above `maxSize`, the body is refused without being kept: 413 when it inflates
    /// above `maxSize` indeed, 400 when it is truncated or damaged (its last bytes are no trailer),
    /// found by inflating it through a 64 KiB window (``refuseOversized(_:maxSize:)``).
    ///
    /// The trailer holds the length modulo 2^32; a stream that lies about it is refused by
    /// ``decompress(_:size:)``, which never writes more than the size said.
    static func declaredSize(of compressed: ByteBuffer, maxSize: Int) throws -> Int {
        // A gzip member holds at least a 10-byte header, an empty deflate block and an 8-byte trailer.
        guard compressed.readableBytes >= 20,
            compressed.getInteger(at: compressed.readerIndex, as: UInt16.self) == 0x1F8B,
            let length = compressed.getInteger(
                at: compressed.readerIndex + compressed.readableBytes - 4, endianness: .little, as: UInt32.self)
        else {
            throw SyncHubError(.corruptEncoding, "The request body says it is gzip but is not.")
        }
        guard Int(length) <= maxSize else { try refuseOversized(compressed, maxSize: maxSize) }
        return Int(length)
    }

    /// Inflates `compressed` through a small window, keeping nothing, until it is past `maxSize`
    /// (413) or ends, is truncated or damaged (400): a body whose trailer says more than `maxSize`.
    static func refuseOversized(_ compressed: ByteBuffer, maxSize: Int) throws -> Never {
        var input = compressed
        let decompressor = CompressionAlgorithm.gzip().decompressor
        var window = ByteBufferAllocator().buffer(capacity: 64 << 10)
        var total = 0
        do {
            try decompressor.startStream()
            defer { try? decompressor.finishStream() }
            while total <= maxSize {
                window.clear()
                do {
                    try decompressor.streamInflate(from: &input, to: &window)
                    break  // the stream ended within the limit: its trailer said otherwise
                } catch let error as CompressNIOError where error == .bufferOverflow {
                    total += window.readableBytes
                }
            }
        } catch {
            throw SyncHubError(.corruptEncoding, "The gzip request body is truncated or damaged; send it again.")
        }
        guard total > maxSize else {
            throw SyncHubError(.corruptEncoding, "The gzip request body is truncated or damaged; send it again.")
        }
        throw SyncHubError(.tooLarge, "The request body decompresses to more than \(maxSize) bytes, the limit of this hub.")
    }

    /// The bytes ``decompress(_:size:)`` allocates for a body of `size` bytes (a power of two).
    static func outputCapacity(size: Int) -> Int {
        var capacity = 1
        while capacity < size + 1 { capacity <<= 1 }
        return capacity
    }

    /// Decompresses one gzip member that says it holds `size` bytes, into one buffer of
    /// ``outputCapacity(size:)`` bytes: a stream longer than it says, truncated, damaged or
    /// followed by more bytes is refused (zlib checks the trailer's CRC-32 and length at the end).
    static func decompress(_ compressed: ByteBuffer, size: Int) throws -> ByteBuffer {
        var input = compressed
        var output = ByteBufferAllocator().buffer(capacity: size + 1)
        do {
            try input.decompress(to: &output, with: .gzip())
        } catch {
            throw SyncHubError(.corruptEncoding, "The gzip request body is truncated, damaged or longer than it says; send it again.")
        }
        guard input.readableBytes == 0, output.readableBytes == size else {
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
