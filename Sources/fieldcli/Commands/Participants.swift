import ArgumentParser
import Foundation
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli participants`: the network's member organisations and their focal points.
    struct Participants: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "participants",
            abstract: "List the network's participants (member organisations) and their focal points.",
            discussion: """
                Examples:
                  fieldcli participants
                  fieldcli participants --country SD --json
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(
            help: ArgumentHelp(
                "Only participants operating in this country (ISO 3166-1, such as SD).", valueName: "code"))
        var country: String?

        func run() async throws {
            let country = try country.map(RecordArguments.region).map(\.country)
            var skipped = 0
            var rows: [(RecordLoader.Row, Participant)] = []
            for row in try RecordLoader(store: options.open()).rows(.participant, region: nil) {
                guard case .participant(let participant)? = row.record else {
                    skipped += 1
                    continue
                }
                if let country, !participant.countries.contains(country) { continue }
                rows.append((row, participant))
            }
            rows.sort { ($0.1.name, $0.0.id) < ($1.1.name, $1.0.id) }
            if options.json {
                try JSONOutput.print([
                    "participants": rows.map { row, participant -> [String: Any] in
                        [
                            "id": row.id, "state": row.state, "name": participant.name,
                            "shortName": participant.shortName.map { $0 as Any } ?? NSNull(),
                            "kind": participant.kind.rawValue, "status": participant.status.rawValue,
                            "countries": participant.countries,
                            "focalPoints": participant.focalPoints.map { point -> [String: Any] in
                                [
                                    "name": point.name, "roles": point.roles.map(\.rawValue),
                                    "regions": point.regions.map(\.description),
                                    "contacts": point.contacts.map {
                                        ["channel": $0.channel.rawValue, "value": $0.value]
                                    },
                                ]
                            },
                        ]
                    },
                    "notShown": skipped,
                ])
                return
            }
            if rows.isEmpty { print("No participants match.") }
            var table = TextTable(header: ["ID", "SHORT", "KIND", "STATUS", "COUNTRIES", "FOCAL POINTS", "NAME"])
            for (row, participant) in rows {
                table.rows.append([
                    row.id, participant.shortName ?? "", participant.kind.rawValue, participant.status.rawValue,
                    participant.countries.joined(separator: " "),
                    participant.focalPoints.map(\.name).joined(separator: ", "),
                    participant.name,
                ])
            }
            if !rows.isEmpty { print(table.rendered) }
            if let note = RecordLoader.skippedNote(skipped, .participant) { print(Console.dim(note)) }
        }
    }
}
