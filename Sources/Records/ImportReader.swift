public import Foundation
public import SyncEngine

/// The formats a bulk import reads.
public enum ImportFormat: String, Sendable, Hashable, CaseIterable {
    /// JSON lines: one JSON object per line.
    case jsonl
    /// CSV (RFC 4180): a header row naming the fields, then one record per row.
    case csv

    /// The format a file name implies: `.jsonl`, `.ndjson` or `.json` for JSON lines, `.csv`.
    public init?(fileName: String) {
        switch (fileName as NSString).pathExtension.lowercased() {
        case "jsonl", "ndjson", "json": self = .jsonl
        case "csv": self = .csv
        default: return nil
        }
    }
}

/// What is wrong with one line of an import: its line number (1 for the first line of the file),
/// the field (a dotted path such as `location.admin1`, or `(line)` for the line as a whole), and
/// why. Never carries the text of a free-text field.
public struct ImportIssue: Error, Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var field: String
    public var reason: String

    public init(line: Int, field: String, reason: String) {
        self.line = line
        self.field = field
        self.reason = reason
    }

    /// The field that stands for the line as a whole.
    public static let wholeLine = "(line)"
    /// The field of an issue with a record's informant reference (it could not be sealed).
    public static let informantReference = "source_protection.informant_ref"

    public var description: String { "line \(line): \(field): \(reason)" }
}

/// One record read from an import file: the line it starts on, the document id it names (the
/// `id` field, taken out of the body), and its JSON body.
public struct ImportEntry: Sendable, Hashable {
    public var line: Int
    public var id: String?
    public var body: Data

    public init(line: Int, id: String?, body: Data) {
        self.line = line
        self.id = id
        self.body = body
    }
}

/// Reads the records of an import file one at a time, without I/O: JSON lines or CSV.
///
/// **JSON lines**: each non-blank line is one JSON object, its body exactly as written unless it
/// has an `id` field (a string): then that field names the document and the body is the object
/// without it, written canonically.
///
/// **CSV**: the header row names the fields; a dotted name (`location.admin1`) fills a nested
/// object. An empty cell leaves its field out. Otherwise a cell is typed by its column: a name may
/// end with `:string`, `:number`, `:boolean` or `:json` (an array or object in JSON text), and a
/// cell that is not of that type is an issue. Without a suffix, `true` and `false` are booleans, a
/// JSON number (`3`, `-1.5`, `2e3`; not `007`) is a number, a JSON array or object is itself, and
/// anything else is a string. The `id` column names the document. A cell may be quoted (`"a,b"`,
/// `""` for a quote, line breaks inside); rows end with LF or CRLF; a UTF-8 byte order mark is skipped.
public struct ImportReader: Sendable {
    public let format: ImportFormat
    /// The largest record accepted, in bytes of its line (or CSV row).
    public let maximumLineSize: Int
    private let bytes: [UInt8]
    private var offset: Int
    private var line = 1
    private var columns: [CSVColumn] = []

    /// The field a record's document id is read from.
    public static let idField = "id"

    /// A reader of `data`. Throws ``ImportIssue`` when a CSV header cannot be used (an empty,
    /// repeated or conflicting name, an unknown type suffix).
    public init(_ data: Data, format: ImportFormat, maximumLineSize: Int = JSONBody.defaultMaximumSize) throws {
        self.format = format
        self.maximumLineSize = maximumLineSize
        bytes = [UInt8](data)
        offset = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        if format == .csv {
            guard let header = try nextCSVRow() else {
                throw ImportIssue(line: 1, field: ImportIssue.wholeLine, reason: "the file is empty; a CSV import starts with a header row naming the fields")
            }
            columns = try CSVColumn.header(header.cells, line: header.line)
        }
    }

    /// The next record, or the issue of the next bad line; nil at the end of the file.
    public mutating func next() -> Result<ImportEntry, ImportIssue>? {
        do {
            switch format {
            case .jsonl: return try nextJSONLine().map { .success($0) }
            case .csv:
                guard let row = try nextCSVRow() else { return nil }
                return .success(try CSVColumn.entry(row, columns: columns))
            }
        } catch let issue as ImportIssue {
            return .failure(issue)
        } catch {
            return .failure(ImportIssue(line: line, field: ImportIssue.wholeLine, reason: "cannot be read"))
        }
    }

    // MARK: JSON lines

    private mutating func nextJSONLine() throws -> ImportEntry? {
        while offset < bytes.count {
            let start = offset
            let number = line
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            offset = end + 1
            line += 1
            var last = end
            while last > start, Self.isBlank(bytes[last - 1]) { last -= 1 }
            var first = start
            while first < last, Self.isBlank(bytes[first]) { first += 1 }
            if first == last { continue }
            guard last - first <= maximumLineSize else {
                throw ImportIssue(
                    line: number, field: ImportIssue.wholeLine, reason: "is \(last - first) bytes; the limit is \(maximumLineSize) bytes")
            }
            return try Self.jsonEntry(Data(bytes[first..<last]), namesID: Self.mentionsID(bytes[first..<last]), line: number)
        }
        return nil
    }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D }

    /// Whether `line` holds the text `"id"` anywhere: only such a line may name a document.
    private static func mentionsID(_ line: ArraySlice<UInt8>) -> Bool {
        var index = line.startIndex
        while let quote = line[index...].firstIndex(of: UInt8(ascii: "\"")) {
            if line.endIndex - quote >= 4, line[quote + 1] == UInt8(ascii: "i"), line[quote + 2] == UInt8(ascii: "d"),
                line[quote + 3] == UInt8(ascii: "\"")
            {
                return true
            }
            index = quote + 1
        }
        return false
    }

    /// The entry of one JSON line: the id taken out when the object has one.
    private static func jsonEntry(_ body: Data, namesID: Bool, line: Int) throws -> ImportEntry {
        // Most lines name no id: only those are parsed here (the record check parses every body).
        guard namesID else { return ImportEntry(line: line, id: nil, body: body) }
        guard case .object(var fields) = try? JSONValue(parsing: body) else {
            return ImportEntry(line: line, id: nil, body: body)  // the record check names what is wrong
        }
        guard let value = fields.removeValue(forKey: idField) else { return ImportEntry(line: line, id: nil, body: body) }
        guard case .string(let id) = value else {
            throw ImportIssue(line: line, field: idField, reason: "is not a string; a document id is text such as \"obs-0001\"")
        }
        return ImportEntry(line: line, id: id, body: JSONValue.object(fields).canonicalData)
    }

    // MARK: CSV

    /// One CSV row: the line it starts on and its cells.
    struct CSVRow {
        var line: Int
        var cells: [String]
    }

    private mutating func nextCSVRow() throws -> CSVRow? {
        while offset < bytes.count {
            let start = offset
            let number = line
            var cells: [String] = []
            var cell: [UInt8] = []
            var quoted = false
            var wasQuoted = false
            var ended = false
            while offset < bytes.count, !ended {
                let byte = bytes[offset]
                offset += 1
                if offset - start > maximumLineSize {
                    skipRow()
                    throw ImportIssue(
                        line: number, field: ImportIssue.wholeLine, reason: "is longer than \(maximumLineSize) bytes, the limit")
                }
                if quoted {
                    if byte == 0x22 {
                        if offset < bytes.count, bytes[offset] == 0x22 {
                            cell.append(0x22)
                            offset += 1
                        } else {
                            quoted = false
                        }
                    } else {
                        if byte == 0x0A { line += 1 }
                        cell.append(byte)
                    }
                    continue
                }
                switch byte {
                case 0x22 where cell.isEmpty && !wasQuoted:
                    quoted = true
                    wasQuoted = true
                case 0x2C:
                    cells.append(String(decoding: cell, as: UTF8.self))
                    cell.removeAll(keepingCapacity: true)
                    wasQuoted = false
                case 0x0A:
                    line += 1
                    ended = true
                case 0x0D where offset < bytes.count && bytes[offset] == 0x0A:
                    continue
                default:
                    cell.append(byte)
                }
            }
            if quoted {
                throw ImportIssue(line: number, field: ImportIssue.wholeLine, reason: "a quoted cell is not closed before the end of the file")
            }
            cells.append(String(decoding: cell, as: UTF8.self))
            if cells.count == 1, cells[0].allSatisfy(\.isWhitespace) { continue }  // a blank line
            return CSVRow(line: number, cells: cells)
        }
        return nil
    }

    /// Moves past the rest of an overlong row (to its next line break outside quotes, roughly: a
    /// line break), so the following rows are still read.
    private mutating func skipRow() {
        while offset < bytes.count {
            let byte = bytes[offset]
            offset += 1
            if byte == 0x0A {
                line += 1
                return
            }
        }
    }
}

/// One CSV column: the path of the field it fills and how its cells are typed.
struct CSVColumn: Sendable {
    enum Kind: String, Sendable { case inferred, string, number, boolean, json }

    var name: String
    var path: [String]
    var kind: Kind

    static func header(_ cells: [String], line: Int) throws -> [CSVColumn] {
        var columns: [CSVColumn] = []
        var names = Set<String>()
        for cell in cells {
            let text = cell.trimmingCharacters(in: .whitespaces)
            var name = text
            var kind = Kind.inferred
            if let colon = text.lastIndex(of: ":") {
                guard let declared = Kind(rawValue: String(text[text.index(after: colon)...])), declared != .inferred else {
                    throw ImportIssue(
                        line: line, field: text,
                        reason: "the type after ':' is not one of string, number, boolean, json")
                }
                name = String(text[..<colon])
                kind = declared
            }
            let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard !name.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
                throw ImportIssue(line: line, field: text.isEmpty ? "(column \(columns.count + 1))" : text, reason: "a header cell must name a field")
            }
            guard names.insert(name).inserted else {
                throw ImportIssue(line: line, field: name, reason: "the header names this field twice")
            }
            columns.append(CSVColumn(name: name, path: path, kind: kind))
        }
        for column in columns where column.path.count > 1 {
            for length in 1..<column.path.count where names.contains(column.path.prefix(length).joined(separator: ".")) {
                throw ImportIssue(
                    line: line, field: column.name,
                    reason: "the header also names \(column.path.prefix(length).joined(separator: ".")), which this field is inside")
            }
        }
        if let id = columns.first(where: { $0.path.first == ImportReader.idField }), id.path.count > 1 || id.kind != .inferred && id.kind != .string {
            throw ImportIssue(line: line, field: id.name, reason: "the id column holds the document id: name it `id` (text)")
        }
        return columns
    }

    static func entry(_ row: ImportReader.CSVRow, columns: [CSVColumn]) throws -> ImportEntry {
        guard row.cells.count == columns.count else {
            throw ImportIssue(
                line: row.line, field: ImportIssue.wholeLine,
                reason: "has \(row.cells.count) cells; the header names \(columns.count) fields")
        }
        var body: [String: JSONValue] = [:]
        var id: String?
        for (column, cell) in zip(columns, row.cells) where !cell.isEmpty {
            if column.path == [ImportReader.idField] {
                id = cell
                continue
            }
            let value = try column.value(of: cell, line: row.line)
            set(&body, column.path[...], to: value)
        }
        return ImportEntry(line: row.line, id: id, body: JSONValue.object(body).canonicalData)
    }

    private static func set(_ object: inout [String: JSONValue], _ path: ArraySlice<String>, to value: JSONValue) {
        guard let key = path.first else { return }
        guard path.count > 1 else {
            object[key] = value
            return
        }
        var inner = object[key]?.objectValue ?? [:]
        set(&inner, path.dropFirst(), to: value)
        object[key] = .object(inner)
    }

    func value(of cell: String, line: Int) throws -> JSONValue {
        switch kind {
        case .string: return .string(cell)
        case .number:
            guard let number = Self.number(cell) else { throw issue(line, "is not a number (a JSON number such as 3 or -1.5)") }
            return .number(number)
        case .boolean:
            guard let flag = Self.boolean(cell) else { throw issue(line, "is not true or false") }
            return .bool(flag)
        case .json:
            guard let value = Self.structure(cell) else { throw issue(line, "is not a JSON array or object") }
            return value
        case .inferred:
            if let flag = Self.boolean(cell) { return .bool(flag) }
            if let number = Self.number(cell) { return .number(number) }
            if let value = Self.structure(cell) { return value }
            return .string(cell)
        }
    }

    private func issue(_ line: Int, _ reason: String) -> ImportIssue {
        ImportIssue(line: line, field: name, reason: reason)
    }

    private static func boolean(_ cell: String) -> Bool? {
        switch cell {
        case "true": true
        case "false": false
        default: nil
        }
    }

    /// A cell in JSON's number grammar, and finite.
    static func number(_ cell: String) -> Double? {
        var rest = Substring(cell)
        if rest.first == "-" { rest = rest.dropFirst() }
        let integer = rest.prefix(while: \.isASCIIDigit)
        guard !integer.isEmpty, integer == "0" || integer.first != "0" else { return nil }
        rest = rest.dropFirst(integer.count)
        if rest.first == "." {
            let fraction = rest.dropFirst().prefix(while: \.isASCIIDigit)
            guard !fraction.isEmpty else { return nil }
            rest = rest.dropFirst(1 + fraction.count)
        }
        if rest.first == "e" || rest.first == "E" {
            rest = rest.dropFirst()
            if rest.first == "+" || rest.first == "-" { rest = rest.dropFirst() }
            let exponent = rest.prefix(while: \.isASCIIDigit)
            guard !exponent.isEmpty else { return nil }
            rest = rest.dropFirst(exponent.count)
        }
        guard rest.isEmpty, let value = Double(cell), value.isFinite else { return nil }
        return value
    }

    private static func structure(_ cell: String) -> JSONValue? {
        guard let first = cell.first, first == "[" || first == "{" else { return nil }
        guard let value = try? JSONValue(parsing: Data(cell.utf8)) else { return nil }
        switch value {
        case .array, .object: return value
        default: return nil
        }
    }
}

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}
