import Foundation

/// Everything one run of the benchmark measured, with what is needed to compare runs.
struct BenchmarkReport: Codable, Sendable {
    /// Where and with what the figures were measured.
    struct Machine: Codable, Sendable {
        var cores: Int
        var memoryBytes: UInt64
        var system: String
        /// The SQLite library Vigil links (through GRDB).
        var sqliteLibrary: String
        /// The `sqlite3` command-line tool used as a reference.
        var sqliteTool: String?
    }

    /// Bumped when the JSON layout changes incompatibly.
    var formatVersion = 1
    /// ISO 8601, UTC.
    var date: String
    var machine: Machine
    var parameters: [String: String]
    var figures: [Figure]

    /// The figures as a fixed-width table for people.
    var table: String {
        var lines: [String] = []
        lines.append("Vigil benchmark, \(date), \(machine.cores) cores, \(machine.system)")
        lines.append("")
        let header = [
            "figure", "unit", "measured (median)", "p90", "reference (median)", "p90", "ratio", "target", "met",
        ]
        var rows: [[String]] = [header]
        for figure in figures {
            rows.append([
                figure.id, figure.unit, Self.format(figure.measured.median), figure.measured.p90.map(Self.format) ?? "-",
                Self.format(figure.reference.median), figure.reference.p90.map(Self.format) ?? "-",
                String(format: "%.2fx", figure.ratio),
                figure.targetRatio.map { String(format: "<= %.2fx", $0) } ?? "-",
                figure.met.map { $0 ? "yes" : "NO" } ?? "-",
            ])
        }
        let widths = header.indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        for (index, row) in rows.enumerated() {
            let cells = row.enumerated().map { column, cell in
                column == 0 ? cell.padding(toLength: widths[column], withPad: " ", startingAt: 0)
                    : String(repeating: " ", count: widths[column] - cell.count) + cell
            }
            lines.append(cells.joined(separator: "  "))
            if index == 0 { lines.append(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")) }
        }
        for figure in figures {
            lines.append("")
            lines.append("\(figure.id): \(figure.title)")
            lines.append("  measured:  \(figure.measured.name)")
            lines.append("  reference: \(figure.reference.name)")
            for note in figure.notes { lines.append("  - \(note)") }
        }
        return lines.joined(separator: "\n")
    }

    /// The JSON form, keys sorted so that runs diff cleanly.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try encoder.encode(self)
    }

    /// Three significant digits, without exponent for the magnitudes benchmarks produce.
    static func format(_ value: Double) -> String {
        switch abs(value) {
        case 1000...: String(format: "%.0f", value)
        case 100..<1000: String(format: "%.1f", value)
        case 10..<100: String(format: "%.2f", value)
        default: String(format: "%.3f", value)
        }
    }
}
