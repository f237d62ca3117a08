import Foundation
@testable import HubConsole
import ReplicaStore
import SyncEngine
import Testing

/// The country outlines compiled into the console (Natural Earth 1:110m) and the map drawing them
/// under its points, clipped to its frame.
@Suite("Console country outlines")
struct ConsoleCountryOutlinesTests {
    static func point(latitude: Double, longitude: Double) throws -> HubConsole.MapPoint {
        let key = DocumentKey(collection: try #require(CollectionName("observations")), id: try #require(DocumentID("obs-1")))
        return HubConsole.MapPoint(key: key, latitude: latitude, longitude: longitude, label: "a")
    }

    @Test func theOutlinesLoadWithKnownCountriesWhereTheyAre() throws {
        let countries = CountryOutlines.world.countries
        #expect(countries.count == 177, "every country of the 1:110m set")
        let sudan = try #require(countries.first { $0.name == "Sudan" })
        let west = sudan.rings.map(\.west).min() ?? 0, east = sudan.rings.map(\.east).max() ?? 0
        let south = sudan.rings.map(\.south).min() ?? 0, north = sudan.rings.map(\.north).max() ?? 0
        #expect((210...225).contains(west) && (380...390).contains(east), "Sudan spans about 21.8°E to 38.6°E: \(west)…\(east)")
        #expect((80...95).contains(south) && (215...225).contains(north), "and 8.2°N to 22°N: \(south)…\(north)")
        #expect(countries.contains { $0.name == "Fiji" && $0.rings.count > 1 }, "islands are rings of their own")
    }

    @Test func aLineOrRingThatDoesNotParseIsLeftOut() {
        let outlines = CountryOutlines(parsing: "A|0,0 10,0 10,10 0,0;1,1 2\nno separator\nB|x,y\nC|0,0 5,5\nD|0,0 1,0 1,1;0,0 1,0 1,1\n")
        #expect(outlines.countries.map(\.name) == ["A", "D"], "B has no point, C too few")
        #expect(outlines.countries.first?.rings.count == 1 && outlines.countries.last?.rings.count == 2)
    }

    @Test(arguments: [(253, "25.3"), (-136, "-13.6"), (-130, "-13"), (-5, "-0.5"), (0, "0"), (1800, "180")])
    func tenthsAreWrittenAsDegrees(tenths: Int, text: String) {
        #expect(CountryOutlines.degrees(tenths: tenths) == text)
    }

    @Test func aRingIsOnePathWithImplicitLinesAndNegatedLatitudes() throws {
        let outlines = CountryOutlines(parsing: "A|0,0 15,0 15,-25 0,0")
        #expect(CountryOutlines.pathData(try #require(outlines.countries.first).rings) == "M0 0 1.5 0 1.5 2.5 0 0Z")
    }

    /// A point in North Darfur: the map outlines Sudan, under the point and clipped to the frame,
    /// and leaves out countries far from it.
    @Test func theMapOutlinesTheCountryInViewUnderItsPoints() throws {
        let svg = HubConsole.mapSVG([try Self.point(latitude: 13.6517, longitude: 25.3469)]).text
        let outlines = try #require(svg.range(of: #"<g class="countries" clip-path="url(#map-bounds)""#))
        let dots = try #require(svg.range(of: "<circle"))
        #expect(outlines.lowerBound < dots.lowerBound, "the outlines are drawn first, under the points")
        #expect(svg.contains(#"<clipPath id="map-bounds"><rect x="24.3469" y="-14.6517" width="2.0000" height="2.0000"/>"#))
        #expect(svg.contains("<title>Sudan</title></path>"))
        #expect(!svg.contains("<title>Australia</title>") && !svg.contains("<title>Brazil</title>"))
        #expect(!svg.contains("style=") && !svg.contains("<script") && !svg.contains("http://www.naturalearthdata"))
    }

    /// The map without points shows the world: every country, and the page stays small.
    @Test func theWorldMapDrawsEveryCountryWithinItsBudget() {
        let svg = HubConsole.mapSVG([]).text
        #expect(svg.components(separatedBy: "</path>").count - 1 == 177)
        #expect(svg.utf8.count < 120_000, "the world's outlines are \(svg.utf8.count) bytes")
    }
}
