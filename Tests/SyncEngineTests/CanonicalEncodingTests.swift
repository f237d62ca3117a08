import Foundation
import SyncEngine
import Testing

@Suite("Canonical encoding")
struct CanonicalEncodingTests {
    /// A version with every field set to a fixed value.
    static let golden = Version(
        dot: Dot(replica: ReplicaID(bytes: Array(0..<16)), counter: 7),
        collection: CollectionName("observations")!,
        documentID: DocumentID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")!,
        partition: Partition("region-north")!,
        context: [Fixtures.replica(0xaa): 3, Fixtures.replica(0x11): 5],
        body: Data(#"{"title":"flood","severity":3}"#.utf8),
        timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_000_123, logical: 4))

    /// SHA-256 hex through ``Version/bodyDigest`` (checked against a published test vector below),
    /// so this target needs no direct crypto dependency.
    static func sha256Hex(_ data: Data) -> String {
        var carrier = golden
        carrier.body = data
        return carrier.bodyDigest ?? ""
    }

    /// The expected digests were computed independently (Python, from the layout in the doc comment).
    /// If this fails, the format changed: every signature ever made stops verifying.
    @Test func goldenDigest() {
        let encoding = Self.golden.canonicalEncoding
        #expect(encoding.count == 202)
        #expect(Self.sha256Hex(encoding) == "c072b15bc96cc7710d0ced735bb79df41350340855ea7938babccdeda00b033d")
        var tombstone = Self.golden
        tombstone.body = nil
        #expect(tombstone.canonicalEncoding.count == 170)
        #expect(
            Self.sha256Hex(tombstone.canonicalEncoding)
                == "30a33b4dda9d52ec9a32c59f404b5c18b4ad3c6b21bd7023ac5661ef02af49dc")
    }

    @Test func signatureIsNotPartOfTheEncoding() {
        var signed = Self.golden
        signed.signature = Data(repeating: 9, count: 64)
        #expect(signed.canonicalEncoding == Self.golden.canonicalEncoding)
    }

    @Test func stableAcrossCopiesAndContextInsertionOrder() {
        var copy = Self.golden
        copy.context = [Fixtures.replica(0x11): 5, Fixtures.replica(0xaa): 3]
        #expect(copy.canonicalEncoding == Self.golden.canonicalEncoding)
    }

    static let changes: [(String, @Sendable (inout Version) -> Void)] = [
        ("origin", { $0.dot.replica = Fixtures.replica(0x01) }),
        ("counter", { $0.dot.counter = 8 }),
        ("collection", { $0.collection = CollectionName("observation")! }),
        ("document id", { $0.documentID = DocumentID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c")! }),
        ("partition", { $0.partition = Partition("region-south")! }),
        ("context counter", { $0.context[Fixtures.replica(0xaa)] = 4 }),
        ("context entry added", { $0.context[Fixtures.replica(0xbb)] = 1 }),
        ("context entry removed", { $0.context[Fixtures.replica(0x11)] = 0 }),
        ("body", { $0.body = Data(#"{"title":"flood","severity":4}"#.utf8) }),
        ("body whitespace", { $0.body = Data(#"{"title": "flood","severity":3}"#.utf8) }),
        ("tombstone", { $0.body = nil }),
        ("empty body", { $0.body = Data() }),
        ("wall time", { $0.timestamp.wallMilliseconds += 1 }),
        ("logical time", { $0.timestamp.logical += 1 }),
    ]

    @Test(arguments: changes.indices)
    func differsWhenAnyFieldChanges(_ index: Int) {
        var changed = Self.golden
        Self.changes[index].1(&changed)
        #expect(changed.canonicalEncoding != Self.golden.canonicalEncoding, "changing the \(Self.changes[index].0)")
    }

    @Test func fieldBoundariesAreUnambiguous() {
        // Moving characters between adjacent strings must change the encoding (length prefixes).
        var left = Self.golden
        left.documentID = DocumentID("ab")!
        left.partition = Partition("c")!
        var right = Self.golden
        right.documentID = DocumentID("a")!
        right.partition = Partition("bc")!
        #expect(left.canonicalEncoding != right.canonicalEncoding)
    }

    @Test func bodyDigestIsHexSHA256() {
        // FIPS 180-2 test vector for "abc".
        #expect(Self.sha256Hex(Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        var tombstone = Self.golden
        tombstone.body = nil
        #expect(tombstone.bodyDigest == nil)
    }
}
