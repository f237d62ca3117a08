import Foundation
import PropertyBased
import SyncEngine
import Testing

@Suite("VersionVector")
struct VersionVectorTests {
    let a = Fixtures.replica(0xa1)
    let b = Fixtures.replica(0xb2)
    let c = Fixtures.replica(0xc3)

    @Test func compareCoversTheFourOrders() {
        let base: VersionVector = [a: 2, b: 1]
        #expect(base.compare([a: 2, b: 1]) == .equal)
        #expect(base.compare([a: 3, b: 1]) == .before)
        #expect(base.compare([a: 2, b: 1, c: 1]) == .before)
        #expect(base.compare([a: 2]) == .after)
        #expect(base.compare(VersionVector()) == .after)
        #expect(VersionVector().compare(base) == .before)
        #expect(base.compare([a: 1, b: 2]) == .concurrent)
        #expect(base.compare([c: 1]) == .concurrent)
        #expect(VersionVector().compare(VersionVector()) == .equal)
    }

    @Test func zeroEntriesAreAbsent() {
        var vector: VersionVector = [a: 0, b: 3]
        #expect(vector.entries == [b: 3])
        #expect(vector.compare([b: 3]) == .equal)
        vector[b] = 0
        #expect(vector.isEmpty)
        #expect(VersionVector([a: 0]) == VersionVector())
    }

    @Test func mergeIsPointwiseMaximum() {
        var left: VersionVector = [a: 5, b: 1]
        let right: VersionVector = [b: 4, c: 2]
        #expect(left.merged(with: right) == [a: 5, b: 4, c: 2])
        #expect(left == [a: 5, b: 1], "merged(with:) leaves the receiver alone")
        left.merge(right)
        #expect(left == [a: 5, b: 4, c: 2])
        left.merge([a: 1])
        #expect(left[a] == 5, "merge never lowers an entry")
    }

    @Test func containsAndAdd() {
        var vector: VersionVector = [a: 3]
        #expect(vector.contains(Dot(replica: a, counter: 1)))
        #expect(vector.contains(Dot(replica: a, counter: 3)))
        #expect(!vector.contains(Dot(replica: a, counter: 4)))
        #expect(!vector.contains(Dot(replica: b, counter: 1)))
        vector.add(Dot(replica: a, counter: 2))
        #expect(vector[a] == 3)
        vector.add(Dot(replica: b, counter: 7))
        #expect(vector == [a: 3, b: 7])
        #expect(
            VersionVector(dots: [Dot(replica: a, counter: 2), Dot(replica: a, counter: 9), Dot(replica: c, counter: 1)])
                == [a: 9, c: 1])
    }

    @Test func deltaHoldsOnlyWhatTheBaseLacks() {
        let current: VersionVector = [a: 5, b: 2, c: 1]
        let base: VersionVector = [a: 5, b: 1, c: 4]
        let delta = current.delta(since: base)
        #expect(delta == [b: 2])
        #expect(base.merged(with: delta) == base.merged(with: current))
        #expect(current.delta(since: current).isEmpty)
        #expect(current.delta(since: VersionVector()) == current)
    }

    @Test func codableRoundTripIsAnObjectOfHexKeys() throws {
        let vector: VersionVector = [a: 5, c: Dot.maxCounter]
        let data = try JSONEncoder().encode(vector)
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Int64])
        #expect(object == [a.hex: 5, c.hex: Int64.max])
        #expect(try JSONDecoder().decode(VersionVector.self, from: data) == vector)
    }

    @Test(arguments: [
        #"{"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1": 9223372036854775808}"#,
        #"{"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1": 18446744073709551615}"#,
        #"{"a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1": -1}"#,
        #"{"not-a-replica": 1}"#,
        #"[1, 2]"#,
    ])
    func decodingRejects(_ json: String) {
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(VersionVector.self, from: Data(json.utf8)) }
    }

    @Test func compactTextRoundTripInCanonicalOrder() throws {
        let vector: VersionVector = [c: 1, a: 12, b: Dot.maxCounter]
        #expect(vector.compactText == "\(a.hex)=12,\(b.hex)=\(Dot.maxCounter),\(c.hex)=1")
        #expect(VersionVector(compactText: vector.compactText) == vector)
        #expect(VersionVector(compactText: "") == VersionVector())
    }

    @Test(arguments: [
        "x=1", "\(String(repeating: "a", count: 32))", "\(String(repeating: "a", count: 32))=",
        "\(String(repeating: "a", count: 32))=1=2", "\(String(repeating: "a", count: 32))=-4",
        "\(String(repeating: "a", count: 32))=\(UInt64(Int64.max) + 1)",
    ])
    func compactTextRejects(_ text: String) {
        #expect(VersionVector(compactText: text) == nil)
    }

    @Test func descriptionUsesShortIDs() {
        let vector: VersionVector = [b: 2, a: 1]
        #expect(vector.description == "{a1a1a1a1:1, b2b2b2b2:2}")
    }

    // MARK: Laws, with generated vectors (shrinking on failure).

    static let replicas = (1...4).map { Fixtures.replica(UInt8($0) * 0x11) }
    static let vectors = Gen.uint64(in: 0...6).array(of: 4).map { counters in
        VersionVector(Dictionary(uniqueKeysWithValues: zip(VersionVectorTests.replicas, counters)))
    }

    @Test(.shrinking) func mergeIsAJoin() async {
        await propertyCheck(input: Self.vectors, Self.vectors, Self.vectors) { x, y, z in
            #expect(x.merged(with: y) == y.merged(with: x))
            #expect(x.merged(with: y).merged(with: z) == x.merged(with: y.merged(with: z)))
            #expect(x.merged(with: x) == x)
            let join = x.merged(with: y)
            #expect(join.dominates(x) && join.dominates(y))
            #expect([CausalOrder.after, .equal].contains(join.compare(x)))
        }
    }

    @Test(.shrinking) func compareAgreesWithEntries() async {
        await propertyCheck(input: Self.vectors, Self.vectors) { x, y in
            let xLessOrEqual = Self.replicas.allSatisfy { x[$0] <= y[$0] }
            let yLessOrEqual = Self.replicas.allSatisfy { y[$0] <= x[$0] }
            let expected: CausalOrder =
                switch (xLessOrEqual, yLessOrEqual) {
                case (true, true): .equal
                case (true, false): .before
                case (false, true): .after
                case (false, false): .concurrent
                }
            #expect(x.compare(y) == expected)
            #expect(y.compare(x) == Self.reversed(expected))
            #expect(y.merged(with: x.delta(since: y)) == x.merged(with: y))
            #expect(VersionVector(compactText: x.compactText) == x)
        }
    }

    static func reversed(_ order: CausalOrder) -> CausalOrder {
        switch order {
        case .before: .after
        case .after: .before
        case .equal, .concurrent: order
        }
    }
}
