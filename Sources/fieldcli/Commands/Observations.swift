import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli observations`: the incident reports on this replica as a readable table.
    struct Observations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "observations",
            abstract: "List observations (incident reports), filtered by region, date, event type or severity.",
            discussion: """
                Newest event first. SEVERITY is derived from the record: critical for 10 or more \
                deaths; high for any death, violence against civilians or a warning signal; medium \
                for battles, explosions, riots, force against protesters or hate speech; low \
                otherwise. --severity keeps that level and above. The sealed informant reference is \
                never shown.

                Examples:
                  fieldcli observations
                  fieldcli observations --region SD-DN --from 2026-03-01 --to 2026-03-31
                  fieldcli observations --region SD --event-type "Violence against civilians" --severity high
                  fieldcli observations --json
                """)

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var filter: ObservationFilter

        func run() async throws {
            let (rows, skipped) = try filter.rows(options.open())
            if options.json {
                try JSONOutput.print([
                    "observations": rows.map { row, observation -> [String: Any] in
                        var fields = ObservationFilter.jsonFields(row, observation)
                        fields["state"] = row.state
                        return fields
                    },
                    "notShown": skipped,
                ])
                return
            }
            if rows.isEmpty { print("No observations match.") }
            var table = TextTable(header: [
                "ID", "DATE", "REGION", "KIND", "EVENT", "DEATHS", "SEVERITY", "STATE", "PLACE",
            ])
            for (row, observation) in rows {
                let deaths = observation.fatalities.map { "\($0.count)\($0.disputed ? "?" : "")" } ?? "-"
                let event =
                    observation.subEventType.map { "\(observation.eventType.rawValue): \($0.rawValue)" }
                    ?? observation.eventType.rawValue
                table.rows.append([
                    row.id, observation.eventDate.description, observation.region.description,
                    observation.reportKind.rawValue, event, deaths, observation.severity.rawValue, row.state,
                    observation.location.place ?? observation.location.admin2 ?? "",
                ])
            }
            if !rows.isEmpty { print(table.rendered) }
            if let note = RecordLoader.skippedNote(skipped, .observation) { print(Console.dim(note)) }
        }
    }
}

/// The filters of `observations` and `export observations`.
struct ObservationFilter: ParsableArguments {
    @Option(help: ArgumentHelp("Only this region: a country (SD) or a subdivision (SD-DN).", valueName: "region"))
    var region: String?

    @Option(name: .customLong("from"), help: ArgumentHelp("Only events on or after this day.", valueName: "YYYY-MM-DD"))
    var fromDate: String?

    @Option(name: .customLong("to"), help: ArgumentHelp("Only events on or before this day.", valueName: "YYYY-MM-DD"))
    var toDate: String?

    @Option(help: ArgumentHelp("Only this ACLED event type, such as Battles.", valueName: "type"))
    var eventType: String?

    @Option(help: ArgumentHelp("Only this severity and above: low, medium, high or critical.", valueName: "level"))
    var severity: String?

    @Option(
        help: ArgumentHelp(
            "Only this report kind: incident, situation_update, rumour, warning_signal.", valueName: "kind"))
    var reportKind: String?

    /// The observations that pass the filters, newest event first, and how many documents were
    /// not valid observations.
    func rows(_ store: ReplicaStore) throws -> (rows: [(RecordLoader.Row, Observation)], skipped: Int) {
        let region = try region.map(RecordArguments.region)
        let from = try fromDate.map { try RecordArguments.date($0, flag: "--from") }
        let to = try toDate.map { try RecordArguments.date($0, flag: "--to") }
        let eventType = try eventType.map { try RecordArguments.term($0, EventType.self, flag: "--event-type") }
        let severity = try severity.map { try RecordArguments.term($0, Level.self, flag: "--severity") }
        let kind = try reportKind.map { try RecordArguments.term($0, ReportKind.self, flag: "--report-kind") }
        if let from, let to, to < from {
            throw InvalidInput("--to \(to) is before --from \(from); give the earlier day to --from.")
        }
        let all = try RecordLoader(store: store).rows(.observation, region: region)
        var skipped = 0
        var rows: [(RecordLoader.Row, Observation)] = []
        for row in all {
            guard case .observation(let observation)? = row.record else {
                skipped += 1
                continue
            }
            if let from, observation.eventDate < from { continue }
            if let to, to < observation.eventDate { continue }
            if let eventType, observation.eventType != eventType { continue }
            if let severity, observation.severity < severity { continue }
            if let kind, observation.reportKind != kind { continue }
            rows.append((row, observation))
        }
        rows.sort { ($0.1.eventDate, $0.0.id) > ($1.1.eventDate, $1.0.id) }
        return (rows, skipped)
    }

    /// One observation for `--json`: the exported (flattened) fields, never the sealed reference.
    static func jsonFields(_ row: RecordLoader.Row, _ observation: Observation) -> [String: Any] {
        let properties = ObservationExport.properties(ObservationExport.Entry(id: row.id, observation: observation))
        return properties.mapValues(\.foundationValue).merging(["partition": row.document.partition.rawValue]) { $1 }
    }
}

extension JSONValue {
    /// The value as Foundation objects, for `JSONSerialization`.
    var foundationValue: Any {
        switch self {
        case .null: NSNull()
        case .bool(let value): value
        case .number(let value): integerValue.map { $0 as Any } ?? value
        case .string(let value): value
        case .array(let elements): elements.map(\.foundationValue)
        case .object(let fields): fields.mapValues(\.foundationValue)
        }
    }
}
