import CompressNIO
package import Foundation
import NIOCore

/// The gzip form both ends of the exchange give a sync frame (Docs/Protocol.md, protocol 2).
package enum GzipSections {
    /// `sections` compressed into one gzip member, each ending its deflate block (a sync flush),
    /// so that the random bytes of a frame's ids and signatures never share Huffman tables with
    /// its text (as a bundle's sections).
    package static func compress(_ sections: [Data]) throws -> Data {
        let total = sections.reduce(0) { $0 + $1.count }
        let compressor = CompressionAlgorithm.gzip().compressor
        try compressor.startStream()
        defer { try? compressor.finishStream() }
        var output = ByteBuffer()
        output.reserveCapacity(total + total / 100 + 1024 + 16 * sections.count)
        // zlib refuses a flush with nothing new to flush: empty sections are left out.
        let filled = sections.filter { !$0.isEmpty }
        for (index, section) in (filled.isEmpty ? [Data()] : filled).enumerated() {
            var input = ByteBuffer(bytes: section)
            try input.compressStream(to: &output, with: compressor, flush: index == max(filled.count, 1) - 1 ? .finish : .sync)
            guard input.readableBytes == 0 else { throw CompressNIOError.bufferOverflow }
        }
        return Data(output.readableBytesView)
    }
}
