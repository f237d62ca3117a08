import Foundation
import ReplicaStore
import SyncEngine
import Records
import Testing
import TestSupport

/// Record bodies the CLI tests write.
enum RecordBodies {
    static let secret = "Imam Y. of Tawila, phone 0912"

    static func observation(
        date: String = "2026-03-01", region: String = "SD-DN", eventType: String = "Violence against civilians",
        subEventType: String = "Attack", deaths: Int = 12, extra: String = ""
    ) -> String {
        let country = String(region.prefix(2))
        return """
            {"schema_version": 1, "report_kind": "incident", "event_date": "\(date)", "event_type": "\(eventType)",
             "sub_event_type": "\(subEventType)",
             "actor1": {"name": "Unidentified armed group", "inter": 3}, "actor2": {"name": "Civilians", "inter": 7},
             "fatalities": {"count": \(deaths), "text": "about \(deaths)", "disputed": false},
             "location": {"country": "\(country)", "admin1": "\(region)", "place": "Camp, \\"north\\" gate",
                          "latitude": 13.6517, "longitude": 25.3469, "geo_precision": 1},
             "observation_mode": "witness_account",
             "source_protection": {"informant_anonymous": true, "informant_consent": true, "informant_ref": "\(secret)"},
             "notes": "Attack at dawn; shelters burned.\(extra)"}
            """
    }

    static let situation = """
        {"schema_version": 1, "title": "North Darfur, March", "area": {"country": "SD", "admin1": "SD-DN"},
         "period_start": "2026-03-01", "period_end": "2026-03-31",
         "risk_factors": [{"risk_factor": 7, "indicators_present": ["7.6"], "trend": "increasing", "confidence": "medium"}],
         "overall_risk_level": "high"}
        """

    static func warning(acknowledged: Bool) -> String {
        """
        {"schema_version": 1, "title": "Imminent attack on the camp", "area": {"country": "SD", "admin1": "SD-DN"},
         "status": "issued", "urgency": "immediate", "severity": "extreme", "issued_at": "2026-03-02T06:00:00Z",
         "recipients": {"ngo-a": {\(acknowledged ? #""acknowledged_at": "2026-03-02T07:00:00Z""# : "")}, "un-ocha": {}}}
        """
    }

    static let participant = """
        {"schema_version": 1, "name": "West Africa Network for Peacebuilding", "short_name": "WANEP", "kind": "ngo",
         "countries": ["GH", "SD"], "focal_points": [{"name": "A. Musa", "roles": ["focal_point"]}]}
        """
}

/// `fieldcli record`, the record listings and `export`, through the built binary.
@Suite("fieldcli record commands")
struct RecordCommandTests {
    private func write(_ sandbox: CLISandbox, _ name: String, _ text: String) throws -> String {
        let path = sandbox.path(name)
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("an observation from flags is written in its region and listed")
    func observationFromFlags() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let refFile = try write(sandbox, "ref.txt", RecordBodies.secret + "\n")
        let photo = try write(sandbox, "photo.jpg", "not really a jpeg")
        let result = try await sandbox.succeed(
            "record", "observation", "--no-prompt", "--report-kind", "incident", "--event-date", "2026-03-01",
            "--event-type", "Violence against civilians", "--sub-event-type", "Attack",
            "--actor1", "Unidentified armed group", "--inter1", "3", "--actor2", "Civilians", "--inter2", "7",
            "--fatalities", "12", "--fatalities-text", "dozens", "--country", "SD", "--admin1", "SD-DN",
            "--place", "Abu Shouk", "--lat", "13.6517", "--lon", "25.3469", "--geo-precision", "1",
            "--mode", "witness_account", "--risk-factor", "7", "--indicator", "7.6",
            "--anonymous-informant", "--informant-consent", "--informant-ref-file", refFile, "--attach", photo)
        let id = result.output
        #expect(DocumentID(id) != nil)
        #expect(!result.stdout.contains("Imam"))
        let document = try jsonObject(try await sandbox.succeed("get", "observations", id, "--json").stdout)
        #expect(document["partition"] as? String == "SD-DN")
        let listing = try await sandbox.succeed("observations")
        #expect(listing.stdout.contains(id))
        #expect(listing.stdout.contains("SD-DN"))
        #expect(listing.stdout.contains("critical"))
        #expect(!listing.stdout.contains("Imam"))
        let json = try jsonObject(try await sandbox.succeed("observations", "--json").stdout)
        let rows = try #require(json["observations"] as? [[String: Any]])
        #expect(rows.count == 1)
        var hasher = AttachmentHasher()
        hasher.update(Data("not really a jpeg".utf8))
        #expect(rows.first?["attachments"] as? String == hasher.hexDigest())
        #expect(rows.first?["interaction"] as? Int == 37)
        // Written out, the photo is its owner's alone (a review found mode 0644 before).
        let out = sandbox.path("out.jpg")
        _ = try await sandbox.succeed("attachments", "get", "observations", id, hasher.hexDigest(), "--out", out)
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "not really a jpeg")
        let mode = try FileManager.default.attributesOfItem(atPath: out)[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o077 } == 0, "\(String(mode ?? 0, radix: 8))")
        #expect(!(try await sandbox.succeed("observations", "--json").stdout.contains("Imam")))
    }

    @Test("a record from a file round-trips through the replica with its unknown fields")
    func roundTripFromFile() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let text = RecordBodies.observation().replacingOccurrences(
            of: "\"schema_version\": 1,", with: "\"schema_version\": 1, \"x_partner_code\": {\"wanep\": [7, \"b\"]},")
        let file = try write(sandbox, "report.json", text)
        let id = try await sandbox.succeed("record", "observation", "--from", file).output
        let key = try #require(
            DocumentID(id).map { DocumentKey(collection: RecordKind.observation.collection, id: $0) })
        let stored = try CLISandbox.open(sandbox.replicaPath).document(key)?.siblings.first?.body
        #expect(stored == Data(text.utf8))
        // A new version of the same record, from stdin.
        let edited = text.replacingOccurrences(of: "\"count\": 12", with: "\"count\": 14")
        try await sandbox.succeed("record", "observation", "--from", "-", "--id", id, stdin: edited)
        let history = try jsonObject(try await sandbox.succeed("history", "observations", id, "--json").stdout)
        #expect((history["versions"] as? [Any])?.count == 2)
    }

    @Test("invalid records are refused with 65, every field named, the secret never shown, nothing written")
    func refusesBrokenRules() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        _ = try await sandbox.succeed(
            "record", "observation", "--from", try write(sandbox, "ok.json", RecordBodies.observation()))
        let before = try await sandbox.snapshot()
        let broken = RecordBodies.observation(eventType: "Battle", subEventType: "Attack")
            .replacingOccurrences(of: "\"informant_consent\": true", with: "\"informant_consent\": false")
            .replacingOccurrences(of: "\"latitude\": 13.6517", with: "\"latitude\": 113.6517")
        let result = try await sandbox.fail(
            Exit.invalidInput, mentioning: "event_type",
            ["record", "observation", "--from", try write(sandbox, "bad.json", broken)])
        #expect(result.stderr.contains("source_protection.informant_consent"))
        #expect(result.stderr.contains("location.latitude is 113.6517"))
        #expect(result.stderr.contains("'Violence against civilians'"))
        #expect(!result.stderr.contains("Imam"))
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "observation_mode is missing",
            ["record", "observation", "--no-prompt", "--report-kind", "incident", "--event-date", "2026-03-01"])
        let newer = RecordBodies.observation().replacingOccurrences(
            of: "\"schema_version\": 1", with: "\"schema_version\": 9")
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "newer Vigil",
            ["record", "observation", "--from", try write(sandbox, "new.json", newer)])
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "overall_risk_level",
            [
                "record", "situation", "--from",
                try write(
                    sandbox, "s.json", RecordBodies.situation.replacingOccurrences(of: "\"high\"", with: "\"dire\"")),
            ])
        try await sandbox.fail(
            Exit.usage, mentioning: "not both", ["record", "observation", "--from", "x.json", "--country", "SD"])
        #expect(try await sandbox.snapshot() == before)
    }

    @Test("situations, warnings and participants are recorded from files and listed")
    func otherKinds() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let situation = try await sandbox.succeed(
            "record", "situation", "--from", try write(sandbox, "s.json", RecordBodies.situation)
        ).output
        let warning = try await sandbox.succeed(
            "record", "warning", "--from", try write(sandbox, "w.json", RecordBodies.warning(acknowledged: false))
        ).output
        try await sandbox.succeed(
            "record", "warning", "--id", warning, "--from",
            try write(sandbox, "w2.json", RecordBodies.warning(acknowledged: true)))
        let participant = try await sandbox.succeed(
            "record", "participant", "--from", try write(sandbox, "p.json", RecordBodies.participant)
        ).output
        let situations = try await sandbox.succeed("situations").stdout
        #expect(situations.contains(situation) && situations.contains("high") && situations.contains("7↑"))
        let warnings = try await sandbox.succeed("warnings", "--status", "issued").stdout
        #expect(warnings.contains(warning) && warnings.contains("1/2"))
        let participants = try await sandbox.succeed("participants", "--country", "SD").stdout
        #expect(participants.contains(participant) && participants.contains("WANEP"))
        #expect(try await sandbox.succeed("participants", "--country", "NG").stdout.contains("No participants match"))
        let document = try jsonObject(try await sandbox.succeed("get", "participants", participant, "--json").stdout)
        #expect(document["partition"] as? String == "network")
        let json = try jsonObject(try await sandbox.succeed("warnings", "--json").stdout)
        let rows = try #require(json["warnings"] as? [[String: Any]])
        #expect(rows.first?["status"] as? String == "issued")
    }

    @Test("observations filter by region, dates, event type and severity")
    func filters() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let bodies = [
            RecordBodies.observation(date: "2026-03-01", region: "SD-DN", deaths: 12),
            RecordBodies.observation(date: "2026-03-10", region: "SD-DS", deaths: 0),
            RecordBodies.observation(
                date: "2026-04-02", region: "TD-OD", eventType: "Protests", subEventType: "Peaceful protest", deaths: 0),
        ]
        var ids: [String] = []
        for (index, body) in bodies.enumerated() {
            ids.append(
                try await sandbox.succeed("record", "observation", "--from", try write(sandbox, "o\(index).json", body))
                    .output)
        }
        func listed(_ arguments: String...) async throws -> [String] {
            let result = try await sandbox.runner.run(["observations", "--json"] + arguments)
            #expect(result.succeeded, "\(result)")
            let json = try jsonObject(result.stdout)
            return (json["observations"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        }
        #expect(try await listed() == [ids[2], ids[1], ids[0]])
        #expect(try await listed("--region", "SD") == [ids[1], ids[0]])
        #expect(try await listed("--region", "SD-DS") == [ids[1]])
        #expect(try await listed("--from", "2026-03-05", "--to", "2026-03-31") == [ids[1]])
        #expect(try await listed("--event-type", "protests") == [ids[2]])
        #expect(try await listed("--severity", "critical") == [ids[0]])
        #expect(try await listed("--severity", "high") == [ids[1], ids[0]])
        // West of Greenwich: a negative longitude is a value, not a flag.
        let accra = try await sandbox.succeed(
            "record", "observation", "--no-prompt", "--report-kind", "rumour", "--event-date", "2026-04-03",
            "--event-type", "Riots", "--actor1", "Rioters (Ghana)", "--inter1", "5", "--country", "GH",
            "--admin1", "GH-AA", "--lat", "5.6037", "--lon", "-0.187", "--geo-precision", "1", "--mode", "media"
        ).output
        #expect(try await listed("--region", "GH") == [accra])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not a region", ["observations", "--region", "Darfur"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "not a date", ["observations", "--from", "March"])
        try await sandbox.fail(Exit.invalidInput, mentioning: "--severity", ["observations", "--severity", "extreme"])
    }

    @Test("the generic commands (get, list, history) never show the sealed reference")
    func genericCommandsRedactTheSealedReference() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        let id = try await sandbox.succeed(
            "record", "observation", "--from", try write(sandbox, "o.json", RecordBodies.observation())
        ).output
        var outputs: [String] = []
        for arguments in [
            ["get", "observations", id], ["get", "observations", id, "--json"],
            ["list", "observations"], ["list", "observations", "--json"],
            ["history", "observations", id], ["history", "observations", id, "--json"],
        ] {
            let result = try await sandbox.runner.run(arguments)
            #expect(result.succeeded, "\(result)")
            outputs.append(result.stdout + result.stderr)
        }
        for output in outputs {
            #expect(!output.contains("Imam"))
            #expect(!output.contains("0912"))
        }
        #expect(outputs[1].contains(SealedFields.placeholder))
    }

    @Test("CSV and GeoJSON exports parse back with Python and never hold the sealed reference")
    func exports() async throws {
        let sandbox = try CLISandbox()
        try await sandbox.initialize()
        for (index, body) in [
            RecordBodies.observation(extra: " Second line,\\nwith a comma."),
            RecordBodies.observation(date: "2026-03-05", region: "SD-DS", deaths: 3),
        ].enumerated() {
            try await sandbox.succeed("record", "observation", "--from", try write(sandbox, "o\(index).json", body))
        }
        let csvPath = sandbox.path("out.csv")
        let geoPath = sandbox.path("out.geojson")
        let csvRun = try await sandbox.succeed("export", "observations", "--format", "csv", "--out", csvPath)
        #expect(csvRun.stdout.contains("Exported 2 observations"))
        try await sandbox.succeed("export", "observations", "--format", "geojson", "--out", geoPath)
        let stdoutExport = try await sandbox.succeed("export", "observations", "--format", "csv", "--region", "SD-DS")
        for text in [
            try String(contentsOfFile: csvPath, encoding: .utf8), try String(contentsOfFile: geoPath, encoding: .utf8),
            stdoutExport.stdout, csvRun.stderr,
        ] {
            #expect(!text.contains("Imam"))
            #expect(!text.contains("informant_ref"))
        }
        let csv = try python(
            """
            import csv, json, sys
            with open(sys.argv[1], newline='', encoding='utf-8') as f:
                rows = list(csv.DictReader(f))
            print(json.dumps({"count": len(rows), "dates": sorted(r["event_date"] for r in rows),
                              "notes": sorted(r["notes"] for r in rows), "places": [r["location"] for r in rows]}))
            """, csvPath)
        #expect(csv["count"] as? Int == 2)
        #expect(csv["dates"] as? [String] == ["2026-03-01", "2026-03-05"])
        #expect(
            (csv["notes"] as? [String])?.contains("Attack at dawn; shelters burned. Second line,\nwith a comma.")
                == true)
        #expect((csv["places"] as? [String])?.allSatisfy { $0 == "Camp, \"north\" gate" } == true)
        let geo = try python(
            """
            import json, sys
            doc = json.load(open(sys.argv[1], encoding='utf-8'))
            print(json.dumps({"type": doc["type"], "count": len(doc["features"]),
                              "coords": [f["geometry"]["coordinates"] for f in doc["features"]],
                              "admin1": sorted(f["properties"]["admin1"] for f in doc["features"])}))
            """, geoPath)
        #expect(geo["type"] as? String == "FeatureCollection")
        #expect(geo["count"] as? Int == 2)
        #expect((geo["coords"] as? [[Double]])?.first == [25.3469, 13.6517])
        #expect(geo["admin1"] as? [String] == ["SD-DN", "SD-DS"])
        try await sandbox.fail(
            Exit.invalidInput, mentioning: "only observations", ["export", "situations", "--format", "csv"])
        try await sandbox.fail(Exit.usage, mentioning: "format", ["export", "observations", "--format", "xlsx"])
    }

    /// Runs a Python script with `argument` and parses the JSON object it prints.
    private func python(_ script: String, _ argument: String) throws -> [String: Any] {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, argument]
        let output = Pipe()
        process.standardOutput = output
        try spawn(process)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        return try jsonObject(String(decoding: data, as: UTF8.self))
    }
}
