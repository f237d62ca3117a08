import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI.Record {
    /// `fieldcli record observation`: an incident report from flags, prompts or a JSON file.
    struct RecordObservation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "observation",
            abstract: "Record an incident report (an observation) from flags, prompts or a JSON file.",
            discussion: """
                Give the fields as flags, or the whole record with --from FILE. On a terminal, \
                required fields left out are asked for, with the allowed values shown (--no-prompt \
                turns that off). Prints the new record's id.

                Required: --report-kind, --event-date, --event-type, --actor1 and --inter1, \
                --country and --admin1, --mode. Vocabularies: ACLED event types, sub-event types \
                and actor codes; ECOWARN report kinds and sectors; the UN Framework's risk factors \
                1-14 (see Docs/DataModel.md).

                The sealed informant reference is read from a file (--informant-ref-file) so it \
                never appears in the shell history or the process list; it is never shown by \
                listings or exports.

                Examples:
                  fieldcli record observation --report-kind incident --event-date 2026-03-01 \\
                    --event-type "Violence against civilians" --sub-event-type Attack \\
                    --actor1 "Unidentified armed group" --inter1 3 --actor2 "Civilians (Sudan)" --inter2 7 \\
                    --fatalities 12 --fatalities-text dozens --country SD --admin1 SD-DN --place "Abu Shouk" \\
                    --lat 13.6517 --lon 25.3469 --geo-precision 1 --mode witness_account --attach photo.jpg
                  fieldcli record observation --from report.json
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(help: ArgumentHelp("The whole record as one JSON object in a file; - reads stdin.", valueName: "path"))
        var from: String?

        @Option(help: ArgumentHelp("Write a new version of this observation instead of a new one.", valueName: "id"))
        var id: String?

        @OptionGroup var base: BaseOption

        @Flag(help: "Never ask for missing fields, even on a terminal.")
        var noPrompt = false

        @Option(help: ArgumentHelp("incident, situation_update, rumour or warning_signal.", valueName: "kind"))
        var reportKind: String?
        @Option(help: ArgumentHelp("The day of the event, YYYY-MM-DD.", valueName: "date"))
        var eventDate: String?
        @Option(help: "1 actual date, 2 week or weekend, 3 month or longer (ACLED time_precision).")
        var timePrecision: Int?
        @Option(help: ArgumentHelp("An ACLED event type, such as \"Violence against civilians\".", valueName: "type"))
        var eventType: String?
        @Option(help: ArgumentHelp("An ACLED sub-event type of the event type, such as Attack.", valueName: "type"))
        var subEventType: String?

        @Option(help: ArgumentHelp("The first actor's name.", valueName: "name")) var actor1: String?
        @Option(help: "The first actor's ACLED type code, 1 to 8.") var inter1: Int?
        @Option(help: ArgumentHelp("An actor associated with the first (repeatable).", valueName: "name"))
        var assocActor1: [String] = []
        @Option(help: ArgumentHelp("The second actor's name.", valueName: "name")) var actor2: String?
        @Option(help: "The second actor's ACLED type code, 1 to 8.") var inter2: Int?
        @Option(help: ArgumentHelp("An actor associated with the second (repeatable).", valueName: "name"))
        var assocActor2: [String] = []

        @Option(help: "The number of deaths (ACLED's most conservative count).") var fatalities: Int?
        @Option(help: ArgumentHelp("The words the sources used, such as \"dozens\".", valueName: "text"))
        var fatalitiesText: String?
        @Flag(help: "The death toll is disputed.") var fatalitiesDisputed = false

        @Option(help: ArgumentHelp("ISO 3166-1 alpha-2 country code, such as SD.", valueName: "code")) var country:
            String?
        @Option(help: ArgumentHelp("ISO 3166-2 subdivision code, such as SD-DN.", valueName: "code")) var admin1:
            String?
        @Option(help: ArgumentHelp("The first administrative level's name.", valueName: "name")) var admin1Name: String?
        @Option(help: ArgumentHelp("The second administrative level.", valueName: "name")) var admin2: String?
        @Option(help: ArgumentHelp("The third administrative level.", valueName: "name")) var admin3: String?
        @Option(help: ArgumentHelp("The town, village, camp or place.", valueName: "name")) var place: String?
        @Option(parsing: .unconditional, help: "Latitude in decimal degrees (WGS 84); negative south.") var lat: Double?
        @Option(parsing: .unconditional, help: "Longitude in decimal degrees (WGS 84); negative west.") var lon: Double?
        @Option(help: "The coordinates' accuracy in metres.") var accuracy: Double?
        @Option(parsing: .unconditional, help: "Altitude in metres.") var altitude: Double?
        @Option(help: "1 the place itself, 2 near it or part of a region, 3 a larger region (ACLED geo_precision).")
        var geoPrecision: Int?

        @Option(help: ArgumentHelp("An ECOWARN sector, such as security_and_violent_extremism.", valueName: "sector"))
        var sector: String?
        @Option(help: "A UN Framework risk factor, 1 to 14 (repeatable).") var riskFactor: [Int] = []
        @Option(help: ArgumentHelp("A UN Framework indicator such as 7.6 (repeatable).", valueName: "F.N"))
        var indicator: [String] = []
        @Option(help: ArgumentHelp("genocide, crimes_against_humanity, war_crimes or none.", valueName: "hint"))
        var crimeHint: String?
        @Flag(help: "Hate speech was observed.") var hateSpeech = false
        @Option(
            help: ArgumentHelp(
                "How it was observed: direct, witness_account, community_leader, religious_leader, ngo_monitor, media, official, social_media.",
                valueName: "mode"))
        var mode: String?
        @Option(help: ArgumentHelp("local, regional, national or international.", valueName: "scale")) var sourceScale:
            String?

        @Flag(help: "The informant asked to stay anonymous.") var anonymousInformant = false
        @Flag(help: "The informant consented to the record (required for a sealed reference).") var informantConsent =
            false
        @Option(help: ArgumentHelp("A file whose first line is the sealed informant reference.", valueName: "path"))
        var informantRefFile: String?

        @Option(help: ArgumentHelp("Narrative notes.", valueName: "text")) var notes: String?
        @Option(
            help: ArgumentHelp(
                "A file to attach: stored here in chunks and named by its SHA-256, sent at the next sync (repeatable).",
                valueName: "path"))
        var attach: [String] = []
        @Option(help: ArgumentHelp("An already computed SHA-256 to reference (repeatable).", valueName: "hex"))
        var sha256: [String] = []

        func validate() throws {
            try RecordWriter.validate(id: id, base: base)
            if from != nil, !fieldFlagsGiven.isEmpty {
                throw ValidationError(
                    "Give the record with --from or with field flags, not both (\(fieldFlagsGiven.joined(separator: ", ")))."
                )
            }
        }

        /// The field flags given, for the --from check.
        private var fieldFlagsGiven: [String] {
            let given: [(String, Bool)] = [
                ("--report-kind", reportKind != nil), ("--event-date", eventDate != nil),
                ("--event-type", eventType != nil),
                ("--actor1", actor1 != nil), ("--country", country != nil), ("--admin1", admin1 != nil),
                ("--mode", mode != nil),
                ("--notes", notes != nil), ("--fatalities", fatalities != nil), ("--attach", !attach.isEmpty),
            ]
            return given.filter(\.1).map(\.0)
        }

        func run() async throws {
            let body: Data
            // Attached files are stored before the record that names them is written.
            let store = attach.isEmpty ? nil : try options.open()
            if let from {
                body = try BodyInput(body: nil, file: from).read()
            } else {
                var fields = try flagFields(store: store)
                if !noPrompt, isatty(STDIN_FILENO) == 1 { ObservationPrompt.complete(&fields) }
                body = JSONValue.object(fields).canonicalData
            }
            try RecordWriter.write(.observation, body: body, id: id, base: base, options: options, store: store)
        }

        /// The record built from the flags; rules are checked later, all at once.
        private func flagFields(store: ReplicaStore?) throws -> [String: JSONValue] {
            var fields: [String: JSONValue] = ["schema_version": .number(Double(RecordCatalog.currentSchemaVersion))]
            func set(_ key: String, _ value: String?) { if let value { fields[key] = .string(value) } }
            func set(_ key: String, _ value: Double?) { if let value { fields[key] = .number(value) } }
            set("report_kind", reportKind)
            set("event_date", eventDate)
            set("time_precision", timePrecision.map(Double.init))
            set("event_type", eventType)
            set("sub_event_type", subEventType)
            fields["actor1"] = actor(actor1, inter1, assocActor1)
            fields["actor2"] = actor(actor2, inter2, assocActor2)
            if fatalities != nil || fatalitiesText != nil || fatalitiesDisputed {
                var toll: [String: JSONValue] = ["disputed": .bool(fatalitiesDisputed)]
                if let fatalities { toll["count"] = .number(Double(fatalities)) }
                if let fatalitiesText { toll["text"] = .string(fatalitiesText) }
                fields["fatalities"] = .object(toll)
            }
            var location: [String: JSONValue] = [:]
            let places: [(String, String?)] = [
                ("country", country), ("admin1", admin1), ("admin1_name", admin1Name), ("admin2", admin2),
                ("admin3", admin3), ("place", place),
            ]
            for (key, value) in places { if let value { location[key] = .string(value) } }
            let numbers: [(String, Double?)] = [
                ("latitude", lat), ("longitude", lon), ("accuracy_m", accuracy), ("altitude_m", altitude),
                ("geo_precision", geoPrecision.map(Double.init)),
            ]
            for (key, value) in numbers { if let value { location[key] = .number(value) } }
            if !location.isEmpty { fields["location"] = .object(location) }
            set("thematic_sector", sector)
            if !riskFactor.isEmpty { fields["risk_factors"] = .array(riskFactor.map { .number(Double($0)) }) }
            if !indicator.isEmpty { fields["indicators"] = .array(indicator.map(JSONValue.string)) }
            set("crime_category_hint", crimeHint)
            if hateSpeech { fields["hate_speech_observed"] = .bool(true) }
            set("observation_mode", mode)
            set("source_scale", sourceScale)
            if anonymousInformant || informantConsent || informantRefFile != nil {
                var protection: [String: JSONValue] = [
                    "informant_anonymous": .bool(anonymousInformant), "informant_consent": .bool(informantConsent),
                ]
                if let informantRefFile {
                    protection["informant_ref"] = .string(try Self.firstLine(of: informantRefFile))
                }
                fields["source_protection"] = .object(protection)
            }
            set("notes", notes)
            var attachments = try store.map { store in try attach.map { try AttachFiles.store($0, in: store) } } ?? []
            attachments += sha256.map { .object(["sha256": .string($0.lowercased())]) }
            if !attachments.isEmpty { fields["attachments"] = .array(attachments) }
            return fields
        }

        private func actor(_ name: String?, _ inter: Int?, _ associated: [String]) -> JSONValue? {
            guard name != nil || inter != nil || !associated.isEmpty else { return nil }
            var actor: [String: JSONValue] = [:]
            if let name { actor["name"] = .string(name) }
            if let inter { actor["inter"] = .number(Double(inter)) }
            if !associated.isEmpty { actor["associated"] = .array(associated.map(JSONValue.string)) }
            return .object(actor)
        }

        private static func firstLine(of path: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw InvalidInput(
                    "Cannot read the informant reference file \(path); check the path and its permissions.")
            }
            let line =
                String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            return line.trimmingCharacters(in: .whitespaces)
        }
    }
}

/// Asks on the terminal for the required fields of an observation that the flags left out,
/// showing the allowed values; answers go on stderr so stdout keeps only the id.
enum ObservationPrompt {
    static func complete(_ fields: inout [String: JSONValue]) {
        func ask<Term: RecordVocabulary>(
            _ question: String, _ type: Term.Type, among terms: [Term]? = nil,
            optional: Bool = false
        ) -> JSONValue? {
            let terms = terms ?? Array(Term.allCases)
            say(question + (optional ? " (Enter to skip)" : ""))
            for (index, term) in terms.enumerated() {
                let raw = "\(term.rawValue)"
                say("  \(index + 1). \(raw)\(term.label == raw ? "" : " — \(term.label)")")
            }
            while let answer = read() {
                if answer.isEmpty, optional { return nil }
                // `number - 1` would trap on Int.min typed at the prompt.
                if let number = Int(answer), number >= 1, number <= terms.count { return terms[number - 1].jsonValue }
                if let match = terms.first(where: { "\($0.rawValue)".lowercased() == answer.lowercased() }) {
                    return match.jsonValue
                }
                say("Give a number from 1 to \(terms.count), or one of the values above.")
            }
            return nil
        }
        func text(_ question: String, optional: Bool = false, check: (String) -> Bool = { _ in true }) -> String? {
            say(question + (optional ? " (Enter to skip)" : ""))
            while let answer = read() {
                if answer.isEmpty, optional { return nil }
                if !answer.isEmpty, check(answer) { return answer }
                say("That is not allowed here; try again.")
            }
            return nil
        }

        if fields["report_kind"] == nil {
            fields["report_kind"] = ask("What kind of report is this?", ReportKind.self)
        }
        if fields["event_date"] == nil {
            fields["event_date"] = text("When did it happen? YYYY-MM-DD", check: { CalendarDate($0) != nil }).map(
                JSONValue.string)
        }
        if fields["event_type"] == nil {
            fields["event_type"] = ask("What happened? (ACLED event type)", EventType.self)
            if fields["sub_event_type"] == nil, let type = fields["event_type"].flatMap(EventType.term) {
                fields["sub_event_type"] = ask(
                    "More precisely? (ACLED sub-event type)", SubEventType.self, among: type.subEventTypes,
                    optional: true)
            }
        }
        var actor = fields["actor1"]?.objectValue ?? [:]
        if actor["name"] == nil { actor["name"] = text("Who acted? (the first actor's name)").map(JSONValue.string) }
        if actor["inter"] == nil { actor["inter"] = ask("What type of actor is it? (ACLED code)", ActorType.self) }
        fields["actor1"] = .object(actor)
        var location = fields["location"]?.objectValue ?? [:]
        if location["country"] == nil {
            location["country"] = text(
                "Country? (ISO 3166-1 code such as SD)", check: { Region($0)?.admin1 == nil && Region($0) != nil }
            )
            .map(JSONValue.string)
        }
        if location["admin1"] == nil {
            let country = location["country"]?.stringValue ?? "XX"
            location["admin1"] = text(
                "Region? (ISO 3166-2 code such as \(country)-DN)",
                check: { Region($0)?.country == country && Region($0)?.admin1 != nil }
            )
            .map(JSONValue.string)
        }
        fields["location"] = .object(location)
        if fields["observation_mode"] == nil {
            fields["observation_mode"] = ask("How was it observed?", ObservationMode.self)
        }
        if fields["fatalities"] == nil,
            let count = text("How many deaths? (a number)", optional: true, check: { Int($0).map { $0 >= 0 } ?? false })
        {
            fields["fatalities"] = .object(["count": .number(Double(count) ?? 0), "disputed": .bool(false)])
        }
        if fields["notes"] == nil, let notes = text("Notes? (one line)", optional: true) {
            fields["notes"] = .string(notes)
        }
    }

    private static func say(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    private static func read() -> String? {
        FileHandle.standardError.write(Data("> ".utf8))
        return readLine()?.trimmingCharacters(in: .whitespaces)
    }
}
