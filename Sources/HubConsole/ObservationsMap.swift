import Foundation
import HubStore
import Hummingbird
import SyncEngine
import Records

/// The map of the filtered observations: an inline SVG drawn by the hub, points on a plain
/// latitude/longitude grid (equirectangular) over the outlines of the countries in view (from
/// ``CountryOutlines``, compiled in), no tile server, no script, no `style` attribute (the
/// Content-Security-Policy allows neither).
extension HubConsole {
    /// Observations of the filter a map reads at most (newest first); the page says when there were more.
    static let mapLimit = 2_000

    /// One point of the map.
    struct MapPoint: Sendable {
        var key: DocumentKey
        var latitude: Double
        var longitude: Double
        var label: String
    }

    /// What a map shows: its points, how many read observations had no coordinates, whether more matched.
    struct MapContent: Sendable {
        var points: [MapPoint] = []
        var unlocated = 0
        var truncated = false
    }

    /// `GET /console/observations/map?region=&from=&to=&type=&severity=`.
    func observationsMapPage(_ request: Request, _ session: OperatorSession) async throws -> Response {
        let filter = try ObservationFilter(request.uri.queryParameters)
        let content = try await mapContent(filter)
        let list = HTML.link("/console/observations", filter.query)
        var notes: [HTML] = ["\(content.points.count) observations drawn. "]
        if content.unlocated > 0 { notes.append("\(content.unlocated) without coordinates are not drawn. ") }
        if content.truncated { notes.append("Only the newest \(Self.mapLimit) observations of this filter are read; narrow it to see the rest. ") }
        notes.append("Country outlines: Natural Earth (1:110m). ")
        return Self.page(
            "Map of observations", session: session,
            """
            \(Self.filterForm("/console/observations/map", Self.observationFields(filter)))
            <p class="note">\(notes)<a href="\(list)">List these observations</a></p>
            \(Self.mapSVG(content.points))
            """)
    }

    /// The fields of the observations filter form, filled from `filter`.
    static func observationFields(_ filter: ObservationFilter) -> [(name: String, label: String, value: String?, example: String)] {
        [
            ("region", "Region", filter.region?.rawValue, "SD-DN"), ("from", "From", filter.from, "2026-01-01"),
            ("to", "To", filter.to, "2026-12-31"), ("type", "Event type", filter.eventType, "violence_against_civilians"),
            ("severity", "Severity", filter.severity, "high"),
        ]
    }

    /// Reads the filter's observations, newest first, until ``mapLimit`` were found or none is left.
    func mapContent(_ filter: ObservationFilter) async throws -> MapContent {
        let store = try documentPages()
        var content = MapContent()
        var cursor: String?
        var read = 0
        repeat {
            let page = try await store.documents(
                in: RecordKind.observation.collection, partition: filter.region, limit: Self.exportStep, after: cursor)
            for document in page.documents {
                guard let body = document.siblings.first?.body, let record = Self.observation(body), filter.accepts(record) else { continue }
                guard read < Self.mapLimit else { content.truncated = true; return content }
                read += 1
                if let point = Self.mapPoint(document.key, record) { content.points.append(point) } else { content.unlocated += 1 }
            }
            cursor = page.nextCursor
        } while cursor != nil
        return content
    }

    static func mapPoint(_ key: DocumentKey, _ record: Observation) -> MapPoint? {
        guard let latitude = record.location.latitude, let longitude = record.location.longitude,
            latitude.isFinite, longitude.isFinite, abs(latitude) <= 90, abs(longitude) <= 180
        else { return nil }
        let place = record.location.place.map { ", \($0)" } ?? ""
        let label = "\(key.id.rawValue): \(record.eventDate.description), \(record.eventType.rawValue), \(record.severity.rawValue)\(place)"
        return MapPoint(key: key, latitude: latitude, longitude: longitude, label: String(label.prefix(300)))
    }
}

/// The drawing: degrees are the SVG's user units (x = longitude, y = − latitude), so the grid is a
/// plain equirectangular one; colours and sizes are presentation attributes, which the CSP allows.
extension HubConsole {
    /// The part of the earth a map shows: its centre and half extents, in degrees.
    struct MapFrame: Sendable {
        var west: Double, east: Double, south: Double, north: Double
        var width: Double { east - west }
        var height: Double { north - south }

        /// Frames `points` with a margin, at least 2° wide, between 1:1 and 2.5:1; the world without points.
        init(_ points: [MapPoint]) {
            guard let first = points.first else { (west, east, south, north) = (-180, 180, -90, 90); return }
            var (minLon, maxLon, minLat, maxLat) = (first.longitude, first.longitude, first.latitude, first.latitude)
            for point in points {
                minLon = min(minLon, point.longitude); maxLon = max(maxLon, point.longitude)
                minLat = min(minLat, point.latitude); maxLat = max(maxLat, point.latitude)
            }
            var halfWidth = max((maxLon - minLon) * 0.55, 1)
            var halfHeight = max((maxLat - minLat) * 0.55, 1)
            halfWidth = max(halfWidth, halfHeight)
            halfHeight = max(halfHeight, halfWidth / 2.5)
            let (lon, lat) = ((minLon + maxLon) / 2, (minLat + maxLat) / 2)
            (west, east, south, north) = (lon - halfWidth, lon + halfWidth, lat - halfHeight, lat + halfHeight)
        }

        /// The spacing of grid lines: about four to eight across the wider side.
        var gridStep: Double {
            let steps = [0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 45]
            return steps.first { max(width, height) / $0 <= 8 } ?? 45
        }

        /// Multiples of `step` from `low` to `high`, within `limit`.
        static func lines(_ low: Double, _ high: Double, step: Double, limit: Double) -> [Double] {
            let first = (max(low, -limit) / step).rounded(.up)
            let last = (min(high, limit) / step).rounded(.down)
            guard first <= last, last - first < 100 else { return [] }
            return (Int(first)...Int(last)).map { Double($0) * step }
        }
    }

    static func number(_ value: Double) -> String { String(format: "%.4f", value) }

    static func degrees(_ value: Double, positive: String, negative: String) -> String {
        let text = value == value.rounded() ? String(Int(abs(value))) : String(format: "%.1f", abs(value))
        return value == 0 ? "0°" : "\(text)°\(value > 0 ? positive : negative)"
    }

    /// The inline SVG of `points`: a grid with labelled lines, a dot per point linking to its document.
    static func mapSVG(_ points: [MapPoint]) -> HTML {
        let frame = MapFrame(points)
        let (x, y, width, height) = (number(frame.west), number(-frame.north), number(frame.width), number(frame.height))
        let step = frame.gridStep
        let font = number(max(frame.width, frame.height) / 45)
        let meridians: [HTML] = MapFrame.lines(frame.west, frame.east, step: step, limit: 180).map { lon in
            """
            <line x1="\(number(lon))" y1="\(number(-frame.north))" x2="\(number(lon))" y2="\(number(-frame.south))" stroke="#c5ccd6" vector-effect="non-scaling-stroke"/>\
            <text x="\(number(lon))" y="\(number(-frame.south))" dy="-0.3em" font-size="\(font)">\(degrees(lon, positive: "E", negative: "W"))</text>
            """
        }
        let parallels: [HTML] = MapFrame.lines(frame.south, frame.north, step: step, limit: 90).map { lat in
            """
            <line x1="\(number(frame.west))" y1="\(number(-lat))" x2="\(number(frame.east))" y2="\(number(-lat))" stroke="#c5ccd6" vector-effect="non-scaling-stroke"/>\
            <text x="\(number(frame.west))" y="\(number(-lat))" dx="0.3em" dy="-0.2em" font-size="\(font)">\(degrees(lat, positive: "N", negative: "S"))</text>
            """
        }
        let radius = number(max(frame.width, frame.height) / 160)
        let dots: [HTML] = points.map { point in
            """
            <a href="\(documentPath(point.key))"><circle cx="\(number(point.longitude))" cy="\(number(-point.latitude))" \
            r="\(radius)"><title>\(point.label)</title></circle></a>
            """
        }
        return """
            <div class="scroll"><svg xmlns="http://www.w3.org/2000/svg" viewBox="\(x) \(y) \(width) \(height)" \
            width="100%" preserveAspectRatio="xMidYMid meet" role="img" aria-label="Map of \(points.count) observations">\
            <clipPath id="map-bounds"><rect x="\(x)" y="\(y)" width="\(width)" height="\(height)"/></clipPath>\
            <rect x="\(x)" y="\(y)" width="\(width)" height="\(height)" fill="#ffffff"/>\
            \(countryOutlines(frame))\
            <g fill="#4a5563">\(meridians)\(parallels)</g>\
            <g fill="#b3261e" fill-opacity="0.7">\(dots)</g>\
            </svg></div>
            """
    }

    /// The outlines of the countries with a ring in `frame`, clipped to it: one path per country,
    /// named by its title, only its rings in view (the stylesheet keeps their strokes a pixel wide).
    static func countryOutlines(_ frame: MapFrame, _ outlines: CountryOutlines = .world) -> HTML {
        let paths: [HTML] = outlines.countries.compactMap { country in
            let rings = country.rings.filter { $0.overlaps(frame) }
            guard !rings.isEmpty else { return nil }
            return "<path d=\"\(CountryOutlines.pathData(rings))\"><title>\(country.name)</title></path>"
        }
        return """
            <g class="countries" clip-path="url(#map-bounds)" fill="#eef0ea" stroke="#9aa3ad" stroke-linejoin="round">\(paths)</g>
            """
    }
}
