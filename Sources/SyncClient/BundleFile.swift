import CompressNIO
public import Foundation
import NIOCore
public import SyncEngine

/// A bundle's bytes on disk: its ``SyncBundle/encodedContent()`` in one gzip member inside a
/// ``SyncBundleFrame``.
public enum BundleFile {
    /// The most a bundle may inflate to (1 GiB): larger files are refused before inflating.
    public static let maxContentBytes = 1 << 30

    /// The file holding `bundle`.
    public static func encode(_ bundle: SyncBundle) throws -> Data {
        let content = try bundle.encodedContent()
        var input = ByteBuffer(bytes: content)
        let payload = try input.compress(with: .gzip())
        return SyncBundleFrame.seal(payload: Data(payload.readableBytesView), contentLength: content.count)
    }

    /// The bundle in `file`, once its frame and SHA-256 checked and it inflated to exactly the
    /// length it says; throws ``SyncBundleError`` for anything else.
    public static func decode(_ file: Data, maxContentBytes: Int = maxContentBytes) throws(SyncBundleError) -> SyncBundle {
        let (payload, contentLength) = try SyncBundleFrame.open(file, maxContentBytes: maxContentBytes)
        var compressed = ByteBuffer(bytes: payload)
        guard let content = try? compressed.decompress(with: .gzip(), maxSize: max(contentLength, 1)),
            content.readableBytes == contentLength, compressed.readableBytes == 0
        else {
            throw SyncBundleError(.damaged, "The bundle's content does not inflate although its SHA-256 matches; it was not written by Vigil.")
        }
        return try SyncBundle(content: Data(content.readableBytesView))
    }

    /// Reads and decodes the bundle at `path`; a file that cannot be read throws
    /// ``SyncBundleError`` (`notABundle`).
    public static func read(path: String) throws(SyncBundleError) -> SyncBundle {
        guard let file = FileManager.default.contents(atPath: path) else {
            throw SyncBundleError(.notABundle, "Cannot read a bundle at \(path); check the path.")
        }
        return try decode(file)
    }
}
