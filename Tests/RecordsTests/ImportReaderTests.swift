import Foundation
import SyncEngine
import Records
import Testing

/// The import reader: records and bad lines of JSON lines and CSV files, by line number.
@Suite struct ImportReaderTests {
    static func read(_ text: String, _ format: ImportFormat, maximumLineSize: Int = 1 << 20) throws -> [Result<ImportEntry, ImportIssue>] {
        var reader = try ImportReader(Data(text.utf8), format: format, maximumLineSize: maximumLineSize)
        var results: [Result<ImportEntry, ImportIssue>] = []
        while let next = reader.next() { results.append(next) }
        return results
    }

    static func fields(_ result: Result<ImportEntry, ImportIssue>) throws -> [String: JSONValue] {
        try #require(try JSONValue(parsing: result.get().body).objectValue)
    }

    @Test func formatsFollowTheExtension() {
        #expect(ImportFormat(fileName: "a/b/March.JSONL") == .jsonl)
        #expect(ImportFormat(fileName: "x.ndjson") == .jsonl)
        #expect(ImportFormat(fileName: "x.csv") == .csv)
        #expect(ImportFormat(fileName: "x.txt") == nil)
    }

    @Test("JSON lines: bodies kept as written, the id taken out, blank lines skipped, bad lines named")
    func jsonLines() throws {
        let text = "{\"a\": 1}\r\n\n  \n{\"id\": \"n-1\", \"b\": [1]}\n{\"id\": 3}\n{\"c\": \"\(String(repeating: "x", count: 50))\"}\n{\"nested\": {\"id\": \"kept\"}}"
        let results = try Self.read(text, .jsonl, maximumLineSize: 40)
        #expect(results.count == 5)
        #expect(try results[0].get() == ImportEntry(line: 1, id: nil, body: Data("{\"a\": 1}".utf8)))
        #expect(try results[1].get().line == 4)
        #expect(try results[1].get().id == "n-1")
        #expect(try Self.fields(results[1]) == ["b": .array([.number(1)])])
        #expect(throws: ImportIssue(line: 5, field: "id", reason: "is not a string; a document id is text such as \"obs-0001\"")) {
            try results[2].get()
        }
        #expect(throws: ImportIssue.self) { try results[3].get() }
        #expect(try results[4].get().id == nil)
        #expect(try results[4].get().line == 7)
    }

    @Test("CSV: quoted cells, CRLF, a byte order mark, line numbers across quoted line breaks, typing of cells")
    func csvCells() throws {
        let text = "\u{FEFF}id,a.b,n,flag,list,code,text:string,count:number\r\n"
            + "r-1,\"x, \"\"y\"\"\",3,true,\"[1,2]\",007,12,-1.5e2\r\n"
            + "r-2,\"two\nlines\",,false,[draft,x,true,\n"
            + "r-3,a,b,c,d,e,f,x3"
        let results = try Self.read(text, .csv)
        #expect(results.count == 3)
        let first = try results[0].get()
        #expect(first.line == 2 && first.id == "r-1")
        #expect(try Self.fields(results[0]) == [
            "a": .object(["b": .string(#"x, "y""#)]), "n": .number(3), "flag": .bool(true),
            "list": .array([.number(1), .number(2)]), "code": .string("007"), "text": .string("12"), "count": .number(-150),
        ])
        #expect(try results[1].get().line == 3)
        #expect(try Self.fields(results[1]) == [
            "a": .object(["b": .string("two\nlines")]), "flag": .bool(false), "list": .string("[draft"), "code": .string("x"),
            "text": .string("true"),
        ])
        #expect(throws: ImportIssue(line: 5, field: "count", reason: "is not a number (a JSON number such as 3 or -1.5)")) {
            try results[2].get().line
        }
    }

    @Test("CSV: a row with another number of cells, an unclosed quote and an overlong row are named")
    func csvBadRows() throws {
        let results = try Self.read("a,b\n1\n1,2\n\(String(repeating: "x", count: 30)),1\n3,4\n5,\"open", .csv, maximumLineSize: 20)
        #expect(results.count == 5)
        #expect(throws: ImportIssue(line: 2, field: ImportIssue.wholeLine, reason: "has 1 cells; the header names 2 fields")) {
            try results[0].get()
        }
        #expect(try results[1].get().line == 3)
        #expect(throws: ImportIssue.self) { try results[2].get() }
        #expect(try results[3].get().line == 5)
        #expect(throws: ImportIssue.self) { try results[4].get() }
    }

    @Test("CSV: a header that cannot be used is refused whole", arguments: [
        "a,a", "a,a.b", "a:date", ",b", "a..b", "id.x", "id:number",
    ])
    func csvHeaders(header: String) {
        #expect(throws: ImportIssue.self) { try ImportReader(Data("\(header)\n1,2\n".utf8), format: .csv) }
    }

    @Test func emptyCSVIsRefused() {
        #expect(throws: ImportIssue.self) { try ImportReader(Data(), format: .csv) }
        #expect(throws: Never.self) { try ImportReader(Data(), format: .jsonl) }
    }
}
