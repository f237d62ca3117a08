import Foundation
import SyncEngine
import Testing
import TestSupport

@Suite("Identifiers")
struct IdentityTests {
    @Test func replicaIDParsesHexAndLowercases() throws {
        let id = try #require(ReplicaID("00112233445566778899AABBCCDDEEFF"))
        #expect(id.hex == "00112233445566778899aabbccddeeff")
        #expect(id.short == "00112233")
        #expect(
            id.bytes == [
                0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff,
            ])
        #expect(ReplicaID(bytes: id.bytes) == id)
    }

    @Test(arguments: [
        "", "0011223344556677889900aabbccddeef", "00112233445566778899aabbccddeeff0",
        "00112233445566778899aabbccddeefg", "0011223344556677-899aabbccddeeff", " 0112233445566778899aabbccddeeff",
        "00112233445566778899aabbccddee\u{FF}", "00112233445566778899AaBbCcDdEeFG",
    ])
    func replicaIDRejects(_ text: String) {
        #expect(ReplicaID(text) == nil)
    }

    @Test func replicaIDCodableRejectsBadText() throws {
        let id = Fixtures.replica(0xab)
        let data = try JSONEncoder().encode(id)
        #expect(String(decoding: data, as: UTF8.self) == "\"\(String(repeating: "ab", count: 16))\"")
        #expect(try JSONDecoder().decode(ReplicaID.self, from: data) == id)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(ReplicaID.self, from: Data(#""abc""#.utf8)) }
    }

    @Test func randomReplicaIDsFromOneSeedRepeat() {
        var first = SeededGenerator(seed: 9)
        var second = SeededGenerator(seed: 9)
        #expect(ReplicaID.random(using: &first) == ReplicaID.random(using: &second))
        #expect(ReplicaID.random() != ReplicaID.random())
    }

    @Test func dotParsesItsDescriptionAndRejectsBadCounters() throws {
        let dot = Dot(replica: Fixtures.replica(1), counter: 42)
        #expect(Dot(dot.description) == dot)
        let hex = Fixtures.replica(1).hex
        #expect(Dot("\(hex):0") == nil)
        #expect(Dot("\(hex):\(Dot.maxCounter)") != nil)
        #expect(Dot("\(hex):\(Dot.maxCounter + 1)") == nil)
        #expect(Dot("\(hex):-1") == nil)
        #expect(Dot("\(hex)") == nil)
        #expect(Dot("\(hex):1:2") == nil)
        #expect(Dot("xyz:1") == nil)
    }

    @Test(arguments: ["a", "observations", "field-reports_2", "z" + String(repeating: "9", count: 63)])
    func collectionNameAccepts(_ text: String) {
        #expect(CollectionName(text)?.rawValue == text)
    }

    @Test(arguments: [
        "", "Observations", "1abc", "_abc", "-abc", "obs ervations", "obs/x", "obs.x", "é",
        "a" + String(repeating: "b", count: 64),
    ])
    func collectionNameRejects(_ text: String) {
        #expect(CollectionName(text) == nil)
    }

    @Test(arguments: ["x", "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "A.b_c-d:e", String(repeating: "q", count: 128)])
    func documentIDAccepts(_ text: String) {
        #expect(DocumentID(text)?.rawValue == text)
    }

    @Test(arguments: ["", ".", "..", "a/b", "a b", "a?b", "ü", String(repeating: "q", count: 129), "a\u{0}b"])
    func documentIDRejects(_ text: String) {
        #expect(DocumentID(text) == nil)
    }

    @Test func documentIDDecodingRejectsBadText() {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(DocumentID.self, from: Data(#""../etc""#.utf8)) }
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode(CollectionName.self, from: Data(#""Bad""#.utf8))
        }
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(Partition.self, from: Data(#""a/b""#.utf8)) }
    }

    @Test func partitionRules() {
        #expect(Partition.default.rawValue == "default")
        #expect(Partition("region:north-1")?.rawValue == "region:north-1")
        #expect(Partition(String(repeating: "p", count: 64)) != nil)
        #expect(Partition(String(repeating: "p", count: 65)) == nil)
        #expect(Partition("") == nil)
        #expect(Partition("..") == nil)
        #expect(Partition("north/south") == nil)
    }

    @Test func generatedDocumentIDIsUUIDv7() throws {
        var generator = SeededGenerator(seed: 1)
        let millis: UInt64 = 0x0190_a1b2_c3d4
        let id = DocumentID.generate(millisecondsSince1970: millis, using: &generator)
        let text = id.rawValue
        #expect(text.count == 36)
        #expect(text.hasPrefix("0190a1b2-c3d4-7"))
        let parts = text.split(separator: "-").map(String.init)
        #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
        #expect(parts[2].first == "7", "version nibble is 7")
        let variantDigit = try #require(parts[3].first)
        let variant = try #require(UInt8(String(variantDigit), radix: 16))
        #expect(variant & 0b1100 == 0b1000, "RFC 9562 variant bits are 10")
        let uuid = try #require(UUID(uuidString: text))
        #expect(uuid.uuidString.lowercased() == text)
        #expect(DocumentID(text) == id)
    }

    @Test func generatedDocumentIDsAreTimeOrderedAndUnique() {
        var generator = SeededGenerator(seed: 2)
        var ids: [DocumentID] = []
        for step in 0..<200 {
            ids.append(DocumentID.generate(millisecondsSince1970: 1_700_000_000_000 + UInt64(step), using: &generator))
        }
        #expect(ids == ids.sorted(), "ids of increasing milliseconds sort in creation order")
        #expect(Set(ids).count == ids.count)
        let now = DocumentID.generate()
        #expect(now.rawValue.dropFirst(14).first == "7")
        #expect(DocumentID.generate() != now)
    }
}
