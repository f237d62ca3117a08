/// The outlines of the world's countries that the observations map draws under its points: Natural
/// Earth's 1:110m countries (public domain), simplified to 0.1°, generated into
/// `Resources/CountryOutlines+NaturalEarth.swift` by `scripts/make-country-outlines`. Coordinates are
/// whole tenths of a degree, so the map writes them without formatting a floating-point number.
struct CountryOutlines: Sendable {
    /// A closed ring of (longitude, latitude) points in tenths of a degree, with its bounds.
    struct Ring: Sendable {
        var points: [(longitude: Int, latitude: Int)]
        var west: Int, east: Int, south: Int, north: Int

        init?(_ text: Substring) {
            points = text.split(separator: " ").compactMap { pair in
                let parts = pair.split(separator: ",")
                guard parts.count == 2, let longitude = Int(parts[0]), let latitude = Int(parts[1]) else { return nil }
                return (longitude, latitude)
            }
            guard let first = points.first, points.count >= 3 else { return nil }
            (west, east, south, north) = (first.longitude, first.longitude, first.latitude, first.latitude)
            for point in points {
                west = min(west, point.longitude); east = max(east, point.longitude)
                south = min(south, point.latitude); north = max(north, point.latitude)
            }
        }

        /// Whether the ring's bounds and the frame's overlap.
        func overlaps(_ frame: HubConsole.MapFrame) -> Bool {
            Double(east) / 10 >= frame.west && Double(west) / 10 <= frame.east
                && Double(north) / 10 >= frame.south && Double(south) / 10 <= frame.north
        }
    }

    struct Country: Sendable {
        var name: String
        var rings: [Ring]
    }

    var countries: [Country]

    /// Parses lines of `name|ring;ring`, a ring being `lon,lat lon,lat ...` in tenths of a degree;
    /// a line or ring that does not parse is left out.
    init(parsing text: String) {
        countries = text.split(separator: "\n").compactMap { line in
            let fields = line.split(separator: "|", maxSplits: 1)
            guard fields.count == 2 else { return nil }
            let rings = fields[1].split(separator: ";").compactMap(Ring.init)
            return rings.isEmpty ? nil : Country(name: String(fields[0]), rings: rings)
        }
    }

    /// Parsed once, on the first map drawn.
    static let world = CountryOutlines(parsing: naturalEarth110m)

    /// A whole number of tenths as degrees: `253` is `25.3`, `-130` is `-13`.
    static func degrees(tenths: Int) -> String {
        let sign = tenths < 0 ? "-" : ""
        let (whole, tenth) = abs(tenths).quotientAndRemainder(dividingBy: 10)
        return tenth == 0 ? "\(sign)\(whole)" : "\(sign)\(whole).\(tenth)"
    }

    /// The SVG path data of `rings` in the map's units (x = longitude, y = − latitude); the pairs after
    /// a ring's first are implicit line-tos.
    static func pathData(_ rings: [Ring]) -> String {
        var data = ""
        for ring in rings {
            for (index, point) in ring.points.enumerated() {
                data += (index == 0 ? "M" : " ") + degrees(tenths: point.longitude) + " " + degrees(tenths: -point.latitude)
            }
            data += "Z"
        }
        return data
    }
}
