import Foundation
import SyncEngine
import Testing

@Suite("Version wire form")
struct VersionCodingTests {
    let key = DeviceKey()

    func signed(body: String? = #"{"title":"flood","note":"ünïcode \"quoted\""}"#) throws -> Version {
        try key.sign(
            Fixtures.version(
                Fixtures.replica(0xa1), 12, context: [Fixtures.replica(0xb2): 3], body: body, wall: 1_700_000_000_999))
    }

    func object(_ version: Version) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(version)) as? [String: Any])
    }

    func decode(_ object: [String: Any]) throws -> Version {
        try JSONDecoder().decode(Version.self, from: JSONSerialization.data(withJSONObject: object))
    }

    @Test func roundTripKeepsEveryFieldAndTheSignatureValid() throws {
        for version in [try signed(), try signed(body: nil)] {
            let decoded = try JSONDecoder().decode(Version.self, from: JSONEncoder().encode(version))
            #expect(decoded == version)
            #expect(decoded.body == version.body, "the body's bytes are kept exactly")
            #expect(key.publicKey.isValidSignature(of: decoded))
        }
    }

    @Test func wireFormHasTheDocumentedFields() throws {
        let fields = try object(signed())
        #expect(
            Set(fields.keys) == [
                "origin", "counter", "collection", "id", "partition", "context", "body", "time", "signature",
            ])
        #expect(fields["origin"] as? String == Fixtures.replica(0xa1).hex)
        #expect((fields["counter"] as? NSNumber)?.int64Value == 12)
        #expect(fields["body"] is String, "the body travels as a string holding its exact bytes")
        let time = try #require(fields["time"] as? [String: Any])
        #expect((time["wall"] as? NSNumber)?.int64Value == 1_700_000_000_999)
        #expect(Data(base64Encoded: try #require(fields["signature"] as? String))?.count == 64)
        let tombstone = try object(signed(body: nil))
        #expect(tombstone["body"] is NSNull)
    }

    static let corruptions: [(String, @Sendable (inout [String: Any]) -> Void)] = [
        ("signature not base64", { $0["signature"] = "not base64!" }),
        ("signature missing", { $0["signature"] = nil }),
        ("counter zero", { $0["counter"] = 0 }),
        ("counter negative", { $0["counter"] = -3 }),
        ("counter above the limit", { $0["counter"] = UInt64(Int64.max) + 1 }),
        ("counter not a number", { $0["counter"] = "12" }),
        ("origin not hex", { $0["origin"] = "zz" }),
        ("origin too short", { $0["origin"] = "a1a1a1a1" }),
        ("document id with a slash", { $0["id"] = "../../etc/passwd" }),
        ("collection uppercase", { $0["collection"] = "Observations" }),
        ("partition empty", { $0["partition"] = "" }),
        ("context key not a replica", { $0["context"] = ["nobody": 1] }),
        ("context counter above the limit", { $0["context"] = [Fixtures.replica(0xb2).hex: UInt64(Int64.max) + 1] }),
        ("time missing", { $0["time"] = nil }),
        ("body not a string", { $0["body"] = ["title": "x"] }),
    ]

    @Test(arguments: corruptions.indices)
    func decodingRejects(_ index: Int) throws {
        var fields = try object(signed())
        Self.corruptions[index].1(&fields)
        #expect(throws: DecodingError.self, "\(Self.corruptions[index].0)") { try decode(fields) }
    }

    @Test func aDecodedVersionWithAForgedFieldNoLongerVerifies() throws {
        var fields = try object(signed())
        fields["body"] = #"{"title":"forged"}"#
        let decoded = try decode(fields)
        #expect(!key.publicKey.isValidSignature(of: decoded))
        var wrongLength = try object(signed())
        wrongLength["signature"] = Data(repeating: 1, count: 10).base64EncodedString()
        #expect(!key.publicKey.isValidSignature(of: try decode(wrongLength)))
    }

    @Test func historyIsContextPlusDot() throws {
        let version = try signed()
        #expect(version.history == [Fixtures.replica(0xb2): 3, Fixtures.replica(0xa1): 12])
        #expect(version.key == Fixtures.key("doc-1"))
        #expect(!version.isTombstone)
        #expect(try signed(body: nil).isTombstone)
    }
}
