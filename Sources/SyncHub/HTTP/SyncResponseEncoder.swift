import Foundation
import SyncEngine
import Synchronization

/// Encodes sync answers as JSON, each version's JSON made once and kept: a version pushed by one
/// device is pulled by every other, and encoding it again for each reader was a third of the
/// hub's CPU under load.
///
/// The bytes are those `JSONEncoder` makes of the whole answer: the answer without its versions is
/// encoded as usual and the kept versions are put in its `"versions":[]`. The cache holds about
/// ``maxBytes`` of JSON in two generations: when the newer fills, the older is dropped.
final class SyncResponseEncoder: Sendable {
    /// About the most bytes of version JSON kept.
    let maxBytes: Int
    private let cache: Mutex<Generations>

    /// A version's JSON depends on its signed content (named by dot and signature) and on the
    /// receipt it carries (which the hub gives once the writer's write scope changed).
    private struct Key: Hashable {
        var dot: Dot
        var signature: Data
        var receipt: AdmissionReceipt?
    }

    private struct Generations {
        var newer: [Key: Data] = [:]
        var older: [Key: Data] = [:]
        var newerBytes = 0
    }

    /// 4 MiB by default: readers pull what was pushed since their last exchange, so the versions
    /// worth keeping are the newest few thousand.
    init(maxBytes: Int = 4 << 20) {
        self.maxBytes = maxBytes
        cache = Mutex(Generations())
    }

    /// The JSON of `response`.
    func encode(_ response: SyncResponse) throws -> Data {
        guard !response.versions.isEmpty else { return try JSONEncoder().encode(response) }
        var shell = response
        shell.versions = []
        let envelope = try JSONEncoder().encode(shell)
        guard let slot = envelope.range(of: Self.emptyVersions) else { return try JSONEncoder().encode(response) }
        let versions = try response.versions.map(json)
        var out = Data(capacity: envelope.count + versions.reduce(0) { $0 + $1.count + 1 })
        out.append(envelope[..<slot.lowerBound])
        out.append(contentsOf: Array(#""versions":["#.utf8))
        for (index, version) in versions.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out.append(version)
        }
        out.append(UInt8(ascii: "]"))
        out.append(envelope[slot.upperBound...])
        return out
    }

    /// The key and empty array an answer without versions holds (a string value cannot hold it:
    /// its quotes would be escaped).
    private static let emptyVersions = Data(#""versions":[]"#.utf8)

    /// `version`'s JSON, from the cache or encoded and kept.
    private func json(_ version: Version) throws -> Data {
        let key = Key(dot: version.dot, signature: version.signature, receipt: version.receipt)
        let maxBytes = self.maxBytes
        let held = cache.withLock { generations -> Data? in
            if let json = generations.newer[key] { return json }
            guard let json = generations.older.removeValue(forKey: key) else { return nil }
            Self.keep(json, for: key, in: &generations, maxBytes: maxBytes)
            return json
        }
        if let held { return held }
        let json = try JSONEncoder().encode(version)
        cache.withLock { Self.keep(json, for: key, in: &$0, maxBytes: maxBytes) }
        return json
    }

    private static func keep(_ json: Data, for key: Key, in generations: inout Generations, maxBytes: Int) {
        if generations.newerBytes + json.count > maxBytes / 2 {
            generations.older = generations.newer
            generations.newer = [:]
            generations.newerBytes = 0
        }
        generations.newer[key] = json
        generations.newerBytes += json.count
    }
}
