import CompressNIO
import Foundation
import NIOCore

/// gzip for request bodies (HTTP clients never compress what they send).
enum Gzip {
    /// `data` compressed in the gzip format.
    static func compress(_ data: Data) throws -> Data {
        var input = ByteBuffer(bytes: data)
        let output = try input.compress(with: .gzip())
        return Data(output.readableBytesView)
    }
}
