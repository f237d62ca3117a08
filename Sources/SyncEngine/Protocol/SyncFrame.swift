public import Foundation

/// Protocol 2's wire form of the exchange: one frame per request or answer, the message's fields
/// other than its versions as a small JSON header, and its versions (the request's `push`, the
/// answer's `versions`) in the columns of bundle format 2 (``SyncBundleColumns``): ids of the UUID
/// form as 16 bytes, the bodies raw and together, the signatures as bare bytes; and, unlike a
/// bundle, each version's context as binary dots (an index into the header's replica table and a
/// counter) instead of JSON objects keyed by hex ids.
///
/// Protocol 1 puts each version in a JSON object with its body as an escaped JSON string, its ids
/// as hex and its signature as base64: decoding a page was most of an initial pull's cost. Here a
/// body is a slice of the frame, checked to be UTF-8, and nothing is unescaped.
///
/// The layout, with every bound a reader applies, is specified in Docs/Protocol.md, "Protocol 2:
/// the frame". Pure: no I/O, no compression (the HTTP edges gzip a frame's sections each as their
/// own deflate blocks, as a bundle's).
public enum SyncFrame {
    /// The media type of a frame, in `Content-Type` and `Accept`.
    public static let mediaType = "application/vnd.vigil.sync.v2"
    /// The highest revision of the answer frame this build writes and reads, offered with the
    /// media type's parameter `rev` (`application/vnd.vigil.sync.v2;rev=2`). Revision 2 carries the
    /// admission receipts in a section of their own and leaves out the hub's certificate of itself.
    public static let answerRevision = 2
    /// The first four bytes of every frame: `VSYN`.
    public static let magic: [UInt8] = Array("VSYN".utf8)
    /// The protocol version a frame carries (byte 4).
    public static let protocolVersion = 2
    /// Bytes before the header's JSON: magic (4), version (1), kind (1), the JSON's length (4).
    public static let prefixSize = 10

    /// What a frame holds (byte 5).
    public enum Kind: UInt8, Sendable {
        case request = 1
        case response = 2
    }

    /// The bounds a reader puts on a frame, checked before anything is allocated for it.
    public struct Limits: Sendable, Hashable {
        /// The most versions one frame may carry (a hub: its push limit; a client: well above the
        /// largest page a hub sends).
        public var maxVersions: Int
        /// The largest header JSON.
        public var maxHeaderBytes: Int
        /// The deepest nesting of arrays and objects in the header JSON.
        public var maxHeaderDepth: Int
        /// The longest signature one version may carry (Ed25519's are 64 bytes).
        public var maxSignatureBytes: Int
        /// The most entries one version's context may hold.
        public var maxVectorEntries: Int

        public init(
            maxVersions: Int = 100_000, maxHeaderBytes: Int = 16 << 20, maxHeaderDepth: Int = 32, maxSignatureBytes: Int = 255,
            maxVectorEntries: Int = 4_096
        ) {
            self.maxVersions = maxVersions
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderDepth = maxHeaderDepth
            self.maxSignatureBytes = maxSignatureBytes
            self.maxVectorEntries = maxVectorEntries
        }
    }

    // MARK: Encoding

    /// The frame of `request`, its `push` in columns.
    public static func encode(_ request: SyncRequest) throws -> Data {
        try sections(of: request).reduce(into: Data()) { $0.append($1) }
    }

    /// The frame of `response` to `request` (when given, what the request says is left out of
    /// it: ``SyncWire``), its `versions` in columns.
    public static func encode(_ response: SyncResponse, answering request: SyncRequest? = nil) throws -> Data {
        try sections(of: response, answering: request).reduce(into: Data()) { $0.append($1) }
    }

    /// The frame of `request` in its five sections (prefix and header, ids, contexts, bodies,
    /// signatures; the first alone when there are no versions), which a writer compresses each as
    /// its own deflate blocks.
    public static func sections(of request: SyncRequest) throws -> [Data] {
        var header = request
        header.push = []
        header.protocolVersion = protocolVersion
        return try sections(kind: .request, header: header, versions: request.push, answering: nil)
    }

    /// The frame of `response` to `request` in its five sections, or six with `receiptsApart`
    /// (revision 2 of the answer, for a client that offered it: Docs/Protocol.md, "Revision 2 of
    /// the answer"): the admission receipts, the page's and the pushed versions', as bare bytes in
    /// a section of their own after the signatures instead of base64 in the header.
    public static func sections(
        of response: SyncResponse, answering request: SyncRequest? = nil, receiptsApart: Bool = false
    ) throws -> [Data] {
        var header = response
        header.versions = []
        header.protocolVersion = protocolVersion
        let echo = request.map(SyncWire.Echo.init)
        guard receiptsApart else {
            return try sections(kind: .response, header: header, versions: response.versions, answering: echo)
        }
        var versions = response.versions
        var receiptBytes = Data()
        let pageReceipts = versions.compactMap(\.receipt)
        if !versions.isEmpty, pageReceipts.count == versions.count {
            receiptBytes.reserveCapacity(AdmissionReceipt.byteCount * versions.count)
            for receipt in pageReceipts { receiptBytes.append(receipt.bytes) }
            versions = versions.map(\.withoutReceipt)
        }
        var receipted: [[UInt64]]?
        if let receipts = response.receipts, !receipts.isEmpty {
            let byCounter = receipts.compactMap { key, value in UInt64(key).map { ($0, value) } }.sorted { $0.0 < $1.0 }
            if byCounter.count == receipts.count, byCounter.allSatisfy({ (1...Dot.maxCounter).contains($0.0) }) {
                receipted = ReceiptRuns.runs(of: byCounter.map(\.0))
                for (_, receipt) in byCounter { receiptBytes.append(receipt.bytes) }
                header.receipts = nil
            }
        }
        return try sections(
            kind: .response, header: header, versions: versions, answering: echo, receipted: receipted,
            receiptSection: receiptBytes)
    }

    private static func sections<Message: Codable>(
        kind: Kind, header: Message, versions: [Version], answering echo: SyncWire.Echo?, receipted: [[UInt64]]? = nil,
        receiptSection: Data = Data()
    ) throws -> [Data] {
        var columns = SyncBundleColumns(versions)
        guard versions.allSatisfy({ $0.signature.count <= Int(UInt8.max) }) else {
            throw SyncFrameError(.malformed, "A version carries a signature longer than \(UInt8.max) bytes, which no frame carries.")
        }
        let contexts = try contextSection(of: versions, origins: &columns.origins)
        columns.context = []
        let encoder = JSONEncoder()
        encoder.userInfo[SyncWire.inFrame] = true
        if let echo { encoder.userInfo[SyncWire.answering] = echo }
        let json = try headerJSON(header, columns: columns, receipted: receipted, encoder: encoder)
        var head = Data(magic)
        head.reserveCapacity(prefixSize + json.count)
        head.append(UInt8(protocolVersion))
        head.append(kind.rawValue)
        try appendLength(json.count, to: &head)
        head.append(json)

        var ids = Data()
        let idSection = columns.idSection(of: versions)
        try appendLength(idSection.count, to: &ids)
        ids.append(idSection)

        var contextSection = Data()
        contextSection.reserveCapacity(4 + contexts.count)
        try appendLength(contexts.count, to: &contextSection)
        contextSection.append(contexts)

        let bodyBytes = versions.reduce(0) { $0 + ($1.body?.count ?? 0) }
        var bodies = Data()
        bodies.reserveCapacity(4 + bodyBytes)
        try appendLength(bodyBytes, to: &bodies)
        for version in versions { if let body = version.body { bodies.append(body) } }

        let signatureBytes = versions.reduce(0) { $0 + $1.signature.count }
        var signatures = Data()
        signatures.reserveCapacity(4 + signatureBytes)
        try appendLength(signatureBytes, to: &signatures)
        for version in versions { signatures.append(version.signature) }
        if !receiptSection.isEmpty {
            var receipts = Data()
            receipts.reserveCapacity(4 + receiptSection.count)
            try appendLength(receiptSection.count, to: &receipts)
            receipts.append(receiptSection)
            return [head, ids, contextSection, bodies, signatures, receipts]
        }
        // A frame without versions ends after its header (a no-op exchange is counted in bytes).
        guard !versions.isEmpty else { return [head] }
        return [head, ids, contextSection, bodies, signatures]
    }

    /// The header's JSON: the message by `encoder`, and the columns, when there are versions, written
    /// directly (``SyncBundleColumns/frameJSON()``) as the object's last member.
    private static func headerJSON<Message: Codable>(
        _ header: Message, columns: SyncBundleColumns, receipted: [[UInt64]]?, encoder: JSONEncoder
    ) throws -> Data {
        guard columns.count != 0, let columnsJSON = columns.frameJSON() else {
            return try encoder.encode(Framed(message: header, columns: columns, receipted: receipted))
        }
        var json = try encoder.encode(Framed(message: header, columns: SyncBundleColumns([]), receipted: receipted))
        guard json.last == UInt8(ascii: "}") else {
            throw SyncFrameError(.malformed, "A frame's header did not encode as a JSON object.")
        }
        json.removeLast()
        if json.count > 1 { json.append(UInt8(ascii: ",")) }
        json.append(contentsOf: Array("\"columns\":".utf8))
        json.append(contentsOf: columnsJSON)
        json.append(UInt8(ascii: "}"))
        return json
    }

    /// Bytes of one context entry: the replica's index (4) and the counter (8).
    static let contextEntrySize = 12

    /// The contexts of `versions`, each as its number of entries (2 bytes) and its entries in the
    /// order of their replica ids, each the replica's index in `origins` (4 bytes; a replica not
    /// in it yet is added at its end) and the counter (8 bytes).
    static func contextSection(of versions: [Version], origins: inout [ReplicaID]) throws -> Data {
        var index = [ReplicaID: Int](minimumCapacity: origins.count)
        for (position, origin) in origins.enumerated() { index[origin] = position }
        var section = Data()
        section.reserveCapacity(versions.reduce(0) { $0 + 2 + contextEntrySize * $1.context.entries.count })
        for version in versions {
            let entries = version.context.sortedEntries
            guard entries.count <= Int(UInt16.max) else {
                throw SyncFrameError(.tooLarge, "The context of version \(version.dot) holds \(entries.count) entries, more than a frame carries.")
            }
            appendBigEndian(UInt64(entries.count), bytes: 2, to: &section)
            for (replica, counter) in entries {
                let at: Int
                if let known = index[replica] {
                    at = known
                } else {
                    at = origins.count
                    origins.append(replica)
                    index[replica] = at
                }
                appendBigEndian(UInt64(at), bytes: 4, to: &section)
                appendBigEndian(counter, bytes: 8, to: &section)
            }
        }
        return section
    }

    /// `count` contexts from `bytes` (the whole of the context section), their replicas indices
    /// into `origins`; throws ``SyncFrameError`` unless the section holds exactly `count` contexts
    /// within `limits`, each entry's index in the table, its counter 1 … 2⁶³−1, no replica twice.
    static func contexts(
        _ count: Int, from bytes: ArraySlice<UInt8>, origins: [ReplicaID], limits: Limits
    ) throws(SyncFrameError) -> [VersionVector] {
        var contexts: [VersionVector] = []
        contexts.reserveCapacity(count)
        var at = bytes.startIndex
        for _ in 0..<count {
            guard bytes.endIndex - at >= 2 else {
                throw SyncFrameError(.malformed, "The frame's context section ends before its \(count) contexts do.")
            }
            let entries = Int(readBigEndian(bytes, at: at, bytes: 2))
            at += 2
            guard entries <= limits.maxVectorEntries else {
                throw SyncFrameError(.tooLarge, "A context in the frame holds \(entries) entries; the limit is \(limits.maxVectorEntries).")
            }
            guard entries * contextEntrySize <= bytes.endIndex - at else {
                throw SyncFrameError(.malformed, "The frame's context section ends inside a context.")
            }
            var vector = [ReplicaID: UInt64](minimumCapacity: entries)
            for _ in 0..<entries {
                let index = readBigEndian(bytes, at: at, bytes: 4)
                let counter = readBigEndian(bytes, at: at + 4, bytes: 8)
                at += contextEntrySize
                guard index < UInt64(origins.count), (1...Dot.maxCounter).contains(counter) else {
                    throw SyncFrameError(.malformed, "A context in the frame names a replica outside its table or a counter outside 1 … 2^63−1.")
                }
                guard vector.updateValue(counter, forKey: origins[Int(index)]) == nil else {
                    throw SyncFrameError(.malformed, "A context in the frame names one replica twice.")
                }
            }
            contexts.append(VersionVector(vector))
        }
        guard at == bytes.endIndex else {
            throw SyncFrameError(.malformed, "The frame's context section holds bytes no context names.")
        }
        return contexts
    }

    static func appendBigEndian(_ value: UInt64, bytes count: Int, to data: inout Data) {
        for index in (0..<count).reversed() { data.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(index)))) }
    }

    static func readBigEndian(_ bytes: ArraySlice<UInt8>, at offset: Int, bytes count: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in offset..<offset + count { value = value << 8 | UInt64(bytes[index]) }
        return value
    }

    // MARK: Decoding

    /// The request in `frame`; throws ``SyncFrameError`` when it is not one whole request frame
    /// within `limits`.
    public static func request(from frame: Data, limits: Limits = Limits()) throws(SyncFrameError) -> SyncRequest {
        let (header, versions, _): (SyncRequest, [Version], [String: AdmissionReceipt]?) = try decode(
            frame, kind: .request, limits: limits, answering: nil)
        guard header.push.isEmpty else {
            throw SyncFrameError(.malformed, "The frame's header holds versions in `push`; a frame carries them in `columns`.")
        }
        var request = header
        request.push = versions
        return request
    }

    /// The answer in `frame` to `request` (when given, what the answer left out because the
    /// request says it is put back: ``SyncWire``); throws ``SyncFrameError`` when it is not one
    /// whole answer frame within `limits`.
    public static func response(
        from frame: Data, limits: Limits = Limits(), answering request: SyncRequest? = nil
    ) throws(SyncFrameError) -> SyncResponse {
        let (header, versions, pushedReceipts): (SyncResponse, [Version], [String: AdmissionReceipt]?) = try decode(
            frame, kind: .response, limits: limits, answering: request.map(SyncWire.Echo.init))
        guard header.versions.isEmpty else {
            throw SyncFrameError(.malformed, "The frame's header holds versions in `versions`; a frame carries them in `columns`.")
        }
        var response = header
        response.versions = versions
        if let pushedReceipts {
            guard response.receipts == nil else {
                throw SyncFrameError(.malformed, "The frame carries the pushed versions' receipts both in its header and in its receipt section.")
            }
            response.receipts = pushedReceipts
        }
        return response
    }

    private static func decode<Message: Codable & ProtocolTagged>(
        _ frame: Data, kind: Kind, limits: Limits, answering echo: SyncWire.Echo?
    ) throws(SyncFrameError) -> (Message, [Version], [String: AdmissionReceipt]?) {
        let bytes = [UInt8](frame)
        guard bytes.count >= 4, Array(bytes[0..<4]) == magic else {
            throw SyncFrameError(.notAFrame, "The body is not a protocol 2 frame (it does not start with VSYN).")
        }
        guard bytes.count >= prefixSize else {
            throw SyncFrameError(.truncated, "The frame ends after \(bytes.count) bytes, inside its prefix.")
        }
        guard Int(bytes[4]) == protocolVersion else {
            throw SyncFrameError(.unsupportedVersion, "The frame is in protocol \(bytes[4]); this program reads frames of protocol \(protocolVersion).")
        }
        guard bytes[5] == kind.rawValue else {
            throw SyncFrameError(.malformed, "The frame holds kind \(bytes[5]) where a \(kind == .request ? "request (1)" : "response (2)") belongs.")
        }
        var offset = 6
        let headerLength = try readLength(bytes, at: &offset, named: "header")
        guard headerLength <= limits.maxHeaderBytes else {
            throw SyncFrameError(.tooLarge, "The frame's header is \(headerLength) bytes; the limit is \(limits.maxHeaderBytes).")
        }
        let json = bytes[offset..<offset + headerLength]
        offset += headerLength
        guard !MessageLimits.isNested(json, deeperThan: limits.maxHeaderDepth) else {
            throw SyncFrameError(.malformed, "The frame's header nests arrays and objects deeper than \(limits.maxHeaderDepth) levels, the limit.")
        }
        let framed: Framed<Message>
        do {
            let decoder = JSONDecoder()
            decoder.userInfo[SyncWire.inFrame] = true
            if let echo { decoder.userInfo[SyncWire.answering] = echo }
            framed = try decoder.decode(Framed<Message>.self, from: Data(json))
        } catch {
            throw SyncFrameError(.malformed, "The frame's header is not valid: \(describe(error))")
        }
        guard framed.message.protocolVersion == protocolVersion else {
            throw SyncFrameError(.malformed, "The frame's header says protocol \(framed.message.protocolVersion) in a protocol \(protocolVersion) frame.")
        }
        let columns = framed.columns
        guard let count = columns.count(contextsApart: true), columns.context.isEmpty else {
            throw SyncFrameError(.malformed, "The frame's columns do not all hold one entry per version.")
        }
        guard count <= limits.maxVersions else {
            throw SyncFrameError(.tooLarge, "The frame carries \(count) versions; the limit is \(limits.maxVersions).")
        }
        if count == 0, offset == bytes.count {
            guard framed.receipted == nil else {
                throw SyncFrameError(.truncated, "The frame names receipts in `receipted` and ends before its receipt section.")
            }
            return (framed.message, [], nil)
        }
        let idLength = try readLength(bytes, at: &offset, named: "id section")
        guard idLength == columns.idSectionLength else {
            throw SyncFrameError(.malformed, "The frame's id section is \(idLength) bytes where its columns name \(columns.idSectionLength).")
        }
        let ids = bytes[offset..<offset + idLength]
        offset += idLength
        let contextLength = try readLength(bytes, at: &offset, named: "context section")
        let contexts = try Self.contexts(
            count, from: bytes[offset..<offset + contextLength], origins: columns.origins, limits: limits)
        offset += contextLength
        let bodyLength = try readLength(bytes, at: &offset, named: "body section")
        var named = 0
        for length in columns.bodyLength where length > 0 {
            guard length <= bodyLength - named else {
                throw SyncFrameError(.malformed, "The frame's bodies add up to more than its body section (\(bodyLength) bytes).")
            }
            named += length
        }
        guard named == bodyLength else {
            throw SyncFrameError(.malformed, "The frame's body section is \(bodyLength) bytes where its columns name \(named).")
        }
        let bodies = bytes[offset..<offset + bodyLength]
        offset += bodyLength
        let signatureLength = try readLength(bytes, at: &offset, named: "signature section")
        var signatures: [Data] = []
        signatures.reserveCapacity(count)
        var signatureOffset = offset
        for length in columns.signatureLengths {
            guard (0...limits.maxSignatureBytes).contains(length), length <= offset + signatureLength - signatureOffset else {
                throw SyncFrameError(.malformed, "The frame's signatures do not fit its signature section (\(signatureLength) bytes).")
            }
            signatures.append(Data(bytes[signatureOffset..<signatureOffset + length]))
            signatureOffset += length
        }
        guard signatureOffset == offset + signatureLength else {
            throw SyncFrameError(.malformed, "The frame's signature section holds bytes no signature names.")
        }
        offset = signatureOffset
        var receiptSection: ArraySlice<UInt8>?
        if kind == .response, offset < bytes.count {
            let length = try readLength(bytes, at: &offset, named: "receipt section")
            receiptSection = bytes[offset..<offset + length]
            offset += length
        }
        guard offset == bytes.count else {
            throw SyncFrameError(.malformed, "The frame holds \(bytes.count - offset) bytes after its last section.")
        }
        guard var versions = columns.versions(ids: ids, bodies: bodies, signatures: signatures, contexts: contexts) else {
            throw SyncFrameError(
                .malformed,
                "The frame's columns do not describe valid versions (an index or a step out of range, a body that is not UTF-8, or receipts out of order).")
        }
        let pushed = try ReceiptRuns.apart(
            receiptSection, receipted: framed.receipted, versions: &versions, inColumns: columns.receipt != nil)
        return (framed.message, versions, pushed)
    }

    // MARK: Lengths

    static func appendLength(_ length: Int, to data: inout Data) throws {
        guard length >= 0, length <= Int(UInt32.max) else {
            throw SyncFrameError(.tooLarge, "A frame's section of \(length) bytes is above the 4 GiB a length can say.")
        }
        for index in (0..<4).reversed() { data.append(UInt8(truncatingIfNeeded: UInt32(length) >> (8 * UInt32(index)))) }
    }

    /// The 4-byte length at `offset`, checked against the bytes left after it.
    static func readLength(_ bytes: [UInt8], at offset: inout Int, named name: String) throws(SyncFrameError) -> Int {
        guard bytes.count - offset >= 4 else {
            throw SyncFrameError(.truncated, "The frame ends before the length of its \(name).")
        }
        let length = Int(bytes[offset..<offset + 4].reduce(UInt32(0)) { $0 << 8 | UInt32($1) })
        offset += 4
        guard length <= bytes.count - offset else {
            throw SyncFrameError(.truncated, "The frame's \(name) says \(length) bytes; \(bytes.count - offset) follow.")
        }
        return length
    }

    static func describe(_ error: any Error) -> String {
        if let decoding = error as? DecodingError {
            switch decoding {
            case .dataCorrupted(let context), .keyNotFound(_, let context), .typeMismatch(_, let context),
                .valueNotFound(_, let context):
                let path = context.codingPath.map(\.stringValue).joined(separator: ".")
                return String(((path.isEmpty ? "" : path + ": ") + context.debugDescription).prefix(300))
            @unknown default: break
            }
        }
        return String("\(error)".prefix(200))
    }
}

/// A message whose JSON says its protocol version.
protocol ProtocolTagged {
    var protocolVersion: Int { get }
}

extension SyncRequest: ProtocolTagged {}
extension SyncResponse: ProtocolTagged {}

/// A frame's header: the message's own JSON (its versions' array empty) with one more key,
/// `columns`, holding the versions.
struct Framed<Message: Codable>: Codable {
    var message: Message
    var columns: SyncBundleColumns
    /// Revision 2 of an answer: the counters whose receipts the receipt section holds after the
    /// page's, as runs `[first, count]`, ascending (``SyncResponse/receipts`` taken apart).
    var receipted: [[UInt64]]?

    private enum Key: String, CodingKey { case columns, receipted }

    init(message: Message, columns: SyncBundleColumns, receipted: [[UInt64]]? = nil) {
        self.message = message
        self.columns = columns
        self.receipted = receipted
    }

    /// `columns` is absent when there are no versions (a no-op exchange stays small).
    init(from decoder: any Decoder) throws {
        message = try Message(from: decoder)
        let container = try decoder.container(keyedBy: Key.self)
        columns = try container.decodeIfPresent(SyncBundleColumns.self, forKey: .columns) ?? SyncBundleColumns([])
        receipted = try container.decodeIfPresent([[UInt64]].self, forKey: .receipted)
    }

    func encode(to encoder: any Encoder) throws {
        try message.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encodeIfPresent(receipted, forKey: .receipted)
        guard columns.count != 0 else { return }
        try container.encode(columns, forKey: .columns)
    }
}

/// The receipt section of revision 2 of an answer frame, and the runs of counters that name its
/// pushed versions' receipts.
enum ReceiptRuns {
    /// Ascending, distinct `counters` as runs `[first, count]`.
    static func runs(of counters: [UInt64]) -> [[UInt64]] {
        var runs: [[UInt64]] = []
        for counter in counters {
            if let last = runs.last, last[0] &+ last[1] == counter {
                runs[runs.count - 1][1] += 1
            } else {
                runs.append([counter, 1])
            }
        }
        return runs
    }

    /// Puts the page's receipts from `section` on `versions` (when the section holds one per
    /// version) and returns the pushed versions' receipts it holds after them, by counter in
    /// decimal; nil when the frame has no receipt section. The section holds 12 × (N + P) bytes
    /// (the page's N receipts, then the P counters of `receipted`) or 12 × P (the page's, if
    /// any, are in the columns); anything else is malformed, as are runs that are empty, not
    /// ascending, or leave 1 … 2⁶³−1.
    static func apart(
        _ section: ArraySlice<UInt8>?, receipted: [[UInt64]]?, versions: inout [Version], inColumns: Bool
    ) throws(SyncFrameError) -> [String: AdmissionReceipt]? {
        guard let section else {
            guard receipted == nil else {
                throw SyncFrameError(.truncated, "The frame names receipts in `receipted` and ends before its receipt section.")
            }
            return nil
        }
        let size = AdmissionReceipt.byteCount
        var pushed = 0
        var next: UInt64 = 1
        for run in receipted ?? [] {
            guard run.count == 2, run[1] >= 1, run[0] >= next, run[0] <= Dot.maxCounter, run[1] <= Dot.maxCounter - run[0] + 1,
                run[1] <= UInt64(section.count / size)
            else {
                throw SyncFrameError(.malformed, "The frame's `receipted` runs are not ascending runs [first, count] of counters 1 … 2^63−1 its receipt section holds.")
            }
            pushed += Int(run[1])
            next = run[0] + run[1]
        }
        let page: Int
        if !inColumns, !versions.isEmpty, section.count == size * (versions.count + pushed) {
            page = versions.count
        } else if section.count == size * pushed, section.count > 0 {
            page = 0
        } else {
            throw SyncFrameError(
                .malformed, "The frame's receipt section is \(section.count) bytes; it holds 12 bytes for each version, unless its columns carry them, and for each counter of `receipted`.")
        }
        var at = section.startIndex
        func receipt() -> AdmissionReceipt? {
            defer { at += size }
            return AdmissionReceipt(bytes: Data(section[at..<at + size]))
        }
        for position in 0..<page { versions[position].receipt = receipt() }
        guard let receipted else { return nil }
        var receipts: [String: AdmissionReceipt] = [:]
        receipts.reserveCapacity(pushed)
        for run in receipted {
            for counter in run[0]..<run[0] + run[1] { receipts[String(counter)] = receipt() }
        }
        return receipts
    }
}

/// A frame that cannot be read: nothing of it was applied.
public typealias SyncFrameError = CodedFailure<SyncFrameErrorDomain>

/// The domain of ``SyncFrameError``'s codes.
public enum SyncFrameErrorDomain {}

extension ErrorCode where Domain == SyncFrameError {
    /// The bytes do not start like a frame.
    public static let notAFrame = Self("notAFrame")
    /// A frame of a protocol version this build does not read.
    public static let unsupportedVersion = Self("unsupportedVersion")
    /// The frame ends before a length it holds says.
    public static let truncated = Self("truncated")
    /// The frame's parts do not fit together, or its header does not decode.
    public static let malformed = Self("malformed")
    /// It carries more than the reader's limits.
    public static let tooLarge = Self("tooLarge")
}
