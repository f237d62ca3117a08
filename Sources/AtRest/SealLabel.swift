public import Foundation

/// What a sealed value belongs to, bound into its seal as associated data: the table and the
/// row's identity (for a version: its dot, collection and document id). A value moved to another
/// row, or a row whose identity was rewritten, no longer opens.
public struct SealLabel: Sendable, Hashable {
    /// The label's canonical bytes: each part as a 4-byte big-endian length and its UTF-8.
    public let bytes: Data

    public init(_ parts: [String]) {
        var bytes = Data()
        for part in parts {
            let utf8 = Data(part.utf8)
            withUnsafeBytes(of: UInt32(clamping: utf8.count).bigEndian) { bytes.append(contentsOf: $0) }
            bytes.append(utf8)
        }
        self.bytes = bytes
    }

    public init(_ parts: String...) { self.init(parts) }
}
