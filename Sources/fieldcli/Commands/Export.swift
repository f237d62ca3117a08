import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli export observations`: CSV for spreadsheets, GeoJSON for QGIS.
    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "export",
            abstract: "Export observations as CSV (spreadsheets) or GeoJSON (QGIS and other GIS tools).",
            discussion: """
                Columns follow ACLED's names (event_date, event_type, sub_event_type, actor1, \
                inter1, interaction, fatalities, admin1, latitude, longitude, geo_precision, notes…). \
                CSV follows RFC 4180 (UTF-8, CRLF, a header line); free text that a spreadsheet would \
                run as a formula starts with an apostrophe. GeoJSON is one FeatureCollection of \
                Points [longitude, latitude]; observations without coordinates have a null geometry. \
                The same filters as `fieldcli observations` apply. The sealed informant reference \
                is never exported. A file written with --out is readable by its owner only (0600).

                Examples:
                  fieldcli export observations --format csv --out march.csv --from 2026-03-01 --to 2026-03-31
                  fieldcli export observations --format geojson --region SD-DN --out north-darfur.geojson
                """)

        enum Format: String, ExpressibleByArgument, CaseIterable {
            case csv, geojson
        }

        @OptionGroup var options: ReplicaOptions

        @Argument(help: "What to export: observations.")
        var collection: String

        @Option(help: "csv or geojson.")
        var format: Format

        @Option(help: ArgumentHelp("Write to this file instead of stdout.", valueName: "path"))
        var out: String?

        @OptionGroup var filter: ObservationFilter

        func run() async throws {
            guard collection == RecordKind.observation.collection.rawValue else {
                throw InvalidInput(
                    "'\(collection.prefix(40))' cannot be exported; only observations can, as CSV or GeoJSON.")
            }
            let (rows, _) = try filter.rows(options.open())
            let entries = rows.map { ObservationExport.Entry(id: $0.0.id, observation: $0.1) }
            let data = format == .csv ? ObservationExport.csv(entries) : ObservationExport.geoJSON(entries)
            guard let out else {
                FileHandle.standardOutput.write(data)
                return
            }
            do {
                // Reports leave the replica here: the file is private (0600) from its first byte.
                try PrivateFile.write(data, to: out)
            } catch {
                throw StoreError(
                    .readOnly, "Cannot write the export to \(out); check that its folder exists and is writable.")
            }
            if options.json {
                try JSONOutput.print(["file": out, "format": format.rawValue, "observations": entries.count])
            } else {
                print("Exported \(entries.count) observation\(entries.count == 1 ? "" : "s") to \(out).")
            }
        }
    }
}
