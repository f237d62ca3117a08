import ArgumentParser
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli situations`: the risk assessments on this replica.
    struct Situations: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "situations",
            abstract: "List situations (risk assessments), filtered by region or overall risk level.",
            discussion: """
                Examples:
                  fieldcli situations
                  fieldcli situations --region SD --risk high
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(help: ArgumentHelp("Only this region: a country (SD) or a subdivision (SD-DN).", valueName: "region"))
        var region: String?

        @Option(
            help: ArgumentHelp(
                "Only this overall risk level and above: low, medium, high or critical.", valueName: "level"))
        var risk: String?

        func run() async throws {
            let region = try region.map(RecordArguments.region)
            let risk = try risk.map { try RecordArguments.term($0, Level.self, flag: "--risk") }
            var skipped = 0
            var rows: [(RecordLoader.Row, Situation)] = []
            for row in try RecordLoader(store: options.open()).rows(.situation, region: region) {
                guard case .situation(let situation)? = row.record else {
                    skipped += 1
                    continue
                }
                if let risk, situation.overallRiskLevel < risk { continue }
                rows.append((row, situation))
            }
            rows.sort { ($0.1.periodEnd, $0.0.id) > ($1.1.periodEnd, $1.0.id) }
            if options.json {
                try JSONOutput.print([
                    "situations": rows.map { row, situation -> [String: Any] in
                        [
                            "id": row.id, "partition": row.document.partition.rawValue, "state": row.state,
                            "title": situation.title, "area": situation.area.description,
                            "periodStart": situation.periodStart.description,
                            "periodEnd": situation.periodEnd.description,
                            "overallRiskLevel": situation.overallRiskLevel.rawValue,
                            "riskFactors": situation.riskFactors.map { factor -> [String: Any] in
                                [
                                    "riskFactor": factor.riskFactor.rawValue, "trend": factor.trend.rawValue,
                                    "confidence": factor.confidence.rawValue, "observationIds": factor.observationIDs,
                                ]
                            },
                        ]
                    },
                    "notShown": skipped,
                ])
                return
            }
            if rows.isEmpty { print("No situations match.") }
            var table = TextTable(header: ["ID", "PERIOD", "AREA", "RISK", "FACTORS", "STATE", "TITLE"])
            for (row, situation) in rows {
                let factors = situation.riskFactors.map { "\($0.riskFactor.rawValue)\(Self.arrow($0.trend))" }
                table.rows.append([
                    row.id, "\(situation.periodStart)..\(situation.periodEnd)", situation.area.description,
                    situation.overallRiskLevel.rawValue, factors.joined(separator: " "), row.state, situation.title,
                ])
            }
            if !rows.isEmpty { print(table.rendered) }
            if let note = RecordLoader.skippedNote(skipped, .situation) { print(Console.dim(note)) }
        }

        private static func arrow(_ trend: Trend) -> String {
            switch trend {
            case .increasing: "↑"
            case .stable: "→"
            case .decreasing: "↓"
            }
        }
    }
}
