import Foundation
import SyncEngine
import Records
import TestSupport
import Testing

@Suite("Records export")
struct RecordsExportTests {
    /// Three observations: the fixture (with coordinates and a sealed reference), one with tricky
    /// text for CSV, one without coordinates.
    static func entries() throws -> [ObservationExport.Entry] {
        let tricky = try RecordsFixtures.edited(
            RecordsFixtures.observation, "notes", .string("Line one, with \"quotes\"\nline two\r\n=cmd()"))
        let unlocated = try RecordsFixtures.edited(
            String(
                decoding: try RecordsFixtures.edited(RecordsFixtures.observation, "location.latitude", nil),
                as: UTF8.self),
            "location.longitude", nil)
        return try [("obs-1", Data(RecordsFixtures.observation.utf8)), ("obs-2", tricky), ("obs-3", unlocated)].map {
            id, body in
            guard case .observation(let observation) = try RecordCatalog.read(.observation, body: body) else {
                throw SyncEngineError(.invalidBody, "not an observation")
            }
            return ObservationExport.Entry(id: id, observation: observation)
        }
    }

    /// Runs `python3 -c script` with `input` on stdin and returns its stdout.
    static func python(_ script: String, input: Data) throws -> String {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        try spawn(process)
        stdin.fileHandleForWriting.write(input)
        try stdin.fileHandleForWriting.close()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return String(decoding: output, as: UTF8.self)
    }

    @Test func csvParsesBackWithPythonsReader() throws {
        let csv = ObservationExport.csv(try Self.entries())
        #expect(!String(decoding: csv, as: UTF8.self).contains("Imam"))
        let script = """
            import csv, io, json, sys
            rows = list(csv.DictReader(io.StringIO(sys.stdin.buffer.read().decode('utf-8'), newline='')))
            print(json.dumps({"count": len(rows), "columns": list(rows[0].keys()), "rows": rows}))
            """
        let parsed = try #require(try JSONValue(parsing: Data(try Self.python(script, input: csv).utf8)).objectValue)
        #expect(parsed["count"] == .number(3))
        #expect(parsed["columns"] == .array(ObservationExport.columns.map(JSONValue.string)))
        let rows = try #require(parsed["rows"]?.arrayValue?.compactMap { $0.objectValue })
        #expect(rows[0]["id"] == .string("obs-1"))
        #expect(rows[0]["event_type"] == .string("Violence against civilians"))
        #expect(rows[0]["fatalities"] == .string("12"))
        #expect(rows[0]["fatalities_text"] == .string("dozens"))
        #expect(rows[0]["latitude"] == .string("13.6517"))
        #expect(rows[0]["interaction"] == .string("37"))
        #expect(rows[0]["admin1"] == .string("SD-DN"))
        #expect(rows[0]["severity"] == .string("critical"))
        #expect(
            rows[1]["notes"]
                == .string("'Line one, with \"quotes\"\nline two\r\n=cmd()".replacingOccurrences(of: "'", with: "")))
        #expect(rows[2]["latitude"] == .string(""))
        for row in rows { #expect(!row.values.contains { $0.stringValue?.contains("Imam") == true }) }
    }

    /// Replays a review's finding: a seized device's observation whose notes hold "\r\n" then a
    /// formula, with no comma or quote. "\r\n" is one Swift Character, equal to neither "\r" nor
    /// "\n", so the cell was written bare: a spreadsheet read a new row starting "=cmd|…" (and
    /// "," followed by a combining mark made extra cells). Python's reader must find three rows,
    /// each field whole.
    @Test func lineBreaksAndCommasJoinedToMarksStayInTheirCell() throws {
        var entries = try Self.entries()
        entries[0].observation.notes = "ok\r\n=cmd|' /C calc'!A0"
        entries[1].observation.notes = "a,\u{200D}b"
        let csv = ObservationExport.csv(entries)
        let script = """
            import csv, io, json, sys
            rows = list(csv.DictReader(io.StringIO(sys.stdin.buffer.read().decode('utf-8'), newline='')))
            print(json.dumps({"count": len(rows), "notes": [r["notes"] for r in rows], "ids": [r["id"] for r in rows]}))
            """
        let parsed = try #require(try JSONValue(parsing: Data(try Self.python(script, input: csv).utf8)).objectValue)
        #expect(parsed["count"] == .number(3))
        #expect(parsed["ids"] == .array(entries.map { .string($0.id) }))
        let notes = try #require(parsed["notes"]?.arrayValue)
        #expect(notes.first == .string("ok\r\n=cmd|' /C calc'!A0"))
        #expect(notes.dropFirst().first == .string("a,\u{200D}b"))
    }

    @Test func formulaLikeTextIsDefused() throws {
        var entries = try Self.entries()
        entries[0].observation.location.place = "=HYPERLINK(\"x\")"
        let text = String(decoding: ObservationExport.csv(entries), as: UTF8.self)
        #expect(text.contains("\"'=HYPERLINK(\"\"x\"\")\""))
        #expect(text.contains(",25.3469,"))
    }

    @Test func geoJSONParsesBackWithPythonsJSON() throws {
        let geoJSON = ObservationExport.geoJSON(try Self.entries())
        #expect(!String(decoding: geoJSON, as: UTF8.self).contains("Imam"))
        #expect(!String(decoding: geoJSON, as: UTF8.self).contains("informant_ref"))
        let script = """
            import json, sys
            doc = json.load(sys.stdin)
            assert doc["type"] == "FeatureCollection"
            out = []
            for f in doc["features"]:
                assert f["type"] == "Feature"
                g = f["geometry"]
                out.append({"id": f["properties"]["id"], "coords": g["coordinates"] if g else None,
                             "kind": g["type"] if g else None, "event_type": f["properties"]["event_type"],
                             "fatalities": f["properties"].get("fatalities")})
            print(json.dumps({"count": len(doc["features"]), "features": out}))
            """
        let parsed = try #require(
            try JSONValue(parsing: Data(try Self.python(script, input: geoJSON).utf8)).objectValue)
        #expect(parsed["count"] == .number(3))
        let features = try #require(parsed["features"]?.arrayValue?.compactMap { $0.objectValue })
        #expect(features[0]["kind"] == .string("Point"))
        #expect(features[0]["coords"] == .array([.number(25.3469), .number(13.6517)]))
        #expect(features[0]["fatalities"] == .number(12))
        #expect(features[2]["coords"] == .null)
    }
}
