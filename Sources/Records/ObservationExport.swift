public import Foundation
public import SyncEngine

/// Observations flattened for analysts' tools: CSV for spreadsheets (RFC 4180) and GeoJSON for
/// QGIS. Columns follow ACLED's names where ACLED has the field. Built from ``Observation``
/// values, which do not hold the sealed informant reference, so no export can contain it.
public enum ObservationExport {
    /// One observation and its document id.
    public struct Entry: Sendable, Hashable {
        public var id: String
        public var observation: Observation

        public init(id: String, observation: Observation) {
            self.id = id
            self.observation = observation
        }
    }

    /// The exported columns, in order.
    public static let columns = [
        "id", "event_date", "time_precision", "report_kind", "event_type", "sub_event_type",
        "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction",
        "fatalities", "fatalities_text", "fatalities_disputed", "severity",
        "country", "admin1", "admin1_name", "admin2", "admin3", "location", "latitude", "longitude",
        "accuracy_m", "geo_precision", "thematic_sector", "risk_factors", "indicators", "crime_category_hint",
        "hate_speech_observed", "observation_mode", "source_scale", "informant_anonymous", "attachments", "notes",
    ]

    /// The columns holding free text, guarded against spreadsheet formula injection.
    static let textColumns: Set<String> = [
        "actor1", "assoc_actor_1", "actor2", "assoc_actor_2", "fatalities_text", "admin1_name", "admin2", "admin3",
        "location", "notes",
    ]

    /// The flattened fields of one observation (absent fields are left out).
    public static func properties(_ entry: Entry) -> [String: JSONValue] {
        let record = entry.observation
        var fields: [String: JSONValue] = [
            "id": .string(entry.id),
            "event_date": .string(record.eventDate.description),
            "time_precision": .number(Double(record.timePrecision.rawValue)),
            "report_kind": .string(record.reportKind.rawValue),
            "event_type": .string(record.eventType.rawValue),
            "actor1": .string(record.actor1.name),
            "inter1": .number(Double(record.actor1.type.rawValue)),
            "interaction": .number(Double(record.interaction)),
            "severity": .string(record.severity.rawValue),
            "country": .string(record.region.country),
            "observation_mode": .string(record.observationMode.rawValue),
            "attachments": .string(record.attachments.map(\.sha256).joined(separator: ";")),
        ]
        func set(_ name: String, _ value: String?) { if let value { fields[name] = .string(value) } }
        func set(_ name: String, _ value: Double?) { if let value { fields[name] = .number(value) } }
        func set(_ name: String, _ value: Bool?) { if let value { fields[name] = .bool(value) } }
        set("sub_event_type", record.subEventType?.rawValue)
        if !record.actor1.associated.isEmpty { set("assoc_actor_1", record.actor1.associated.joined(separator: "; ")) }
        if let actor2 = record.actor2 {
            set("actor2", actor2.name)
            set("inter2", Double(actor2.type.rawValue))
            if !actor2.associated.isEmpty { set("assoc_actor_2", actor2.associated.joined(separator: "; ")) }
        }
        if let fatalities = record.fatalities {
            set("fatalities", Double(fatalities.count))
            set("fatalities_text", fatalities.text)
            set("fatalities_disputed", fatalities.disputed)
        }
        let location = record.location
        set("admin1", location.region.admin1)
        set("admin1_name", location.admin1Name)
        set("admin2", location.admin2)
        set("admin3", location.admin3)
        set("location", location.place)
        set("latitude", location.latitude)
        set("longitude", location.longitude)
        set("accuracy_m", location.accuracyMeters)
        set("geo_precision", location.geoPrecision.map { Double($0.rawValue) })
        set("thematic_sector", record.thematicSector?.rawValue)
        if !record.riskFactors.isEmpty {
            set("risk_factors", record.riskFactors.map { String($0.rawValue) }.joined(separator: ";"))
        }
        if !record.indicators.isEmpty { set("indicators", record.indicators.joined(separator: ";")) }
        set("crime_category_hint", record.crimeCategoryHint?.rawValue)
        set("hate_speech_observed", record.hateSpeechObserved)
        set("source_scale", record.sourceScale?.rawValue)
        set("informant_anonymous", record.sourceProtection?.informantAnonymous)
        set("notes", record.notes)
        return fields
    }

    /// RFC 4180 CSV: a header line, then one line per observation, CRLF line ends, fields quoted
    /// when they hold a comma, a quote or a line break. Free-text cells that a spreadsheet would
    /// run as a formula (starting with `=`, `+`, `-`, `@`) get a leading apostrophe.
    public static func csv(_ entries: [Entry]) -> Data {
        var lines = [columns.map(quoted).joined(separator: ",")]
        for entry in entries {
            let fields = properties(entry)
            lines.append(
                columns.map { column in
                    var text: String
                    switch fields[column] {
                    case .string(let value)?: text = value
                    case .number(let value)?: text = JSONValue.numberText(value)
                    case .bool(let value)?: text = value ? "true" : "false"
                    default: text = ""
                    }
                    // By scalar, not by Character: "\r\n", or "=" followed by a combining mark, is one
                    // Character that equals none of these, and slipped past (found by review).
                    if textColumns.contains(column), let first = text.unicodeScalars.first, "=+-@\t\r".unicodeScalars.contains(first) {
                        text = "'" + text
                    }
                    return quoted(text)
                }.joined(separator: ","))
        }
        return Data((lines.joined(separator: "\r\n") + "\r\n").utf8)
    }

    /// `text` as one CSV cell (RFC 4180), looked at scalar by scalar: a Character holding a line
    /// break, comma or quote with what follows it (`"\r\n"`, `","` + U+200D) is not equal to the
    /// bare one, so a Character test let a field's "\r\n=…" start a new row of a spreadsheet.
    static func quoted(_ text: String) -> String {
        let special: Set<Unicode.Scalar> = [",", "\"", "\n", "\r"]
        guard text.unicodeScalars.contains(where: special.contains) else { return text }
        var cell = "\""
        for scalar in text.unicodeScalars {
            if scalar == "\"" { cell.unicodeScalars.append(scalar) }
            cell.unicodeScalars.append(scalar)
        }
        return cell + "\""
    }

    /// A GeoJSON FeatureCollection (RFC 7946): one Feature per observation, a Point
    /// `[longitude, latitude]` (WGS 84) or a null geometry when it has no coordinates, and the
    /// flattened fields as properties.
    public static func geoJSON(_ entries: [Entry]) -> Data {
        let collection = JSONValue.object(["type": .string("FeatureCollection"), "features": .array(entries.map(feature))])
        return Data((collection.canonicalText + "\n").utf8)
    }

    /// One observation as a GeoJSON Feature: a Point `[longitude, latitude]` or a null geometry,
    /// and the flattened fields as properties (a streamed export writes them one by one).
    public static func feature(_ entry: Entry) -> JSONValue {
        let location = entry.observation.location
        var geometry = JSONValue.null
        if let latitude = location.latitude, let longitude = location.longitude {
            geometry = .object(["type": .string("Point"), "coordinates": .array([.number(longitude), .number(latitude)])])
        }
        return .object([
            "type": .string("Feature"), "id": .string(entry.id), "geometry": geometry,
            "properties": .object(properties(entry)),
        ])
    }
}
