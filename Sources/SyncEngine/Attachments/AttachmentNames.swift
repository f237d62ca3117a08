public import Foundation

/// The attachments a document's body names: the `sha256` of each element of its top-level
/// `attachments` array (observations name them so; any collection may). The author's signature
/// covers the body, so it covers these hashes.
public enum AttachmentNames {
    /// The hashes `body` names, in order, each once; malformed entries are passed over.
    public static func named(in body: Data) -> [String] {
        // Most bodies name none: skip the parse unless the key is there.
        guard body.range(of: Data("\"attachments\"".utf8)) != nil,
            let value = try? JSONValue(parsing: body), let elements = value.objectValue?["attachments"]?.arrayValue
        else { return [] }
        var seen = Set<String>()
        return elements.compactMap { element in
            guard let hash = element.objectValue?["sha256"]?.stringValue, AttachmentDigest.isDigest(hash),
                seen.insert(hash).inserted
            else { return nil }
            return hash
        }
    }

    /// The attachment references (`sha256`, `filename`, `mime`, `size_bytes`) `body` holds.
    public static func references(in body: Data) -> [NamedAttachment] {
        guard let value = try? JSONValue(parsing: body), let elements = value.objectValue?["attachments"]?.arrayValue
        else { return [] }
        var seen = Set<String>()
        return elements.compactMap { element in
            guard let fields = element.objectValue, let hash = fields["sha256"]?.stringValue,
                AttachmentDigest.isDigest(hash), seen.insert(hash).inserted
            else { return nil }
            return NamedAttachment(
                sha256: hash, filename: fields["filename"]?.stringValue, mime: fields["mime"]?.stringValue,
                sizeBytes: fields["size_bytes"]?.integerValue)
        }
    }
}

/// One attachment as a document names it.
public struct NamedAttachment: Sendable, Hashable {
    public var sha256: String
    public var filename: String?
    public var mime: String?
    public var sizeBytes: Int?

    public init(sha256: String, filename: String? = nil, mime: String? = nil, sizeBytes: Int? = nil) {
        self.sha256 = sha256
        self.filename = filename
        self.mime = mime
        self.sizeBytes = sizeBytes
    }
}

/// Which attachments a device receives at each sync, set by the hub's operator per device; any
/// attachment within its read scope can still be fetched on demand.
public enum MediaPolicy: String, Sendable, Hashable, Codable, CaseIterable {
    /// Every attachment named by a document the device may read (analysts at headquarters).
    case all
    /// None: attachments only on demand.
    case none
    /// Those named by versions the device wrote itself (a field phone): the default.
    case own

    /// The policy of a device the operator set none for.
    public static let `default` = MediaPolicy.own
}
