import CompressNIO
public import Foundation
import NIOCore
import SyncCompression
public import SyncEngine

/// A bundle's bytes on disk: its ``SyncBundle/encodedContent(format:)`` in one gzip member inside a
/// ``SyncBundleFrame``. Writes format 2; reads formats 1 and 2.
public enum BundleFile {
    /// The most a bundle may inflate to (1 GiB): larger files are refused before inflating.
    public static let maxContentBytes = 1 << 30

    /// The file holding `bundle`, in `format` (format 1 only for a receiver that reads no other).
    /// Each section of the content (``SyncBundle/encodedSections(format:)``) ends with a sync flush,
    /// so that the text and the random bytes of the bundle are coded in separate deflate blocks.
    public static func encode(_ bundle: SyncBundle, format: UInt16 = SyncBundle.currentFormat) throws -> Data {
        let sections = try bundle.encodedSections(format: format)
        let contentLength = sections.reduce(0) { $0 + $1.count }
        let payload: Data
        do {
            payload = try GzipSections.compress(sections)
        } catch {
            throw SyncBundleError(.tooLarge, "The bundle could not be compressed whole; nothing was written.")
        }
        return SyncBundleFrame.seal(payload: payload, contentLength: contentLength, format: format)
    }

    /// The bundle in `file`, once its frame and SHA-256 checked and it inflated to exactly the
    /// length it says; throws ``SyncBundleError`` for anything else.
    public static func decode(_ file: Data, maxContentBytes: Int = maxContentBytes) throws(SyncBundleError) -> SyncBundle {
        let (payload, contentLength, format) = try SyncBundleFrame.open(file, maxContentBytes: maxContentBytes)
        var compressed = ByteBuffer(bytes: payload)
        guard let content = try? compressed.decompress(with: .gzip(), maxSize: max(contentLength, 1)),
            content.readableBytes == contentLength, compressed.readableBytes == 0
        else {
            throw SyncBundleError(.damaged, "The bundle's content does not inflate although its SHA-256 matches; it was not written by Vigil.")
        }
        return try SyncBundle(content: Data(content.readableBytesView), format: format)
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
