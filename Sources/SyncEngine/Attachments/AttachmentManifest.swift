import Crypto
public import Foundation

/// How an attachment is cut into chunks for storage and transfer: its SHA-256 (the name documents
/// give it), its size, and the SHA-256 of each fixed-size chunk in order.
///
/// Chunks are ``chunkSize`` bytes (the last one shorter). The whole file's hash can only be checked
/// once every chunk is held; each chunk is checked against its own hash as it arrives, so a damaged
/// or forged chunk is refused alone and fetched again, never kept.
public struct AttachmentManifest: Sendable, Hashable, Codable {
    /// 256 KiB: on a link that costs per megabyte and drops often, a cut costs at most this much
    /// again; 400 chunks make a 100 MB video, so the manifest (about 26 KB) and the per-chunk
    /// request overhead (a few hundred bytes, 0.2 %) stay small.
    public static let chunkSize = 256 * 1024
    /// The largest attachment any peer describes (1 TiB): bounds the chunk count a manifest may claim.
    public static let maximumSize = 1 << 40

    /// The whole file's SHA-256, 64 lowercase hexadecimal digits.
    public var sha256: String
    /// The file's size in bytes.
    public var size: Int
    /// The chunk size the file was cut with (``chunkSize``).
    public var chunkSize: Int
    /// Each chunk's SHA-256, in order.
    public var chunks: [String]

    public init(sha256: String, size: Int, chunkSize: Int = Self.chunkSize, chunks: [String]) {
        self.sha256 = sha256
        self.size = size
        self.chunkSize = chunkSize
        self.chunks = chunks
    }

    /// How many chunks a file of `size` bytes has.
    public static func chunkCount(size: Int, chunkSize: Int = Self.chunkSize) -> Int {
        size <= 0 ? 0 : (size + chunkSize - 1) / chunkSize
    }

    /// The length chunk `index` must have.
    public func length(ofChunk index: Int) -> Int {
        guard index >= 0, index < chunks.count else { return 0 }
        return index == chunks.count - 1 ? size - index * chunkSize : chunkSize
    }

    /// Whether the manifest is well formed: digests, the standard chunk size, as many chunks as
    /// the size needs, a size within ``maximumSize``.
    public var isWellFormed: Bool {
        chunkSize == Self.chunkSize && size >= 0 && size <= Self.maximumSize
            && chunks.count == Self.chunkCount(size: size, chunkSize: chunkSize)
            && AttachmentDigest.isDigest(sha256) && chunks.allSatisfy(AttachmentDigest.isDigest)
    }

    /// Whether `data` is chunk `index` of this file: its length and its hash.
    public func accepts(_ data: Data, asChunk index: Int) -> Bool {
        index >= 0 && index < chunks.count && data.count == length(ofChunk: index)
            && AttachmentDigest.hex(of: data) == chunks[index]
    }
}

/// SHA-256 digests as attachments name them.
public enum AttachmentDigest {
    /// 64 lowercase hexadecimal digits.
    public static func isDigest(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    /// The SHA-256 of `data` in that form.
    public static func hex(of data: Data) -> String {
        var hasher = AttachmentHasher()
        hasher.update(data)
        return hasher.hexDigest()
    }
}

/// Cuts a file's bytes, fed in any pieces, into the chunks of its manifest.
public struct AttachmentChunker: Sendable {
    private var whole = AttachmentHasher()
    private var pending = Data()
    private var size = 0
    private var chunkHashes: [String] = []

    public init() {}

    /// Adds the next bytes; returns the chunks they completed, in order.
    public mutating func add(_ bytes: Data) -> [Data] {
        whole.update(bytes)
        size += bytes.count
        pending.append(bytes)
        var done: [Data] = []
        while pending.count >= AttachmentManifest.chunkSize {
            let chunk = Data(pending.prefix(AttachmentManifest.chunkSize))
            pending = Data(pending.dropFirst(AttachmentManifest.chunkSize))
            chunkHashes.append(AttachmentDigest.hex(of: chunk))
            done.append(chunk)
        }
        return done
    }

    /// Ends the file: the last, shorter chunk (if any) and the manifest.
    public mutating func finish() -> (last: Data?, manifest: AttachmentManifest) {
        var last: Data?
        if !pending.isEmpty {
            last = pending
            chunkHashes.append(AttachmentDigest.hex(of: pending))
            pending = Data()
        }
        return (last, AttachmentManifest(sha256: whole.hexDigest(), size: size, chunks: chunkHashes))
    }
}
