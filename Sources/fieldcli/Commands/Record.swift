import ArgumentParser
import Foundation
import ReplicaStore
import SyncEngine
import Records

extension FieldCLI {
    /// `fieldcli record <kind>`: write a checked record of the network.
    struct Record: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "record",
            abstract: "Write a record of the network: an observation, situation, warning or participant.",
            discussion: """
                Records are checked against their kind's rules before they are written (see \
                Docs/DataModel.md); a record that breaks a rule is refused with exit code 65 and \
                every broken field named. The record's region becomes its partition.

                Examples:
                  fieldcli record observation --report-kind incident --event-date 2026-03-01 \\
                    --event-type "Violence against civilians" --actor1 "Unidentified armed group" --inter1 3 \\
                    --country SD --admin1 SD-DN --mode witness_account
                  fieldcli record observation --from report.json
                  fieldcli record situation --from situation.json
                  fieldcli record warning --id 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c --from warning-acknowledged.json
                  id=0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  base=$(fieldcli get warnings "$id" --json | jq -c .context)
                  fieldcli record warning --id "$id" --from acknowledged.json --base "$base"

                With --id and --base (the `context` `fieldcli get --json` printed when you read the \
                record), a version written since you read it stays beside yours as a conflict \
                instead of being overwritten; without --base, the new version supersedes everything \
                this replica holds of the record.
                """,
            subcommands: [RecordObservation.self, RecordSituation.self, RecordWarning.self, RecordParticipant.self])
    }
}

extension FieldCLI.Record {
    struct RecordSituation: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "situation",
            abstract: "Write a situation (a risk assessment of an area and period) from a JSON file.")

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var input: RecordFileInput

        func run() async throws { try input.write(.situation, options: options) }
    }

    struct RecordWarning: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "warning",
            abstract:
                "Write a warning (an alert to the network, with its recipients' acknowledgements) from a JSON file.")

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var input: RecordFileInput

        func run() async throws { try input.write(.warning, options: options) }
    }

    struct RecordParticipant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "participant",
            abstract: "Write a participant (a member organisation and its focal points) from a JSON file.")

        @OptionGroup var options: ReplicaOptions
        @OptionGroup var input: RecordFileInput

        func run() async throws { try input.write(.participant, options: options) }
    }
}

/// `--from FILE` and `--id ID`: a whole record from a JSON file, as a new record or a new version.
struct RecordFileInput: ParsableArguments {
    @Option(help: ArgumentHelp("A file holding the record as one JSON object; - reads stdin.", valueName: "path"))
    var from: String

    @Option(help: ArgumentHelp("Write a new version of this record instead of a new record.", valueName: "id"))
    var id: String?

    @OptionGroup var base: BaseOption

    func validate() throws { try RecordWriter.validate(id: id, base: base) }

    func write(_ kind: RecordKind, options: ReplicaOptions) throws {
        let body = try BodyInput(body: nil, file: from).read()
        try RecordWriter.write(kind, body: body, id: id, base: base, options: options)
    }
}

/// Checks a record and writes it to the replica in its region's partition.
enum RecordWriter {
    /// A base belongs to a new version of an existing record: it needs `--id`.
    static func validate(id: String?, base: BaseOption) throws {
        if base.base != nil, id == nil { throw ValidationError("--base writes a new version of a record: give its --id.") }
    }

    static func write(
        _ kind: RecordKind, body: Data, id: String?, base: BaseOption, options: ReplicaOptions, store: ReplicaStore? = nil
    ) throws {
        let check = try RecordCatalog.validate(collection: kind.collection, body: body)
        let key = DocumentKey(
            collection: kind.collection, id: try id.map(Arguments.documentID) ?? DocumentID.generate())
        let base = try base.vector()
        let store = try store ?? options.open()
        // Checked in clear above (length, consent); stored and signed sealed.
        let body = try InformantReferenceSealing.sealed(body, key: key, store: store)
        let version: Version
        do {
            version = try store.write(WriteIntent(key: key, partition: check.partition, body: body, base: base))
        } catch {
            throw BaseOption.advising(error, key: key)
        }
        let conflict = try BaseWriteNote.conflictAfterWrite(version, base: base, store: store, quiet: options.json)
        if options.json {
            try JSONOutput.print([
                "id": key.id.rawValue, "collection": key.collection.rawValue,
                "partition": version.partition.rawValue, "dot": version.dot.description, "conflict": conflict,
            ])
        } else {
            print(key.id)
        }
    }
}

/// The records of one kind a replica holds, read for listings and exports.
struct RecordLoader {
    /// One document and its record (from its newest live sibling); nil record when that body
    /// breaks its kind's rules (written before records were checked, or by a newer schema).
    struct Row {
        var document: StoredDocument
        var record: TypedRecord?
        var id: String { document.key.id.rawValue }
        var state: String {
            document.isConflicted ? "conflict(\(document.siblings.count))" : "ok"
        }
    }

    var store: ReplicaStore

    /// Every live document of `kind`, optionally only in `region` (a country includes its subdivisions).
    func rows(_ kind: RecordKind, region: Region?) throws -> [Row] {
        var rows: [Row] = []
        var cursor: String?
        // An exact region is an exact partition; a country is filtered after reading.
        let partition = region?.admin1 != nil ? region?.partition : nil
        repeat {
            let page = try store.documents(in: kind.collection, partition: partition, limit: 1000, after: cursor)
            for document in page.documents {
                let live = document.siblings.filter { !$0.isTombstone }.max { $0.timestamp < $1.timestamp }
                guard let body = live?.body else { continue }
                let record = try? RecordCatalog.read(kind, body: body)
                if let region, let record, let recordRegion = Region(record.partition.rawValue),
                    !region.contains(recordRegion)
                {
                    continue
                }
                rows.append(Row(document: document, record: record))
            }
            cursor = page.nextCursor
        } while cursor != nil
        return rows
    }

    /// The note printed under a listing when some documents could not be read as records.
    static func skippedNote(_ count: Int, _ kind: RecordKind) -> String? {
        guard count > 0 else { return nil }
        return
            "\(count) document\(count == 1 ? "" : "s") in \(kind.collection) \(count == 1 ? "is" : "are") not a valid \(kind) and \(count == 1 ? "is" : "are") not shown; `fieldcli get \(kind.collection) ID` shows \(count == 1 ? "it" : "them")."
    }
}

/// A plain text table with a header, columns padded to their widest cell, the last column cut
/// to the terminal width.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    var rendered: String {
        let rows = rows.map { row in
            row.enumerated().map { index, cell in index == row.count - 1 ? cell : Rendering.truncated(cell, to: 40) }
        }
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        let fixed = widths.dropLast().reduce(0) { $0 + $1 + 2 }
        let last = max(24, Console.columns - fixed)
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1
                    ? Rendering.truncated(cell, to: last) : Rendering.padded(cell, to: widths[index])
            }.joined(separator: "  ")
        }
        return ([line(header)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Filters and values of the record commands, checked in `run()` so that bad input exits with 65.
enum RecordArguments {
    static func region(_ text: String) throws -> Region {
        guard let region = Region(text) else {
            throw InvalidInput(
                "'\(text.prefix(40))' is not a region: use an ISO 3166-1 country code such as SD, or a subdivision such as SD-DN."
            )
        }
        return region
    }

    static func date(_ text: String, flag: String) throws -> CalendarDate {
        guard let date = CalendarDate(text) else {
            throw InvalidInput(
                "'\(text.prefix(40))' given to \(flag) is not a date; use YYYY-MM-DD, such as 2026-03-01.")
        }
        return date
    }

    static func term<Term: RecordVocabulary>(_ text: String, _ type: Term.Type, flag: String) throws -> Term
    where Term.RawValue == String {
        let match =
            Term.allCases.first { $0.rawValue == text }
            ?? Term.allCases.first { $0.rawValue.lowercased() == text.lowercased() }
        guard let match else {
            throw InvalidInput("'\(text.prefix(40))' given to \(flag) is not allowed; use \(Term.allowedText).")
        }
        return match
    }
}
