import CompressNIO
import Foundation
import NIOCore
import SyncCompression
import SyncEngine

/// Issue 14 figure: the cost of the wire form of one pulled page, protocol 1 (JSON, each version
/// an object with its body as an escaped string) next to protocol 2 (``SyncFrame``: the versions
/// in columns, bodies raw, ids and signatures as bytes). For pages of 1,000 and 10,000 of the
/// run's observation versions: encode and decode time per version, and bytes raw and gzipped
/// (protocol 2 gzipped section by section, as the hub sends it). In process, no HTTP, no
/// database: the codec alone.
struct CodecBenchmark: Benchmark {
    let name = "codec"
    let estimatedSeconds = 40

    /// The page sizes measured (each at most the run's documents).
    static let pageSizes = [1_000, 10_000]

    func run(in context: BenchmarkContext) throws -> [Figure] {
        let (_, all) = try context.corpus.receivedVersions(log: context.log)
        var figures: [Figure] = []
        for size in Self.pageSizes where size <= all.count {
            figures += try measure(page: Array(all.prefix(size)), context: context)
        }
        if figures.isEmpty {
            figures += try measure(page: all, context: context)
        }
        return figures
    }

    private func measure(page versions: [Version], context: BenchmarkContext) throws -> [Figure] {
        let count = versions.count
        var response = SyncResponse(
            hub: .random(), knowledge: VersionVector(), accepted: 0, rejected: [], versions: versions,
            checkpoint: "1.\(ReplicaID.random().hex):\(count)", more: true)
        response.protocolVersion = 1
        let rounds = max(context.repeats, 5)

        var jsonEncode: [Double] = [], jsonDecode: [Double] = [], frameEncode: [Double] = [], frameDecode: [Double] = []
        var json = Data(), frame = Data(), sections: [Data] = []
        for _ in 0..<rounds {
            let (encodedJSON, jsonSeconds) = try MonotonicClock.measure { try JSONEncoder().encode(response) }
            json = encodedJSON
            let (decodedJSON, jsonDecodeSeconds) = try MonotonicClock.measure { try JSONDecoder().decode(SyncResponse.self, from: json) }
            var framed = response
            framed.protocolVersion = 2
            let (encodedSections, frameSeconds) = try MonotonicClock.measure { () throws -> [Data] in
                let sections = try SyncFrame.sections(of: framed)
                frame = sections.reduce(into: Data()) { $0.append($1) }
                return sections
            }
            sections = encodedSections
            let (decodedFrame, frameDecodeSeconds) = try MonotonicClock.measure { try SyncFrame.response(from: frame) }
            guard decodedJSON.versions.count == count, decodedFrame.versions == decodedJSON.versions,
                decodedFrame.versions.map(\.signature) == versions.map(\.signature)
            else {
                throw BenchError(.setup, "The codec benchmark's page did not come back whole from one of the protocols.")
            }
            let microseconds = 1e6 / Double(count)
            jsonEncode.append(jsonSeconds * microseconds)
            jsonDecode.append(jsonDecodeSeconds * microseconds)
            frameEncode.append(frameSeconds * microseconds)
            frameDecode.append(frameDecodeSeconds * microseconds)
        }
        let jsonGzip = try SyncTools.gzipSize(json)
        let frameGzip = try Self.gzipSize(sections: sections)
        let floor = try SyncTools.byteFloor(of: versions)
        let label = count.formatted()
        context.log(
            "codec \(label) versions: protocol 1 encode \(Self.text(Samples(jsonEncode).median)) µs, decode \(Self.text(Samples(jsonDecode).median)) µs, \(json.count) B raw, \(jsonGzip) B gzipped; "
                + "protocol 2 encode \(Self.text(Samples(frameEncode).median)) µs, decode \(Self.text(Samples(frameDecode).median)) µs, \(frame.count) B raw, \(frameGzip) B gzipped; "
                + "floor \(floor) B")
        let common = [
            "one page of \(label) observation versions of the run's corpus (signed, distinct documents), encoded and decoded in process: no HTTP, no database",
            "median of \(rounds) rounds; time per version",
        ]
        return [
            Figure(
                id: "\(name)-decode-\(count)", title: "decoding a page of \(label) versions, protocol 2 next to protocol 1",
                unit: "µs/version", better: .lower,
                measured: .init(name: "`SyncFrame.response(from:)` (protocol 2)", samples: Samples(frameDecode), withP90: false),
                reference: .init(name: "`JSONDecoder` of the JSON answer (protocol 1)", samples: Samples(jsonDecode), withP90: false),
                targetRatio: nil, notes: common + ["below 1: protocol 2 decodes faster; the client decodes every page of a pull"]),
            Figure(
                id: "\(name)-encode-\(count)", title: "encoding a page of \(label) versions, protocol 2 next to protocol 1",
                unit: "µs/version", better: .lower,
                measured: .init(name: "`SyncFrame.sections(of:)` (protocol 2)", samples: Samples(frameEncode), withP90: false),
                reference: .init(name: "`JSONEncoder` of the answer (protocol 1, no cache)", samples: Samples(jsonEncode), withP90: false),
                targetRatio: nil,
                notes: common + ["the hub keeps each version's protocol 1 JSON in a cache (`SyncResponseEncoder`); this is the first encoding"]),
            Figure(
                id: "\(name)-bytes-\(count)", title: "a page of \(label) versions gzipped, protocol 2 next to protocol 1",
                unit: "bytes", better: .lower,
                measured: .init(name: "the frame, each section its own deflate blocks", samples: Samples([Double(frameGzip)]), withP90: false),
                reference: .init(name: "the JSON answer, gzipped whole", samples: Samples([Double(jsonGzip)]), withP90: false),
                targetRatio: nil,
                notes: ["raw: protocol 2 \(frame.count) B, protocol 1 \(json.count) B (\(Self.text(Double(frame.count) / Double(max(json.count, 1))))×)"]),
            Figure(
                id: "\(name)-floor-\(count)", title: "a page of \(label) versions in protocol 2, gzipped, next to the byte floor",
                unit: "bytes", better: .lower,
                measured: .init(name: "the frame gzipped section by section", samples: Samples([Double(frameGzip)]), withP90: false),
                reference: .init(name: "gzip of the bodies + 80 B per version", samples: Samples([Double(floor)]), withP90: false),
                targetRatio: 1.12, notes: ["issue 14's target for the whole pull is 1.12× this floor; HTTP headers are not counted here"]),
        ]
    }

    static func text(_ value: Double) -> String { String(format: value < 10 ? "%.2f" : "%.1f", value) }

    /// The size of `sections` compressed into one gzip member, a sync flush after each section,
    /// as the hub sends a frame.
    static func gzipSize(sections: [Data]) throws -> Int {
        try GzipSections.compress(sections).count
    }
}
