import Foundation
import SyncEngine
import Records
import TestSupport
import Testing

/// `RecordCatalog.validate` and `JSONValue(parsing:)` read well-formed bodies with a one-pass
/// scanner and leave the rest to Foundation. These tests hold the scanner to Foundation's
/// answers: whatever it reads, `JSONSerialization` accepts and `JSONDecoder` reads as the same
/// value; whatever it leaves undecided still gets Foundation's error, word for word.
@Suite("JSON scanner")
struct JSONScannerTests {
    /// Foundation's reading of `data`: nil when `JSONSerialization` or `JSONDecoder` refuses it.
    static func foundation(_ data: Data) -> JSONValue? {
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else { return nil }
        return try? JSONDecoder().decode(JSONValue.self, from: data)
    }

    static let edgeCases: [String] = [
        "{}", "[]", "  {\"a\" : [ 1 , 2 ] }\n", "0", "-0", "1.5", "-1.5e3", "1E-2", "1e+2", "123456789012345",
        "-123456789012345", "1234567890123456", "12345678901234567890", "0.1", "0.30000000000000004", "1e400",
        "-1e400", "1e-400", "4.9e-324", "2.2250738585072014e-308", "1.7976931348623157e308", "01", "-", "1.",
        ".5", "1e", "+1", "0x10", "NaN", "Infinity", "true", "false", "null", "tru", "nul", "\"\"", "\"a\\\"b\"",
        "\"\\/\\\\\\b\\f\\n\\r\\t\"", "\"\\u00e9\\u20AC\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"", "\"\\ude00\"",
        "\"\\ud83d\\u0041\"", "\"\\u0000\"", "\"\\x41\"", "\"é€😀\"", "\"e\u{301}\"", "\"tab\there\"", "\"a",
        "{\"a\":1,\"a\":2}", "{\"é\":1,\"e\u{301}\":2}", "{\"a\":1,}", "[1,]", "[1 2]", "{\"a\" 1}", "{1:2}",
        "{\"a\":1}{\"b\":2}", "{\"a\":1} x", "\u{FEFF}{}", "{\"a\":[[[[[[[[[[1]]]]]]]]]]}", "",
        "{\"lat\":13.6517,\"lon\":-25.3469,\"n\":[0,-0.0,1e2,5E-1]}",
    ]

    @Test(arguments: edgeCases)
    func readsOnlyWhatFoundationReadsTheSame(_ text: String) throws {
        let data = Data(text.utf8)
        guard let value = try? JSONValue(parsing: data) else {
            #expect(Self.foundation(data) == nil)
            return
        }
        let expected = try #require(Self.foundation(data))
        #expect(value == expected)
        #expect(value.canonicalText == expected.canonicalText)
    }

    @Test func invalidUTF8IsLeftToFoundation() throws {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC0, 0x80, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0xE2, 0x82, 0x22]] {
            let data = Data(bytes)
            let value = try? JSONValue(parsing: data)
            #expect(value == Self.foundation(data))
        }
    }

    /// Random decimals and documents: the scanner's numbers are Foundation's, bit for bit.
    @Test func randomValuesReadAsFoundationReadsThem() throws {
        var generator = SeededGenerator(seed: 0x5EED)
        for _ in 0..<2_000 {
            let mantissa = Double(Int64.random(in: -1_000_000_000...1_000_000_000, using: &generator))
            let scale = pow(10, Double(Int.random(in: -12...12, using: &generator)))
            let text = "{\"x\":\(mantissa * scale),\"y\":\(Int64.random(in: -999_999_999_999_999...999_999_999_999_999, using: &generator))}"
            let data = Data(text.utf8)
            let expected = try #require(Self.foundation(data), "\(text)")
            let value = try JSONValue(parsing: data)
            #expect(value == expected, "\(text)")
            if case .object(let fields) = value, case .object(let wanted) = expected {
                #expect(fields["x"]?.numberValue?.bitPattern == wanted["x"]?.numberValue?.bitPattern, "\(text)")
            }
        }
    }

    /// A body nested one level deeper than the limit is refused with the limit's message, as before.
    @Test func nestingBeyondTheLimitKeepsItsMessage() throws {
        let depth = JSONBody.defaultMaximumDepth
        let body = Data((#"{"a":"# + String(repeating: "[", count: depth) + String(repeating: "]", count: depth) + "}").utf8)
        let error = #expect(throws: SyncEngineError.self) {
            try RecordCatalog.validate(collection: try #require(CollectionName("reports")), body: body)
        }
        #expect(error?.message == "The body nests arrays and objects deeper than \(depth) levels, the limit.")
    }

    /// Every valid fixture reads the same through the scanner as through Foundation.
    @Test(arguments: RecordKind.allCases)
    func fixturesReadTheSame(_ kind: RecordKind) throws {
        let data = Data(RecordsFixtures.body(kind).utf8)
        #expect(try JSONValue(parsing: data) == Self.foundation(data))
        let check = try RecordCatalog.validate(collection: kind.collection, body: data)
        #expect(check.kind == kind)
    }
}
