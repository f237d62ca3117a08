import Foundation
import PropertyBased
@testable import SyncEngine
import Testing
import TestSupport

/// Protocol 2's frame (``SyncFrame``): what goes in comes out, and a frame that is cut, garbled or
/// over the reader's limits is refused with its code, never a crash.
@Suite("Sync frame (protocol 2)")
struct SyncFrameTests {
    // MARK: Random messages

    static let collections = ["observations", "notes", "situations"].map { CollectionName($0)! }
    static let partitions = ["default", "region-north", "SD-01"].map { Partition($0)! }

    /// A body of `random` text: JSON with quotes, escapes and non-ASCII letters, sometimes empty.
    static func body(using random: inout SeededGenerator) -> Data? {
        switch Int.random(in: 0..<8, using: &random) {
        case 0: return nil
        case 1: return Data()
        default:
            let words = ["flood", "\"quoted\"", "ünïcode", "back\\slash", "línea\n2", "路", "🌊", "{}", "[]"]
            let text = (0..<Int.random(in: 1...12, using: &random)).map { _ in words.randomElement(using: &random)! }
            return Data(#"{"note":"\#(text.joined(separator: " "))"}"#.utf8)
        }
    }

    static func documentID(using random: inout SeededGenerator) -> DocumentID {
        let uuid = UUID(uuid: (
            UInt8.random(in: 0...255, using: &random), UInt8.random(in: 0...255, using: &random), 1, 2, 3, 4, 5, 6,
            7, 8, 9, 10, 11, 12, 13, UInt8.random(in: 0...255, using: &random)))
        switch Int.random(in: 0..<3, using: &random) {
        case 0: return DocumentID(uuid.uuidString.lowercased())!  // the UUID form: 16 bytes in the frame
        case 1: return DocumentID(uuid.uuidString)!  // upper case: not the UUID form, kept as text
        default: return DocumentID("doc-\(Int.random(in: 0..<1_000, using: &random))")!
        }
    }

    static func randomBytes(_ count: Int, using random: inout SeededGenerator) -> Data {
        Data((0..<count).map { _ in UInt8.random(in: 0...255, using: &random) })
    }

    /// Up to `maxCount` versions of up to four origins, with every field drawn at random (counters
    /// and clocks in any order, signatures of odd lengths now and then, some receipts).
    static func versions(_ maxCount: Int, using random: inout SeededGenerator) -> [Version] {
        let origins = (0..<Int.random(in: 1...4, using: &random)).map { _ in ReplicaID.random() }
        let oddSignatures = Int.random(in: 0..<4, using: &random) == 0
        return (0..<Int.random(in: 0...maxCount, using: &random)).map { _ in
            var context = VersionVector()
            for origin in origins where Bool.random(using: &random) {
                context[origin] = UInt64.random(in: 1...Dot.maxCounter, using: &random)
            }
            // Now and then a replica that wrote none of the versions: the frame adds it to its table.
            if Int.random(in: 0..<4, using: &random) == 0 { context[ReplicaID.random()] = UInt64.random(in: 1...9, using: &random) }
            var version = Version(
                dot: Dot(replica: origins.randomElement(using: &random)!, counter: UInt64.random(in: 1...Dot.maxCounter, using: &random)),
                collection: collections.randomElement(using: &random)!, documentID: documentID(using: &random),
                partition: partitions.randomElement(using: &random)!, context: context, body: body(using: &random),
                timestamp: HybridTimestamp(
                    wallMilliseconds: UInt64.random(in: 0...HybridTimestamp.maximumWallMilliseconds, using: &random),
                    logical: UInt32.random(in: 0...UInt32.max, using: &random)),
                signature: randomBytes(oddSignatures ? Int.random(in: 0...100, using: &random) : 64, using: &random))
            if Int.random(in: 0..<3, using: &random) == 0 {
                version.receipt = AdmissionReceipt(bytes: randomBytes(AdmissionReceipt.byteCount, using: &random))
            }
            return version
        }
    }

    static func request(seed: UInt64, maxVersions: Int = 30) -> SyncRequest {
        var random = SeededGenerator(seed: seed)
        var request = SyncRequest(
            protocolVersion: 2, replica: .random(), counter: UInt64.random(in: 0...Dot.maxCounter, using: &random),
            checkpoint: Bool.random(using: &random) ? "7.\(ReplicaID.random().hex):3" : nil,
            push: versions(maxVersions, using: &random),
            assumedKnowledge: Bool.random(using: &random) ? [ReplicaID.random(): 4] : nil,
            limits: PageLimits(versions: Int.random(in: 1...5_000, using: &random), bytes: 1 << 20))
        request.sentAt = Bool.random(using: &random) ? 1_700_000_000_000 : nil
        request.understoodReasons = Bool.random(using: &random) ? Rejection.Reason.added : nil
        request.pending = Bool.random(using: &random) ? Int.random(in: 0...1_000, using: &random) : nil
        request.revocationsHeld = Bool.random(using: &random) ? RevocationNotice.digest(of: [.random(): 3]) : nil
        return request
    }

    static func response(seed: UInt64, maxVersions: Int = 30) -> SyncResponse {
        var random = SeededGenerator(seed: seed)
        let versions = versions(maxVersions, using: &random)
        var response = SyncResponse(
            protocolVersion: 2, hub: .random(), knowledge: [ReplicaID.random(): 12], accepted: Int.random(in: 0...50, using: &random),
            rejected: [Rejection(dot: Dot(replica: .random(), counter: 3), reason: .invalidRecord, message: #"say "versions":[]"#, quarantined: true)],
            versions: versions, checkpoint: "9.\(ReplicaID.random().hex):1", more: Bool.random(using: &random),
            checkpointReset: Bool.random(using: &random))
        if Bool.random(using: &random) { response.grants = AccessGrants(read: Scope(text: "notes/SD-*") ?? .nothing, write: .nothing) }
        if let first = versions.first, Bool.random(using: &random) { response.ownLatest = first }
        return response
    }

    /// What equality of versions leaves out (their signatures and receipts) compared too.
    static func expectSame(_ decoded: [Version], _ original: [Version], _ seed: UInt64) {
        #expect(decoded == original, "seed \(seed)")
        #expect(decoded.map(\.signature) == original.map(\.signature), "seed \(seed): signatures")
        #expect(decoded.map(\.receipt) == original.map(\.receipt), "seed \(seed): receipts")
        #expect(decoded.map(\.body) == original.map(\.body), "seed \(seed): bodies")
    }

    // MARK: Round trips

    @Test("a request and an answer come out of their frames as they went in", arguments: propertySeeds)
    func roundTrip(seed: UInt64) throws {
        let request = Self.request(seed: seed)
        let decodedRequest = try SyncFrame.request(from: try SyncFrame.encode(request))
        #expect(decodedRequest == request, "seed \(seed)")
        Self.expectSame(decodedRequest.push, request.push, seed)

        let response = Self.response(seed: seed)
        let decodedResponse = try SyncFrame.response(from: try SyncFrame.encode(response))
        #expect(decodedResponse == response, "seed \(seed)")
        Self.expectSame(decodedResponse.versions, response.versions, seed)
    }

    @Test(.shrinking) func decodeInvertsEncodeForGeneratedPagesAndPushes() async {
        await propertyCheck(input: Gen.uint64(in: 0...UInt64.max)) { seed in
            let request = Self.request(seed: seed, maxVersions: 12)
            let response = Self.response(seed: seed, maxVersions: 12)
            let decodedRequest = try? SyncFrame.request(from: try SyncFrame.encode(request))
            let decodedResponse = try? SyncFrame.response(from: try SyncFrame.encode(response))
            #expect(decodedRequest == request, "seed \(seed)")
            #expect(decodedResponse == response, "seed \(seed)")
            Self.expectSame(decodedRequest?.push ?? [], request.push, seed)
            Self.expectSame(decodedResponse?.versions ?? [], response.versions, seed)
        }
    }

    @Test("the header's columns written directly read as JSONEncoder writes them", arguments: propertySeeds)
    func columnsWrittenDirectly(seed: UInt64) throws {
        // Ed25519's 64-byte signatures, as every version carries (other lengths are JSONEncoder's),
        // and the hub's receipts on every other version (as a page carries them).
        let receipts = AdmissionReceiptKey(signingKey: Data(repeating: 3, count: 32))
        let versions = Self.response(seed: seed).versions.enumerated().map { index, version in
            var version = version.withoutReceipt
            version.signature = Data(repeating: UInt8(truncatingIfNeeded: version.dot.counter), count: 64)
            return index % 2 == 0 ? receipts.withReceipt(version) : version
        }
        var columns = SyncBundleColumns(versions)
        columns.context = []
        let written = try #require(columns.frameJSON())
        let read = try JSONDecoder().decode(SyncBundleColumns.self, from: Data(written))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try encoder.encode(read) == encoder.encode(columns), "seed \(seed)")
        #expect(versions.isEmpty || columns.receipt?.count == (versions.count + 1) / 2)
        // Contexts are JSONEncoder's to write.
        var withContexts = SyncBundleColumns(versions)
        withContexts.context = versions.map { _ in VersionVector() }
        #expect(versions.isEmpty || withContexts.frameJSON() == nil)
        var otherLengths = versions
        if !otherLengths.isEmpty { otherLengths[0].signature = Data(count: 65) }
        var withLengths = SyncBundleColumns(otherLengths)
        withLengths.context = []
        #expect(versions.isEmpty || withLengths.frameJSON() == nil)
    }

    @Test("integers of every size and names needing escapes are written as JSON reads them")
    func columnsEdges() throws {
        var json = JSONText(capacity: 0)
        json.integers([Int64.min, -1, 0, 9, 10, Int64.max])
        json.append(",")
        json.strings(["a\"b\\c\u{01}\n", nil, "ünï"])
        let text = "[" + String(decoding: json.bytes, as: UTF8.self) + "]"
        let values = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [Any])
        #expect((values[0] as? [NSNumber])?.map(\.int64Value) == [Int64.min, -1, 0, 9, 10, Int64.max])
        let strings = try #require(values[1] as? [Any])
        #expect(strings[0] as? String == "a\"b\\c\u{01}\n")
        #expect(strings[1] is NSNull)
        #expect(strings[2] as? String == "ünï")
    }

    @Test("an empty page's frame holds no columns, and the sections add up to the frame")
    func emptyPage() throws {
        let response = SyncResponse(
            protocolVersion: 2, hub: .random(), knowledge: VersionVector(), accepted: 0, rejected: [], versions: [],
            checkpoint: "1.\(ReplicaID.random().hex):0", more: false)
        let sections = try SyncFrame.sections(of: response)
        #expect(sections.count == 1, "a frame without versions ends after its header")
        // A reader also takes the four empty sections after it.
        var long = sections[0]
        long.append(Data(repeating: 0, count: 16))
        #expect(try SyncFrame.response(from: long) == response)
        var request = Self.request(seed: 3)
        request.push = []
        #expect(try SyncFrame.request(from: try SyncFrame.encode(request)) == request)
        let frame = try SyncFrame.encode(response)
        #expect(frame == sections.reduce(into: Data()) { $0.append($1) })
        #expect(!String(decoding: frame, as: UTF8.self).contains("columns"))
        #expect(try SyncFrame.response(from: frame) == response)
        #expect(Array(frame.prefix(6)) == Array("VSYN".utf8) + [2, 2])
    }

    // MARK: Refusals

    @Test("every cut of a frame is refused as not a frame, truncated or malformed", arguments: propertySeeds.prefix(3))
    func truncated(seed: UInt64) throws {
        let frame = try SyncFrame.encode(Self.response(seed: seed, maxVersions: 6))
        for length in 0..<frame.count {
            let error = #expect(throws: SyncFrameError.self) { try SyncFrame.response(from: frame.prefix(length)) }
            let allowed: Set<SyncFrameError.Code> = length < 4 ? [.notAFrame] : length < SyncFrame.prefixSize ? [.truncated] : [.truncated, .malformed]
            #expect(error.map { allowed.contains($0.code) } == true, "cut at \(length) of \(frame.count): \(String(describing: error))")
        }
    }

    @Test("garbled bytes anywhere are refused or read, never a crash", arguments: propertySeeds)
    func garbled(seed: UInt64) throws {
        var random = SeededGenerator(seed: seed)
        let frame = [UInt8](try SyncFrame.encode(Self.request(seed: seed, maxVersions: 8)))
        for _ in 0..<300 {
            var bytes = frame
            for _ in 0..<Int.random(in: 1...4, using: &random) {
                bytes[Int.random(in: 0..<bytes.count, using: &random)] = UInt8.random(in: 0...255, using: &random)
            }
            do {
                _ = try SyncFrame.request(from: Data(bytes))
            } catch {
                #expect(!error.message.isEmpty)
            }
        }
    }

    @Test("a frame's prefix is checked: magic, version, kind")
    func prefix() throws {
        let frame = [UInt8](try SyncFrame.encode(Self.request(seed: 1)))
        var bytes = frame
        bytes[0] = UInt8(ascii: "{")
        let magic = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: Data(bytes)) }
        #expect(magic?.code == .notAFrame)
        bytes = frame
        bytes[4] = 3
        let version = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: Data(bytes)) }
        #expect(version?.code == .unsupportedVersion)
        #expect(version?.message.contains("3") == true)
        let kind = #expect(throws: SyncFrameError.self) { try SyncFrame.response(from: Data(frame)) }
        #expect(kind?.code == .malformed, "a request frame is not an answer")
        let trailing = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: Data(frame + [0])) }
        #expect(trailing?.code == .malformed)
    }

    @Test("lengths that claim more than the frame holds are refused before anything is allocated")
    func absurdLengths() throws {
        let sections = try SyncFrame.sections(of: Self.request(seed: 2))
        for index in sections.indices {
            var changed = sections
            // Each section's first four bytes after the prefix are its length (the header's at 6).
            let at = index == 0 ? 6 : 0
            changed[index].replaceSubrange(at..<at + 4, with: [0xFF, 0xFF, 0xFF, 0xFF])
            let error = #expect(throws: SyncFrameError.self) {
                try SyncFrame.request(from: changed.reduce(into: Data()) { $0.append($1) })
            }
            #expect(error?.code == .truncated || (index == 0 && error?.code == .tooLarge), "section \(index): \(String(describing: error))")
        }
    }

    @Test("more versions, a larger or deeper header than the reader's limits are refused")
    func overLimits() throws {
        var random = SeededGenerator(seed: 7)
        var request = Self.request(seed: 7, maxVersions: 0)
        var pool: [Version] = []
        while pool.count < 11 { pool += Self.versions(40, using: &random) }
        request.push = Array(pool.prefix(11))
        let frame = try SyncFrame.encode(request)
        let tooMany = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: frame, limits: .init(maxVersions: 10)) }
        #expect(tooMany?.code == .tooLarge)
        #expect(try SyncFrame.request(from: frame, limits: .init(maxVersions: 11)) == request)
        let large = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: frame, limits: .init(maxHeaderBytes: 100)) }
        #expect(large?.code == .tooLarge)
        let deep = #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: frame, limits: .init(maxHeaderDepth: 1)) }
        #expect(deep?.code == .malformed)
    }

    /// A frame whose header is `json` and whose other sections are `ids`, `contexts`, `bodies`, `signatures`.
    static func frame(
        kind: SyncFrame.Kind, json: Data, ids: Data = Data(), contexts: Data = Data(), bodies: Data = Data(), signatures: Data = Data()
    ) throws -> Data {
        var frame = Data(SyncFrame.magic + [2, kind.rawValue])
        for section in [json, ids, contexts, bodies, signatures] {
            try SyncFrame.appendLength(section.count, to: &frame)
            frame.append(section)
        }
        return frame
    }

    @Test("columns that do not describe their sections are refused as malformed")
    func inconsistentColumns() throws {
        let origin = ReplicaID.random()
        let version = Version(
            dot: Dot(replica: origin, counter: 5), collection: Self.collections[0], documentID: DocumentID("doc-1")!,
            partition: .default, context: VersionVector(), body: Data(#"{"a":1}"#.utf8),
            timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_000), signature: Data(repeating: 7, count: 64))
        let header = SyncResponse(
            protocolVersion: 2, hub: .random(), knowledge: VersionVector(), accepted: 0, rejected: [], versions: [],
            checkpoint: "c", more: false)
        func frame(
            _ change: (inout SyncBundleColumns) -> Void, contexts: Data = Data([0, 0]), bodies: Data = Data(#"{"a":1}"#.utf8),
            signatures: Data = Data(repeating: 7, count: 64)
        ) throws -> Data {
            var columns = SyncBundleColumns([version])
            columns.context = []
            change(&columns)
            let json = try JSONEncoder().encode(Framed(message: header, columns: columns))
            return try Self.frame(kind: .response, json: json, contexts: contexts, bodies: bodies, signatures: signatures)
        }
        /// One context of one entry: the replica at `index` of the table, `counter`.
        func context(_ entries: [(index: UInt32, counter: UInt64)], count: UInt16? = nil) -> Data {
            var bytes = Data()
            for byte in withUnsafeBytes(of: (count ?? UInt16(entries.count)).bigEndian, Array.init) { bytes.append(byte) }
            for entry in entries {
                for byte in withUnsafeBytes(of: entry.index.bigEndian, Array.init) { bytes.append(byte) }
                for byte in withUnsafeBytes(of: entry.counter.bigEndian, Array.init) { bytes.append(byte) }
            }
            return bytes
        }
        #expect(try SyncFrame.response(from: try frame({ _ in }, contexts: context([(0, 4)]))).versions.map(\.context) == [[origin: 4]])
        #expect(try SyncFrame.response(from: try frame { _ in }).versions == [version])
        let cases: [(String, Data)] = [
            ("an origin index out of its table", try frame { $0.origin = [3] }),
            ("a counter step below 1", try frame { $0.counterStep = [-5] }),
            ("a column one entry short", try frame { $0.logical = [] }),
            ("a body longer than its section", try frame { $0.bodyLength = [100] }),
            ("a body length below -1", try frame { $0.bodyLength = [-2] }),
            ("a body that is not UTF-8", try frame({ _ in }, bodies: Data([0xFF, 0xFE, 0x22, 0x7B, 0x7D, 0x22, 0x00]))),
            ("a signature section too short", try frame({ _ in }, signatures: Data(repeating: 7, count: 63))),
            ("signature bytes no signature names", try frame({ _ in }, signatures: Data(repeating: 7, count: 65))),
            ("a receipt index out of range", try frame {
                $0.receiptIndex = [4]
                $0.receipt = [AdmissionReceipt(bytes: Data(repeating: 1, count: AdmissionReceipt.byteCount))!]
            }),
            ("an id given as null with no id section", try frame { $0.id = [nil] }),
            ("a context column in the header", try frame { $0.context = [VersionVector()] }),
            ("a context naming a replica outside the table", try frame({ _ in }, contexts: context([(1, 4)]))),
            ("a context counter of 0", try frame({ _ in }, contexts: context([(0, 0)]))),
            ("a context counter above 2^63-1", try frame({ _ in }, contexts: context([(0, UInt64.max)]))),
            ("a context naming one replica twice", try frame({ $0.origins.append(.random()) }, contexts: context([(0, 4), (0, 5)]))),
            ("a context longer than its section", try frame({ _ in }, contexts: context([(0, 4)], count: 2))),
            ("context bytes no context names", try frame({ _ in }, contexts: context([(0, 4)]) + Data([0]))),
            ("no context at all", try frame({ _ in }, contexts: Data())),
        ]
        for (name, bytes) in cases {
            let error = #expect(throws: SyncFrameError.self, "\(name)") { try SyncFrame.response(from: bytes) }
            #expect(error?.code == .malformed, "\(name): \(String(describing: error))")
        }
        // A context over the reader's entry limit is too large, as in JSON.
        let wide = #expect(throws: SyncFrameError.self) {
            try SyncFrame.response(from: try frame({ _ in }, contexts: context([(0, 4)])), limits: .init(maxVectorEntries: 0))
        }
        #expect(wide?.code == .tooLarge)
        // Versions in the header's own array are refused: a frame carries them only in columns.
        var withVersions = header
        withVersions.versions = [version]
        let json = try JSONEncoder().encode(Framed(message: withVersions, columns: SyncBundleColumns([])))
        let inline = #expect(throws: SyncFrameError.self) { try SyncFrame.response(from: try Self.frame(kind: .response, json: json)) }
        #expect(inline?.code == .malformed)
        // A header saying protocol 1 inside a protocol 2 frame.
        var one = header
        one.protocolVersion = 1
        let mislabelled = try JSONEncoder().encode(Framed(message: one, columns: SyncBundleColumns([])))
        let label = #expect(throws: SyncFrameError.self) { try SyncFrame.response(from: try Self.frame(kind: .response, json: mislabelled)) }
        #expect(label?.code == .malformed)
    }
}
