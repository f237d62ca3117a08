import Foundation
@testable import HubConsole
import HubStore
import ReplicaStore
import SyncEngine
import Testing

/// The observations page's GeoJSON export and map: the filtered set, never the informant reference,
/// nothing from a record reaching the page unescaped.
@Suite("Console map and GeoJSON")
struct ConsoleMapTests {
    /// Writes observation `id` dated `date` on the hub, at `at` (latitude, longitude) or without coordinates.
    static func observe(_ hub: ConsoleHub, _ id: String, date: String, at: (Double, Double)?, place: String = "Abu Shouk camp") async throws {
        try await hub.write(intent(id, date: date, at: at, place: place))
    }

    /// The write of observation `id` dated `date`, at `at` (latitude, longitude) or without coordinates.
    static func intent(_ id: String, date: String, at: (Double, Double)?, place: String = "Abu Shouk camp") -> WriteIntent {
        let coordinates = at.map { "\"latitude\": \($0.0), \"longitude\": \($0.1), " } ?? ""
        let body = ConsoleRecordsTests.observation
            .replacingOccurrences(of: "\"event_date\": \"2026-03-01\"", with: "\"event_date\": \"\(date)\"")
            .replacingOccurrences(of: "\"latitude\": 13.6517, \"longitude\": 25.3469, ", with: coordinates)
            .replacingOccurrences(of: "\"place\": \"Abu Shouk camp\"", with: "\"place\": \"\(place)\"")
        let key = DocumentKey(collection: CollectionName("observations")!, id: DocumentID(id)!)
        return WriteIntent(key: key, body: Data(body.utf8))
    }

    static let hostile = "<script>alert('x')</script> & <b>"

    /// Three observations in March (two located, one without coordinates, one named by a hostile
    /// place) and one in June, outside the filter `to=2026-03-31`.
    static func seed(_ hub: ConsoleHub) async throws {
        try await observe(hub, "obs-a", date: "2026-03-01", at: (13.6517, 25.3469), place: hostile)
        try await observe(hub, "obs-b", date: "2026-03-05", at: (12.05, 24.88))
        try await observe(hub, "obs-c", date: "2026-03-07", at: nil)
        try await observe(hub, "obs-d", date: "2026-06-01", at: (14.5, 26.1))
    }

    static func features(_ body: String) throws -> [[String: Any]] {
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8))
        let collection = try #require(json as? [String: Any])
        #expect(collection["type"] as? String == "FeatureCollection")
        return try #require(collection["features"] as? [[String: Any]])
    }

    @Test(arguments: ConsoleBackend.enabled)
    func geoJSONHoldsTheFilteredFeaturesWithoutTheInformant(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.seed(hub)
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let page = try await browser.get("/console/observations?to=2026-03-31")
            #expect(page.body.contains("/console/observations.geojson?to=2026-03-31"), "the link keeps the filter")
            let answer = try await browser.get("/console/observations.geojson?to=2026-03-31")
            #expect(answer.status == 200 && answer.headers.first(name: "Content-Type") == "application/geo+json")
            let features = try Self.features(answer.body)
            #expect(features.compactMap { $0["id"] as? String }.sorted() == ["obs-a", "obs-b", "obs-c"])
            let byID = Dictionary(uniqueKeysWithValues: features.map { ($0["id"] as? String ?? "", $0) })
            let point = try #require(byID["obs-b"]?["geometry"] as? [String: Any])
            #expect(point["type"] as? String == "Point" && (point["coordinates"] as? [Any])?.compactMap { ($0 as? NSNumber)?.doubleValue } == [24.88, 12.05])
            #expect(byID["obs-c"]?["geometry"] is NSNull, "no coordinates: a null geometry")
            let properties = try #require(byID["obs-a"]?["properties"] as? [String: Any])
            #expect(properties["location"] as? String == Self.hostile && (properties["informant_anonymous"] as? NSNumber)?.boolValue == true)
            #expect(!answer.body.contains("Imam") && !answer.body.contains("555 01") && !answer.body.contains("informant_ref"),
                    "the sealed informant reference never leaves the hub")
            let none = try await browser.get("/console/observations.geojson?region=SD-KH")
            #expect(try Self.features(none.body).isEmpty)
            #expect(try await ConsoleBrowser(base: hub.url).get("/console/observations.geojson").status == 303, "no export without a session")
        }
    }

    /// The export is written a step of 200 documents at a time: 205 observations span two steps and
    /// must still make one valid collection (a comma between steps, none after the last).
    @Test(arguments: ConsoleBackend.enabled)
    func geoJSONSpanningSeveralStepsIsOneCollection(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await hub.write((0..<205).map { index in
                Self.intent("obs-\(index)", date: "2026-03-01", at: (10 + Double(index) / 100, 20 + Double(index) / 100))
            })
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let features = try Self.features(try await browser.get("/console/observations.geojson").body)
            #expect(features.count == 205 && Set(features.compactMap { $0["id"] as? String }).count == 205)
            let map = try await browser.get("/console/observations/map")
            #expect(map.body.components(separatedBy: "<circle").count - 1 == 205)
        }
    }

    @Test(arguments: ConsoleBackend.enabled)
    func theMapDrawsOnePointPerLocatedObservationAndEscapesTheRest(_ backend: ConsoleBackend) async throws {
        try await ConsoleHub.with(backend) { hub in
            try await Self.seed(hub)
            let browser = try await ConsoleSecurityTests.loggedIn(hub, "viv", role: .viewer)
            let page = try await browser.get("/console/observations?to=2026-03-31")
            #expect(page.body.contains("/console/observations/map?to=2026-03-31"), "the map link keeps the filter")
            let map = try await browser.get("/console/observations/map?to=2026-03-31&type=%3Cscript%3E")
            #expect(map.status == 200 && map.body.contains("&lt;script&gt;") && !map.body.contains("<script"))
            let answer = try await browser.get("/console/observations/map?to=2026-03-31")
            let body = answer.body
            #expect(answer.status == 200 && body.contains("<svg") && body.contains("1 without coordinates"))
            #expect(body.components(separatedBy: "<circle").count - 1 == 2, "obs-a and obs-b; obs-c has no coordinates, obs-d is after the filter")
            #expect(body.contains("/console/conflicts/observations/obs-a") && body.contains("/console/conflicts/observations/obs-b"))
            #expect(!body.contains("/console/conflicts/observations/obs-d"))
            #expect(body.contains(#"cx="25.3469" cy="-13.6517""#), "x is the longitude, y minus the latitude")
            #expect(body.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;b&gt;"), "the place is escaped in the point's title")
            #expect(!body.contains("<script") && !body.contains("<b>") && !body.contains("style=") && !body.contains("Imam"))
            let policy = try #require(answer.headers.first(name: "Content-Security-Policy"))
            #expect(policy.contains("default-src 'none'") && !policy.contains("unsafe-inline"), "the map needs no script and no inline style")
            #expect(try await ConsoleBrowser(base: hub.url).get("/console/observations/map").status == 303)
        }
    }

    @Test func theMapIsBoundedAndFramesItsPoints() throws {
        let key = DocumentKey(collection: CollectionName("observations")!, id: DocumentID("obs-1")!)
        let points = [HubConsole.MapPoint(key: key, latitude: 13, longitude: 25, label: "a")]
        let frame = HubConsole.MapFrame(points)
        #expect(frame.west < 25 && frame.east > 25 && frame.south < 13 && frame.north > 13 && frame.width >= 2)
        #expect(HubConsole.MapFrame([]).width == 360)
        let world = HubConsole.mapSVG([])
        #expect(world.text.contains(#"viewBox="-180.0000 -90.0000 360.0000 180.0000""#) && !world.text.contains("<circle"))
        #expect(HubConsole.mapLimit == 2_000)
    }
}
