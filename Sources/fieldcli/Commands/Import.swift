import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli import COLLECTION FILE`: many records at once, each checked like `put`/`record`.
    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import",
            abstract: "Import records from a JSON lines or CSV file, each checked like `fieldcli put` and `record`.",
            discussion: """
                The format comes from the file's extension (.jsonl, .ndjson or .json for JSON lines, \
                .csv) or from --format; FILE may be - for stdin (then give --format). Every record is \
                checked first, against its collection's rules for the network's records \
                (observations, situations, warnings, participants; see Docs/DataModel.md) or as one \
                JSON object for other collections. Each bad line is named on stderr with its line \
                number, field and reason; then nothing is written (exit code 82), unless \
                --skip-invalid writes the good ones and counts the others (exit code 83). Records are \
                written 5,000 to a transaction; progress goes to stderr when it is a terminal.

                JSON lines: one object per line. CSV: the header row names the fields, a dotted \
                name (location.admin1) fills a nested object, and an empty cell leaves its field \
                out. A cell is true or false, a number (3, -1.5; not 007) or a JSON array or object \
                when it reads as one, else text; a type after the name forces it: notes:string, \
                fatalities.count:number, hate_speech_observed:boolean, risk_factors:json. A field \
                (column) named id gives the document's id; without it a new id is made. An id names \
                a new document, or a new version of one this replica holds (like `put` without \
                --base); two lines may not name the same id. Files up to 256 MiB and 1,000,000 \
                records, lines up to 1 MiB.

                Examples:
                  fieldcli import observations march.jsonl
                  fieldcli import observations reports.csv --skip-invalid
                  cat notes.jsonl | fieldcli import notes - --format jsonl --partition north
                """)

        @OptionGroup var options: ReplicaOptions

        @Argument(help: "The collection, such as `observations`.")
        var collection: String

        @Argument(help: ArgumentHelp("The file to import; - reads stdin.", valueName: "file"))
        var file: String

        @Option(help: "jsonl or csv (default: from the file's extension).")
        var format: ImportFormatArgument?

        @Flag(help: "Write the valid records and skip the invalid ones (each still named on stderr).")
        var skipInvalid = false

        @Option(help: "For a collection of free JSON: the partition of new documents (default `default`).")
        var partition: String?

        @Option(help: ArgumentHelp("Records written per transaction (1 to 10000).", visibility: .hidden))
        var batchSize = 5_000

        /// The largest file imported.
        static let maximumFileSize = 256 << 20
        /// The most bad lines named one by one; the rest are counted.
        static let issuesShown = 1_000

        func validate() throws {
            if format == nil, file == "-" { throw ValidationError("Reading stdin, give the format with --format jsonl or --format csv.") }
            if format == nil, ImportFormat(fileName: file) == nil {
                throw ValidationError("Cannot tell the format of \(file) from its extension; give --format jsonl or --format csv.")
            }
            if !(1...ReplicaStore.maximumImportBatch).contains(batchSize) {
                throw ValidationError("--batch-size must be from 1 to \(ReplicaStore.maximumImportBatch).")
            }
        }

        func run() async throws {
            let collection = try Arguments.collection(collection)
            let partition = try partition.map(Arguments.partition)
            if partition != nil, RecordKind(collection: collection) != nil {
                throw InvalidInput("\(collection) records are filed under the region they name; leave --partition out.")
            }
            let data = try Self.read(file)
            let store = try options.open()
            let meter = isatty(STDERR_FILENO) == 1 && !options.json ? ImportMeter() : nil
            let sealing = try InformantReferenceSealing.mode(store, noting: false)
            let outcome: ImportOutcome
            do {
                outcome = try store.importRecords(
                    data, format: format?.format ?? ImportFormat(fileName: file) ?? .jsonl, into: collection,
                    partition: partition, skipInvalid: skipInvalid, batchSize: batchSize, sealing: sealing,
                    progress: meter.map { meter in { meter.show(written: $0, of: $1) } })
            } catch let interrupted as ImportInterrupted {
                meter?.finish()
                Console.diagnose(
                    "Imported \(interrupted.written) of \(interrupted.records) records into \(collection) before the replica failed; they stay written, and importing the file again writes again those without an \"id\".")
                throw interrupted.cause
            }
            meter?.finish()
            if case .refuse = sealing, outcome.issues.contains(where: { $0.field == ImportIssue.informantReference }) {
                // A line was refused for the want of the key: the next sync asks for it at once.
                try? store.clearInformantKeyChecks()
            }
            try report(outcome, collection: collection)
        }

        private func report(_ outcome: ImportOutcome, collection: CollectionName) throws {
            for issue in outcome.issues.prefix(Self.issuesShown) { Console.diagnose(issue.description) }
            if outcome.issues.count > Self.issuesShown {
                Console.diagnose("… and \(outcome.issues.count - Self.issuesShown) more invalid lines.")
            }
            if options.json {
                try JSONOutput.print([
                    "collection": collection.rawValue, "records": outcome.records, "imported": outcome.written,
                    "invalid": outcome.issues.count,
                    "issues": outcome.issues.prefix(Self.issuesShown).map { ["line": $0.line, "field": $0.field, "reason": $0.reason] },
                ])
            }
            let bad = outcome.issues.count
            let lines = "\(bad) invalid line\(bad == 1 ? "" : "s")"
            guard bad > 0 else {
                if !options.json { print("Imported \(outcome.written) record\(outcome.written == 1 ? "" : "s") into \(collection).") }
                return
            }
            if skipInvalid {
                Console.diagnose("Imported \(outcome.written) of \(outcome.records) records into \(collection); skipped \(lines).")
                throw ExitCode.importSkipped
            }
            if outcome.written == 0 {
                Console.diagnose("Nothing was imported: \(lines) among \(outcome.records) records; fix them, or pass --skip-invalid to import the others.")
            } else {
                Console.diagnose(
                    "Imported \(outcome.written) of \(outcome.records) records into \(collection): another process changed documents the file names while it was written; the \(lines) were not.")
            }
            throw ExitCode.importRefused
        }

        /// The file's bytes, refused above ``maximumFileSize``.
        private static func read(_ path: String) throws -> Data {
            let source = path == "-" ? "standard input" : path
            let handle = path == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: path)
            guard let handle else { throw InvalidInput("Cannot read \(path); check the path and its permissions.") }
            defer { if path != "-" { try? handle.close() } }
            let data: Data
            do {
                data = try handle.read(upToCount: maximumFileSize + 1) ?? Data()
            } catch {
                throw InvalidInput("Cannot read \(source); check that it is a readable file.")
            }
            guard data.count <= maximumFileSize else {
                throw InvalidInput("\(source) is larger than \(maximumFileSize >> 20) MiB, the most one import reads; split it.")
            }
            return data
        }
    }
}

/// `--format jsonl|csv`.
struct ImportFormatArgument: ExpressibleByArgument {
    var format: ImportFormat

    init?(argument: String) {
        guard let format = ImportFormat(rawValue: argument.lowercased()) else { return nil }
        self.format = format
    }

    static var allValueStrings: [String] { ImportFormat.allCases.map(\.rawValue) }
}

/// Progress on stderr, one line rewritten after each batch.
final class ImportMeter: Sendable {
    func show(written: Int, of total: Int) {
        FileHandle.standardError.write(Data("\rimport: \(written) of \(total) records written\u{1B}[K".utf8))
    }

    func finish() {
        FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
    }
}
