import ArgumentParser
import Foundation
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli warnings`: the alerts on this replica and who acknowledged them.
    struct Warnings: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "warnings",
            abstract: "List warnings with their urgency, severity and acknowledgements, filtered by region or status.",
            discussion: """
                ACKED counts the recipients that acknowledged the warning, RESPONDED those that \
                reported a response, out of all recipients.

                Examples:
                  fieldcli warnings
                  fieldcli warnings --region SD-DN --status issued
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(help: ArgumentHelp("Only this region: a country (SD) or a subdivision (SD-DN).", valueName: "region"))
        var region: String?

        @Option(
            help: ArgumentHelp(
                "Only this status: draft, issued, acknowledged, responded or closed.", valueName: "status"))
        var status: String?

        func run() async throws {
            let region = try region.map(RecordArguments.region)
            let status = try status.map { try RecordArguments.term($0, WarningStatus.self, flag: "--status") }
            var skipped = 0
            var rows: [(RecordLoader.Row, EarlyWarning)] = []
            for row in try RecordLoader(store: options.open()).rows(.warning, region: region) {
                guard case .warning(let warning)? = row.record else {
                    skipped += 1
                    continue
                }
                if let status, warning.status != status { continue }
                rows.append((row, warning))
            }
            rows.sort { ($0.1.issuedAt ?? "", $0.0.id) > ($1.1.issuedAt ?? "", $1.0.id) }
            if options.json {
                try JSONOutput.print([
                    "warnings": rows.map { row, warning -> [String: Any] in
                        [
                            "id": row.id, "partition": row.document.partition.rawValue, "state": row.state,
                            "title": warning.title, "area": warning.area.description, "status": warning.status.rawValue,
                            "urgency": warning.urgency.rawValue, "severity": warning.severity.rawValue,
                            "issuedAt": warning.issuedAt.map { $0 as Any } ?? NSNull(),
                            "recipients": warning.recipients.map { recipient -> [String: Any] in
                                [
                                    "participant": recipient.participant,
                                    "acknowledged": recipient.acknowledgedAt != nil,
                                    "responded": recipient.response != nil,
                                ]
                            },
                        ]
                    },
                    "notShown": skipped,
                ])
                return
            }
            if rows.isEmpty { print("No warnings match.") }
            var table = TextTable(header: [
                "ID", "ISSUED", "AREA", "STATUS", "URGENCY", "SEVERITY", "ACKED", "RESPONDED", "STATE", "TITLE",
            ])
            for (row, warning) in rows {
                let total = warning.recipients.count
                table.rows.append([
                    row.id, warning.issuedAt ?? "-", warning.area.description, warning.status.rawValue,
                    warning.urgency.rawValue, warning.severity.rawValue,
                    "\(warning.recipients.filter { $0.acknowledgedAt != nil }.count)/\(total)",
                    "\(warning.recipients.filter { $0.response != nil }.count)/\(total)", row.state, warning.title,
                ])
            }
            if !rows.isEmpty { print(table.rendered) }
            if let note = RecordLoader.skippedNote(skipped, .warning) { print(Console.dim(note)) }
        }
    }
}
