import Foundation
import SyncEngine

/// Realistic incident reports for benchmarks: about 600 bytes of JSON each, drawn from a seeded
/// generator so that every run measures the same bytes.
struct IncidentCorpus {
    /// The collection the reports belong to.
    let collection: CollectionName
    private var generator: SplitMix64

    init(seed: UInt64) throws {
        guard let collection = CollectionName("observations") else {
            throw BenchError(.setup, "The benchmark's collection name is invalid.")
        }
        self.collection = collection
        generator = SplitMix64(seed: seed)
    }

    private static let categories = [
        "displacement", "armed-group-movement", "hate-speech", "market-closure", "school-closure",
        "checkpoint", "arrest", "land-dispute", "cattle-raid", "threat", "sexual-violence", "looting",
    ]
    private static let places = [
        "Kalemie market", "Nyunzu road junction", "Mbandaka port", "river crossing north of Bunia",
        "Kisangani central mosque", "Goma IDP site 3", "Uvira lakeside", "Bukavu health centre",
        "Beni outskirts", "Tshikapa mining site", "Kananga parish", "Moba fishing camp",
    ]
    private static let words = """
        residents reported that a group of armed men arrived before dawn and ordered the market to
        close traders fled toward the river several families have not returned local leaders asked
        for calm but rumours spread quickly on radio and messaging groups the parish priest counted
        displaced households sheltering in the school buildings women said they feared further
        attacks at night youths blocked the road with burning tyres police arrived late and made
        two arrests the health centre lacks medicine for the wounded elders met to discuss the land
        dispute that has divided the two villages since the last rainy season observers could not
        verify the number of casualties independently
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    /// The number of partitions (regions) the reports are spread over.
    static let regionCount = 24

    /// The next report's JSON bytes and its region.
    mutating func nextReport(index: Int) -> (body: Data, region: Partition) {
        let regionNumber = Int(generator.next() % UInt64(Self.regionCount)) + 1
        let regionName = String(format: "region-%02d", regionNumber)
        let region = Partition(regionName) ?? .default
        let category = Self.categories[Int(generator.next() % UInt64(Self.categories.count))]
        let place = Self.places[Int(generator.next() % UInt64(Self.places.count))]
        let latitude = -12 + Double(generator.next() % 1_700_000) / 100_000
        let longitude = 12 + Double(generator.next() % 1_800_000) / 100_000
        let day = 1 + Int(generator.next() % 28)
        let minute = Int(generator.next() % 1440)
        let head = """
            {"type":"incident","category":"\(category)","severity":\(1 + generator.next() % 5),\
            "region":"\(regionName)","place":"\(place)",\
            "location":{"lat":\(String(format: "%.5f", latitude)),"lon":\(String(format: "%.5f", longitude))},\
            "observed_at":"2025-03-\(String(format: "%02d", day))T\(String(format: "%02d:%02d", minute / 60, minute % 60)):00Z",\
            "observer":"obs-\(1000 + generator.next() % 9000)","report_number":\(index),\
            "people_affected":\(generator.next() % 2000),"sources":\(1 + generator.next() % 4),\
            "verified":\(generator.next() % 3 == 0),"tags":["\(category)","field"],"summary":"
            """
        let tail = "\"}"
        let targetSize = 560 + Int(generator.next() % 81)  // 560 to 640 bytes
        var summary = ""
        while head.utf8.count + summary.utf8.count + tail.utf8.count < targetSize {
            if !summary.isEmpty { summary += " " }
            summary += Self.words[Int(generator.next() % UInt64(Self.words.count))]
        }
        return (Data((head + summary + tail).utf8), region)
    }

    /// `count` versions of distinct new documents, as another replica would send them: written by
    /// `key`'s replica with counters 1 to `count`, empty contexts, and signed.
    mutating func signedVersions(count: Int, origin: ReplicaID, key: DeviceKey) throws -> [Version] {
        var versions: [Version] = []
        versions.reserveCapacity(count)
        let start: UInt64 = 1_741_000_000_000  // March 2025, in milliseconds
        for index in 0..<count {
            let (body, region) = nextReport(index: index)
            let wall = start + UInt64(index) * 1000
            versions.append(try key.sign(Version(
                dot: Dot(replica: origin, counter: UInt64(index + 1)), collection: collection,
                documentID: DocumentID.generate(millisecondsSince1970: wall, using: &generator),
                partition: region, context: VersionVector(), body: body,
                timestamp: HybridTimestamp(wallMilliseconds: wall))))
        }
        return versions
    }

    /// A device key and replica id drawn from the generator, standing for another replica.
    mutating func otherReplica() throws -> (id: ReplicaID, key: DeviceKey) {
        let id = ReplicaID.random(using: &generator)
        let raw = Data((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
        return (id, try DeviceKey(rawRepresentation: raw))
    }
}

/// A small, fast, seedable generator (SplitMix64).
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
