public import Foundation
import Crypto

/// What one replica hands another where no link exists (a USB stick, a phone): the versions the
/// other side lacks with what it needs to verify them the way it verifies a pull — the hub's
/// certificates of their authors' keys and its revocation notices — and the exporter's knowledge,
/// so that the receiver can answer with a later bundle of what the exporter lacks.
///
/// On disk a bundle is framed by ``SyncBundleFrame`` (a header, one gzip member of the content, a
/// SHA-256 over both); the format is specified in Docs/Protocol.md, "Bundles".
public struct SyncBundle: Codable, Sendable, Hashable {
    /// The bundle format this build writes: 2, the versions in columns (format 1 put each in its
    /// wire form; see ``encodedContent(format:)``).
    public static let currentFormat: UInt16 = 2
    /// The formats this build reads.
    public static let readableFormats: ClosedRange<UInt16> = 1...2

    /// The replica that wrote the bundle.
    public var exporter: ReplicaID
    /// The hub the exporter enrolled with, whose certificates and notices the bundle carries; nil
    /// for a replica that pinned no hub.
    public var hub: ReplicaID?
    /// Everything the exporter held when it wrote the bundle.
    public var knowledge: VersionVector
    /// When it was written, in milliseconds since 1970 (shown to people; nothing depends on it).
    public var createdAt: UInt64
    /// The versions, in the wire form of a pull, each origin's in counter order.
    public var versions: [Version]
    /// The hub's certificates of the keys of the versions' origins that the exporter holds.
    public var certificates: [DeviceCertificate]
    /// The hub's revocation notices the exporter holds.
    public var revocations: [RevocationNotice]
    /// The manifests of the attachments the versions name that travel with them (absent when none).
    public var attachments: [AttachmentManifest]?
    /// The files of ``attachments``, in their order: not part of the JSON (the content carries them
    /// after the signatures).
    public var attachmentFiles: [Data] = []

    enum CodingKeys: String, CodingKey {
        case exporter, hub, knowledge, createdAt, versions, certificates, revocations, attachments
    }

    public init(
        exporter: ReplicaID, hub: ReplicaID?, knowledge: VersionVector, createdAt: UInt64, versions: [Version],
        certificates: [DeviceCertificate] = [], revocations: [RevocationNotice] = []
    ) {
        self.exporter = exporter
        self.hub = hub
        self.knowledge = knowledge
        self.createdAt = createdAt
        self.versions = versions
        self.certificates = certificates
        self.revocations = revocations
    }
}

extension SyncBundle {
    /// The content a bundle file compresses, in `format` (``currentFormat`` unless a test or an
    /// older receiver needs format 1): its sections (``encodedSections(format:)``) one after another.
    public func encodedContent(format: UInt16 = currentFormat) throws -> Data {
        try encodedSections(format: format).reduce(into: Data()) { $0.append($1) }
    }

    /// The content in sections, which a writer compresses each as its own deflate blocks (a sync
    /// flush after each), so that random bytes (ids, signatures, photos) never share Huffman codes
    /// with text; a reader inflates the one gzip member whole and need not know.
    ///
    /// Format 2 (``columnarSections()``): the JSON's length (8 bytes, big-endian) and the JSON with
    /// the versions' fields in columns; the 16 bytes of each id of the UUID form; the bodies
    /// concatenated; the signatures concatenated; each attachment's file in the order of
    /// ``attachments``.
    ///
    /// Format 1 (one section): the JSON's length, the JSON of this bundle with every version in its
    /// wire form and its `signature` empty, each signature prefixed by its length (1 byte), then
    /// the files. Signatures do not compress; kept out of the JSON they cost their 64 bytes instead
    /// of about 75 as gzipped base64.
    public func encodedSections(format: UInt16 = currentFormat) throws -> [Data] {
        guard Self.readableFormats.contains(format) else {
            throw SyncBundleError(.unsupportedFormat, "Bundle format \(format) is not one this program writes.")
        }
        guard format == 1 else { return try columnarSections() }
        var stripped = self
        stripped.versions = versions.map { version in
            var version = version
            version.signature = Data()
            return version
        }
        let json = try JSONEncoder().encode(stripped)
        var content = Data()
        content.reserveCapacity(8 + json.count + 65 * versions.count)
        Self.appendLength(json.count, to: &content)
        content.append(json)
        try appendSignaturesAndFiles(to: &content)
        return [content]
    }

    /// The bundle whose ``encodedContent(format:)`` in `format` is `content`; throws
    /// ``SyncBundleError`` (`damaged`) when it is not one, whole.
    public init(content: Data, format: UInt16 = currentFormat) throws(SyncBundleError) {
        let bytes = [UInt8](content)
        let damaged = SyncBundleError(.damaged, "The bundle's content cannot be read although its SHA-256 matches; it was not written by Vigil.")
        if format != 1 {
            guard let bundle = Self.columnar(bytes) else { throw damaged }
            self = bundle
            return
        }
        guard bytes.count >= 8 else { throw damaged }
        let jsonLength = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard jsonLength <= UInt64(bytes.count - 8),
            var bundle = try? JSONDecoder().decode(SyncBundle.self, from: Data(bytes[8..<8 + Int(jsonLength)]))
        else { throw damaged }
        var offset = 8 + Int(jsonLength)
        guard let signatures = Self.readSignatures(bundle.versions.count, from: bytes, at: &offset),
            let files = Self.readFiles(of: bundle.attachments ?? [], from: bytes, at: &offset), offset == bytes.count
        else { throw damaged }
        for index in bundle.versions.indices { bundle.versions[index].signature = signatures[index] }
        bundle.attachmentFiles = files
        self = bundle
    }
}

/// A bundle file that cannot be used: nothing of it was applied.
public typealias SyncBundleError = CodedFailure<SyncBundleErrorDomain>

/// The domain of ``SyncBundleError``'s codes.
public enum SyncBundleErrorDomain {}

extension ErrorCode where Domain == SyncBundleError {
    /// The file does not start like a bundle.
    public static let notABundle = Self("notABundle")
    /// A bundle format this build does not read.
    public static let unsupportedFormat = Self("unsupportedFormat")
    /// The file ends before its header says (a copy cut short).
    public static let truncated = Self("truncated")
    /// The file's bytes do not match its SHA-256, or it holds more than it says.
    public static let damaged = Self("damaged")
    /// It says it holds more than the receiver reads.
    public static let tooLarge = Self("tooLarge")
    /// It was written under another hub than the receiver's.
    public static let foreignNetwork = Self("foreignNetwork")
}

/// The frame of a bundle file, without I/O or compression: an 18-byte header (magic
/// `VIGILBDL`, the format, the payload's and the content's lengths), the payload, and a SHA-256
/// over the header and the payload. Opening checks all of it before anything is read.
public enum SyncBundleFrame {
    /// The first eight bytes of every bundle.
    public static let magic = Data("VIGILBDL".utf8)
    /// Bytes before the payload: magic (8), format (2), payload length (8), content length (8).
    public static let headerSize = 26
    /// Bytes of the SHA-256 after the payload.
    public static let digestSize = 32

    /// A frame around `payload` (one gzip member) that inflates to `contentLength` bytes.
    public static func seal(payload: Data, contentLength: Int, format: UInt16 = SyncBundle.currentFormat) -> Data {
        var file = magic
        appendBigEndian(UInt64(format), bytes: 2, to: &file)
        appendBigEndian(UInt64(payload.count), bytes: 8, to: &file)
        appendBigEndian(UInt64(contentLength), bytes: 8, to: &file)
        file.append(payload)
        file.append(contentsOf: SHA256.hash(data: file))
        return file
    }

    /// The payload of `file` and the content length it inflates to, once the whole file checked;
    /// throws ``SyncBundleError`` otherwise. `maxContentBytes` bounds what a caller will inflate.
    public static func open(
        _ file: Data, maxContentBytes: Int
    ) throws(SyncBundleError) -> (payload: Data, contentLength: Int, format: UInt16) {
        let bytes = [UInt8](file)
        guard bytes.count >= magic.count, Data(bytes.prefix(magic.count)) == magic else {
            throw SyncBundleError(.notABundle, "This file is not a Vigil bundle.")
        }
        guard bytes.count >= headerSize else {
            throw SyncBundleError(.truncated, "The bundle is cut short (\(bytes.count) bytes); copy it again from the exporting device.")
        }
        let format = readBigEndian(bytes, at: 8, bytes: 2)
        let readable = SyncBundle.readableFormats
        guard format >= UInt64(readable.lowerBound), format <= UInt64(readable.upperBound) else {
            throw SyncBundleError(
                .unsupportedFormat,
                "The bundle is in format \(format); this program reads formats \(readable.lowerBound) to \(readable.upperBound). Upgrade the older side.")
        }
        let payloadLength = readBigEndian(bytes, at: 10, bytes: 8)
        let contentLength = readBigEndian(bytes, at: 18, bytes: 8)
        let expected = UInt64(headerSize + digestSize).addingReportingOverflow(payloadLength)
        guard !expected.overflow, UInt64(bytes.count) >= expected.partialValue else {
            throw SyncBundleError(.truncated, "The bundle is cut short (\(bytes.count) bytes); copy it again from the exporting device.")
        }
        guard UInt64(bytes.count) == expected.partialValue else {
            throw SyncBundleError(.damaged, "The bundle holds more bytes than its header says; it was altered or damaged.")
        }
        let end = headerSize + Int(payloadLength)
        guard Data(SHA256.hash(data: bytes[..<end])) == Data(bytes[end...]) else {
            throw SyncBundleError(.damaged, "The bundle does not match its SHA-256; it was altered or damaged, and nothing of it was applied.")
        }
        guard contentLength <= UInt64(maxContentBytes) else {
            throw SyncBundleError(.tooLarge, "The bundle inflates to \(contentLength) bytes, more than the \(maxContentBytes) this program reads.")
        }
        return (Data(bytes[headerSize..<end]), Int(contentLength), UInt16(format))
    }

    private static func appendBigEndian(_ value: UInt64, bytes count: Int, to data: inout Data) {
        for index in (0..<count).reversed() { data.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    private static func readBigEndian(_ bytes: [UInt8], at offset: Int, bytes count: Int) -> UInt64 {
        bytes[offset..<offset + count].reduce(0) { $0 << 8 | UInt64($1) }
    }
}

extension RevocationNotice {
    /// A notice as held by a replica that received it (its signature is checked where it is used).
    public init(hub: ReplicaID, replica: ReplicaID, horizon: UInt64, revokedAt: UInt64, signature: Data) {
        self.hub = hub
        self.replica = replica
        self.horizon = horizon
        self.revokedAt = revokedAt
        self.signature = signature
    }
}
