import Foundation
import SyncEngine
import Records

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

    /// Event types with one of their sub-event types (ACLED), and the actor types that fit.
    private static let events: [(type: String, sub: String, actor1: Int, actor2: Int)] = [
        ("Battles", "Armed clash", 1, 2), ("Violence against civilians", "Attack", 3, 7),
        ("Violence against civilians", "Abduction/forced disappearance", 2, 7),
        ("Explosions/Remote violence", "Shelling/artillery/missile attack", 1, 7),
        ("Riots", "Mob violence", 5, 7), ("Protests", "Peaceful protest", 6, 1),
        ("Strategic developments", "Looting/property destruction", 4, 7),
        ("Strategic developments", "Arrests", 1, 7),
    ]
    private static let actors = [
        "Unidentified armed group", "Military forces", "Local militia", "Communal militia", "Rioters",
        "Protesters", "Civilians", "Police forces",
    ]
    private static let places = [
        "Kalemie market", "Nyunzu road junction", "Mbandaka port", "river crossing north of Bunia",
        "Kisangani central mosque", "Goma IDP site 3", "Uvira lakeside", "Bukavu health centre",
        "Beni outskirts", "Tshikapa mining site", "Kananga parish", "Moba fishing camp",
    ]
    private static let modes = ["direct", "witness_account", "community_leader", "religious_leader", "ngo_monitor", "media"]
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

    /// The regions (ISO 3166-2 subdivisions) the reports are spread over: their partitions.
    static let regions = [
        "CD-NK", "CD-SK", "CD-IT", "CD-TA", "CD-KN", "CD-KC", "CD-MN", "CD-TO", "SD-DN", "SD-DS", "SD-DW",
        "SD-DC", "SD-KA", "SD-KS", "SD-NB", "ML-1", "ML-2", "ML-5", "ML-6", "ML-7", "BF-01", "BF-02", "NE-2",
        "NE-3",
    ]

    /// The number of partitions (regions) the reports are spread over.
    static let regionCount = regions.count

    /// The next report's JSON bytes and its region: a valid observation record (collection
    /// `observations`, checked by the hub) of 560 to 640 bytes.
    mutating func nextReport(index: Int) -> (body: Data, region: Partition) {
        let regionCode = Self.regions[Int(generator.next() % UInt64(Self.regions.count))]
        return nextReport(index: index, regionCode: regionCode)
    }

    /// The next report, filed in the region `regionCode` (one of ``regions``).
    mutating func nextReport(index: Int, regionCode: String) -> (body: Data, region: Partition) {
        let region = Partition(regionCode) ?? .default
        let event = Self.events[Int(generator.next() % UInt64(Self.events.count))]
        let place = Self.places[Int(generator.next() % UInt64(Self.places.count))]
        let latitude = -12 + Double(generator.next() % 1_700_000) / 100_000
        let longitude = 12 + Double(generator.next() % 1_800_000) / 100_000
        let day = 1 + Int(generator.next() % 28)
        let deaths = generator.next() % 4 == 0 ? Int(generator.next() % 30) : 0
        let mode = Self.modes[Int(generator.next() % UInt64(Self.modes.count))]
        let head = """
            {"schema_version":1,"report_kind":"incident","event_date":"2025-03-\(String(format: "%02d", day))",\
            "event_type":"\(event.type)","sub_event_type":"\(event.sub)",\
            "actor1":{"name":"\(Self.actors[event.actor1 - 1])","inter":\(event.actor1)},\
            "actor2":{"name":"\(Self.actors[event.actor2 - 1])","inter":\(event.actor2)},\
            "fatalities":{"count":\(deaths),"text":"report \(index): about \(deaths)","disputed":\(generator.next() % 3 == 0)},\
            "location":{"country":"\(regionCode.prefix(2))","admin1":"\(regionCode)","place":"\(place)",\
            "latitude":\(String(format: "%.5f", latitude)),"longitude":\(String(format: "%.5f", longitude)),"geo_precision":\(1 + generator.next() % 3)},\
            "observation_mode":"\(mode)","source_protection":{"informant_anonymous":true},"notes":"
            """
        let tail = "\"}"
        let targetSize = 560 + Int(generator.next() % 81)  // 560 to 640 bytes
        var summary = ""
        while summary.isEmpty || head.utf8.count + summary.utf8.count + tail.utf8.count < targetSize {
            if !summary.isEmpty { summary += " " }
            summary += Self.words[Int(generator.next() % UInt64(Self.words.count))]
        }
        return (Data((head + summary + tail).utf8), region)
    }

    /// `count` versions of distinct new documents, as other replicas would send them: written in
    /// turn by `writers` (version `i` by writer `i % writers.count`, counters from 1 in order),
    /// empty contexts, and signed. Checks that the first bodies are valid observation records.
    mutating func signedVersions(count: Int, writers: [(id: ReplicaID, key: DeviceKey)]) throws -> [Version] {
        guard !writers.isEmpty else { return [] }
        var versions: [Version] = []
        versions.reserveCapacity(count)
        let start: UInt64 = 1_741_000_000_000  // March 2025, in milliseconds
        for index in 0..<count {
            let (body, region) = nextReport(index: index)
            if index < 20 { try Self.check(body, region: region) }
            let writer = writers[index % writers.count]
            let wall = start + UInt64(index) * 1000
            versions.append(try writer.key.sign(Version(
                dot: Dot(replica: writer.id, counter: UInt64(index / writers.count + 1)), collection: collection,
                documentID: DocumentID.generate(millisecondsSince1970: wall, using: &generator),
                partition: region, context: VersionVector(), body: body,
                timestamp: HybridTimestamp(wallMilliseconds: wall))))
        }
        return versions
    }

    /// `count` versions from one writer (see ``signedVersions(count:writers:)``).
    mutating func signedVersions(count: Int, origin: ReplicaID, key: DeviceKey) throws -> [Version] {
        try signedVersions(count: count, writers: [(origin, key)])
    }

    /// Throws unless `body` is a valid observation record filed under its own region, as the hub checks.
    static func check(_ body: Data, region: Partition) throws {
        guard let collection = CollectionName("observations") else { return }
        do {
            let check = try RecordCatalog.validate(collection: collection, body: body)
            guard check.partition == nil || check.partition == region else {
                throw BenchError(.setup, "A generated observation implies partition \(check.partition.map { "\($0)" } ?? "-"), not \(region).")
            }
        } catch let error as SyncEngineError {
            throw BenchError(.setup, "A generated observation is not valid: \(error.message) — \(String(decoding: body, as: UTF8.self))")
        }
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
