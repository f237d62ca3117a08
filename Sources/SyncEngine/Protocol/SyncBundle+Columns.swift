import Foundation

/// Format 2 of a bundle's content: the versions' fields in columns, ids of the UUID form as their
/// 16 bytes, the bodies raw and together, the signatures as their bytes.
///
/// Format 1 put every version in its wire form (a JSON object with the body as an escaped JSON
/// string) in one array. Near-identical reports then cost gzip about 40 bytes of metadata each on
/// top of their body, since each version's own fields break the matches between one body and the
/// next: 1.20 × (gzip of the bodies + 80 B per version) for 200 observations that differ in a few
/// words. In columns, the bodies follow one another as in the reference, and each metadata column
/// holds values alike (indices into small tables, counter and clock steps), which gzip packs to a
/// fraction of a byte a version. Specified in Docs/Protocol.md, "Bundles".
struct SyncBundleColumns: Codable {
    /// The origins of the versions, each once, in order of first appearance.
    var origins: [ReplicaID] = []
    /// Per version: its origin's index in ``origins``.
    var origin: [Int] = []
    /// Per version: its counter minus the counter of the version of the same origin before it in
    /// the bundle (the counter itself for an origin's first).
    var counterStep: [Int64] = []
    var collections: [CollectionName] = []
    /// Per version: its collection's index in ``collections``.
    var collection: [Int] = []
    var partitions: [Partition] = []
    /// Per version: its partition's index in ``partitions``.
    var partition: [Int] = []
    /// Per version: its document id, or null for an id of the UUID form (8-4-4-4-12 lowercase hex
    /// digits), whose 16 bytes are in the content's id section instead, in order.
    var id: [DocumentID?] = []
    /// Per version: its causal context.
    var context: [VersionVector] = []
    /// Per version: its clock's wall time minus the previous version's (the first's minus zero).
    var wallStep: [Int64] = []
    /// Per version: its clock's logical part.
    var logical: [UInt32] = []
    /// Per version: its body's length in bytes, -1 for a tombstone.
    var bodyLength: [Int] = []
    /// The indices of the versions that carry the hub's admission receipt, ascending.
    var receiptIndex: [Int]?
    /// Those receipts, in the same order.
    var receipt: [AdmissionReceipt]?
    /// Per version: its signature's length; absent when every signature is 64 bytes (Ed25519).
    var signatureLength: [Int]?

    /// The columns of `versions`.
    init(_ versions: [Version]) {
        var originIndex: [ReplicaID: Int] = [:]
        var collectionIndex: [CollectionName: Int] = [:]
        var partitionIndex: [Partition: Int] = [:]
        var lastCounter: [Int: UInt64] = [:]
        var lastWall: UInt64 = 0
        var receiptIndex: [Int] = []
        var receipts: [AdmissionReceipt] = []
        for (position, version) in versions.enumerated() {
            let originAt = Self.index(of: version.dot.replica, in: &origins, &originIndex)
            origin.append(originAt)
            counterStep.append(Self.step(from: lastCounter[originAt] ?? 0, to: version.dot.counter))
            lastCounter[originAt] = version.dot.counter
            collection.append(Self.index(of: version.collection, in: &collections, &collectionIndex))
            partition.append(Self.index(of: version.partition, in: &partitions, &partitionIndex))
            id.append(Self.uuidBytes(of: version.documentID) == nil ? version.documentID : nil)
            context.append(version.context)
            wallStep.append(Self.step(from: lastWall, to: version.timestamp.wallMilliseconds))
            lastWall = version.timestamp.wallMilliseconds
            logical.append(version.timestamp.logical)
            bodyLength.append(version.body?.count ?? -1)
            if let receipt = version.receipt {
                receiptIndex.append(position)
                receipts.append(receipt)
            }
        }
        if !receipts.isEmpty {
            self.receiptIndex = receiptIndex
            self.receipt = receipts
        }
        if versions.contains(where: { $0.signature.count != Self.signatureSize }) {
            signatureLength = versions.map(\.signature.count)
        }
    }

    /// The length of an Ed25519 signature, which every version carries unless ``signatureLength`` says otherwise.
    static let signatureSize = 64

    /// The 16 bytes of `id` when it is written in the UUID form (8-4-4-4-12 lowercase hex digits),
    /// so that rendering them in that form gives `id` back; nil otherwise. One pass over the
    /// UTF-8, nothing allocated but the result (every version of a page and a push goes through it).
    static func uuidBytes(of id: DocumentID) -> [UInt8]? {
        let text = id.rawValue.utf8
        guard text.count == 36 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 16)
        var position = 0
        var nibble = 0
        for character in text {
            if position == 8 || position == 13 || position == 18 || position == 23 {
                guard character == UInt8(ascii: "-") else { return nil }
            } else {
                let value: UInt8
                switch character {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): value = character &- UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): value = character &- UInt8(ascii: "a") &+ 10
                default: return nil
                }
                bytes[nibble >> 1] |= nibble & 1 == 0 ? value << 4 : value
                nibble += 1
            }
            position += 1
        }
        return bytes
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// The id written in the UUID form of `bytes` (16 of them).
    static func uuidID(_ bytes: ArraySlice<UInt8>) -> DocumentID? {
        guard bytes.count == 16 else { return nil }
        var text: [UInt8] = []
        text.reserveCapacity(36)
        for (index, byte) in bytes.enumerated() {
            if index == 4 || index == 6 || index == 8 || index == 10 { text.append(UInt8(ascii: "-")) }
            text.append(hexDigits[Int(byte >> 4)])
            text.append(hexDigits[Int(byte & 0x0F)])
        }
        return DocumentID(String(decoding: text, as: UTF8.self))
    }

    /// The bytes of the id section: the 16 bytes of every id given as null, in order.
    func idSection(of versions: [Version]) -> Data {
        var section = Data()
        for (position, version) in versions.enumerated() where id[position] == nil {
            section.append(contentsOf: Self.uuidBytes(of: version.documentID) ?? [])
        }
        return section
    }

    /// The length of the id section.
    var idSectionLength: Int { id.filter { $0 == nil }.count * 16 }

    /// The signatures' lengths, one per version.
    var signatureLengths: [Int] { signatureLength ?? Array(repeating: Self.signatureSize, count: id.count) }

    /// The number of versions, when every column holds one entry per version; nil otherwise.
    var count: Int? { count(contextsApart: false) }

    /// The number of versions, when every column holds one entry per version (but ``context``
    /// when the contexts travel apart, as in a protocol 2 frame); nil otherwise.
    func count(contextsApart: Bool) -> Int? {
        let counts = [
            origin.count, counterStep.count, collection.count, partition.count, id.count, contextsApart ? id.count : context.count,
            wallStep.count, logical.count, bodyLength.count, signatureLength?.count ?? id.count,
        ]
        return Set(counts).count == 1 ? counts[0] : nil
    }

    /// The versions, the ids given as null read from `ids`, their bodies from `bodies` and their
    /// signatures from `signatures`, each in order, and their contexts from `contexts` when given
    /// (else from ``context``); nil when the columns do not describe exactly those bytes, an index
    /// or a step leads out of range, or the receipts are not in ascending order.
    func versions(
        ids: ArraySlice<UInt8>, bodies: ArraySlice<UInt8>, signatures: [Data], contexts: [VersionVector]? = nil
    ) -> [Version]? {
        guard let count = count(contextsApart: contexts != nil), signatures.count == count, ids.count == idSectionLength,
            contexts.map({ $0.count == count }) ?? true
        else { return nil }
        var idOffset = ids.startIndex
        let receiptIndex = receiptIndex ?? []
        let receipts = receipt ?? []
        guard receiptIndex.count == receipts.count, zip(receiptIndex, receiptIndex.dropFirst()).allSatisfy({ $0 < $1 }),
            receiptIndex.allSatisfy({ (0..<count).contains($0) })
        else { return nil }
        var receiptAt = Dictionary(uniqueKeysWithValues: zip(receiptIndex, receipts))
        var versions: [Version] = []
        versions.reserveCapacity(count)
        var lastCounter: [Int: UInt64] = [:]
        var lastWall: UInt64 = 0
        var offset = bodies.startIndex
        for position in 0..<count {
            guard origins.indices.contains(origin[position]), collections.indices.contains(collection[position]),
                partitions.indices.contains(partition[position]),
                let counter = Self.apply(counterStep[position], to: lastCounter[origin[position]] ?? 0),
                (1...Dot.maxCounter).contains(counter),
                let wall = Self.apply(wallStep[position], to: lastWall), wall <= HybridTimestamp.maximumWallMilliseconds,
                bodyLength[position] >= -1, bodyLength[position] <= bodies.endIndex - offset
            else { return nil }
            lastCounter[origin[position]] = counter
            lastWall = wall
            var documentID = id[position]
            if documentID == nil {
                documentID = Self.uuidID(ids[idOffset..<idOffset + 16])
                idOffset += 16
            }
            guard let documentID else { return nil }
            var body: Data?
            if bodyLength[position] >= 0 {
                body = Data(bodies[offset..<offset + bodyLength[position]])
                offset += bodyLength[position]
                // As in format 1, where a body is a JSON string: UTF-8 text, whatever else it is.
                guard let body, String(data: body, encoding: .utf8) != nil else { return nil }
            }
            var version = Version(
                dot: Dot(replica: origins[origin[position]], counter: counter), collection: collections[collection[position]],
                documentID: documentID, partition: partitions[partition[position]], context: contexts?[position] ?? context[position],
                body: body, timestamp: HybridTimestamp(wallMilliseconds: wall, logical: logical[position]),
                signature: signatures[position])
            version.receipt = receiptAt.removeValue(forKey: position)
            versions.append(version)
        }
        guard offset == bodies.endIndex else { return nil }
        return versions
    }

    private static func index<T: Hashable>(of value: T, in table: inout [T], _ positions: inout [T: Int]) -> Int {
        if let known = positions[value] { return known }
        table.append(value)
        positions[value] = table.count - 1
        return table.count - 1
    }

    /// `to - from` for two values of at most `Int64.max` (counters and wall times are).
    private static func step(from: UInt64, to: UInt64) -> Int64 {
        Int64(truncatingIfNeeded: to &- from)
    }

    /// `base + step`, nil when it leaves 0 … `Int64.max`.
    private static func apply(_ step: Int64, to base: UInt64) -> UInt64? {
        guard base <= UInt64(Int64.max) else { return nil }
        let (sum, overflow) = Int64(base).addingReportingOverflow(step)
        return overflow || sum < 0 ? nil : UInt64(sum)
    }
}

extension SyncBundle {
    /// The JSON of a format-2 content: the bundle's fields with the versions in columns.
    struct ColumnarHeader: Codable {
        var exporter: ReplicaID
        var hub: ReplicaID?
        var knowledge: VersionVector
        var createdAt: UInt64
        var columns: SyncBundleColumns
        var certificates: [DeviceCertificate]
        var revocations: [RevocationNotice]
        var attachments: [AttachmentManifest]?
    }

    /// Format 2's content in its sections: the JSON's length (8 bytes, big-endian) and the JSON
    /// (``ColumnarHeader``); the ids given as null in the columns, 16 bytes each; the bodies
    /// concatenated in the versions' order; the signatures concatenated; the attachment files.
    /// A writer compresses each section as its own deflate blocks (``SyncBundle/encodedSections(format:)``).
    func columnarSections() throws -> [Data] {
        let columns = SyncBundleColumns(versions)
        let header = ColumnarHeader(
            exporter: exporter, hub: hub, knowledge: knowledge, createdAt: createdAt, columns: columns,
            certificates: certificates, revocations: revocations, attachments: attachments)
        let json = try JSONEncoder().encode(header)
        var head = Data()
        head.reserveCapacity(8 + json.count)
        Self.appendLength(json.count, to: &head)
        head.append(json)
        var bodies = Data()
        bodies.reserveCapacity(versions.reduce(0) { $0 + ($1.body?.count ?? 0) })
        for version in versions { if let body = version.body { bodies.append(body) } }
        var signatures = Data()
        signatures.reserveCapacity(SyncBundleColumns.signatureSize * versions.count)
        for version in versions { signatures.append(version.signature) }
        return [head, columns.idSection(of: versions), bodies, signatures] + (try checkedFiles())
    }

    /// The bundle of a format-2 content; nil when it is not one, whole.
    static func columnar(_ bytes: [UInt8]) -> SyncBundle? {
        guard bytes.count >= 8 else { return nil }
        let jsonLength = bytes[0..<8].reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        guard jsonLength <= UInt64(bytes.count - 8),
            let header = try? JSONDecoder().decode(ColumnarHeader.self, from: Data(bytes[8..<8 + Int(jsonLength)])),
            let count = header.columns.count
        else { return nil }
        let columns = header.columns
        let idsStart = 8 + Int(jsonLength)
        guard columns.idSectionLength <= bytes.count - idsStart else { return nil }
        let bodiesStart = idsStart + columns.idSectionLength
        var bodiesLength = 0
        for length in columns.bodyLength where length > 0 {
            guard length <= bytes.count - bodiesStart - bodiesLength else { return nil }
            bodiesLength += length
        }
        var offset = bodiesStart + bodiesLength
        var signatures: [Data] = []
        signatures.reserveCapacity(count)
        for length in columns.signatureLengths {
            guard length >= 0, length <= bytes.count - offset else { return nil }
            signatures.append(Data(bytes[offset..<offset + length]))
            offset += length
        }
        guard let versions = columns.versions(
            ids: bytes[idsStart..<bodiesStart], bodies: bytes[bodiesStart..<bodiesStart + bodiesLength], signatures: signatures)
        else { return nil }
        var bundle = SyncBundle(
            exporter: header.exporter, hub: header.hub, knowledge: header.knowledge, createdAt: header.createdAt,
            versions: versions, certificates: header.certificates, revocations: header.revocations)
        bundle.attachments = header.attachments
        guard let files = readFiles(of: header.attachments ?? [], from: bytes, at: &offset), offset == bytes.count else {
            return nil
        }
        bundle.attachmentFiles = files
        return bundle
    }

    static func appendLength(_ length: Int, to content: inout Data) {
        for index in (0..<8).reversed() { content.append(UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64(index)))) }
    }

    /// Each version's signature prefixed by its length, then the attachment files (format 1).
    func appendSignaturesAndFiles(to content: inout Data) throws {
        for version in versions {
            guard version.signature.count <= Int(UInt8.max) else {
                throw SyncBundleError(.damaged, "Version \(version.dot) holds a signature of \(version.signature.count) bytes, which no bundle carries.")
            }
            content.append(UInt8(version.signature.count))
            content.append(version.signature)
        }
        for file in try checkedFiles() { content.append(file) }
    }

    /// The attachment files, once checked against their manifests' sizes.
    func checkedFiles() throws -> [Data] {
        guard (attachments ?? []).map(\.size) == attachmentFiles.map(\.count) else {
            throw SyncBundleError(.damaged, "The bundle's attachment files do not match their manifests.")
        }
        return attachmentFiles
    }

    /// `count` length-prefixed signatures from `offset` on; nil when the bytes end first.
    static func readSignatures(_ count: Int, from bytes: [UInt8], at offset: inout Int) -> [Data]? {
        var signatures: [Data] = []
        signatures.reserveCapacity(count)
        for _ in 0..<count {
            guard offset < bytes.count, offset + 1 + Int(bytes[offset]) <= bytes.count else { return nil }
            let length = Int(bytes[offset])
            signatures.append(Data(bytes[offset + 1..<offset + 1 + length]))
            offset += 1 + length
        }
        return signatures
    }

    /// The files of `manifests` from `offset` on, each as long as its manifest says; nil when a
    /// manifest is not well formed or the bytes end first.
    static func readFiles(of manifests: [AttachmentManifest], from bytes: [UInt8], at offset: inout Int) -> [Data]? {
        var files: [Data] = []
        for manifest in manifests {
            guard manifest.isWellFormed, manifest.size <= bytes.count - offset else { return nil }
            files.append(Data(bytes[offset..<offset + manifest.size]))
            offset += manifest.size
        }
        return files
    }
}
