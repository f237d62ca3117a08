import Foundation
import SyncEngine
import Records
import Testing

@Suite("Records field-by-field merge")
struct RecordsMergeTests {
    static let situations = RecordKind.situation.collection
    static let warnings = RecordKind.warning.collection

    private func body(_ base: String, _ edits: (String, JSONValue?)...) throws -> Data {
        var text = base
        for (path, value) in edits {
            text = String(decoding: try RecordsFixtures.edited(text, path, value), as: UTF8.self)
        }
        return Data(text.utf8)
    }

    private func object(_ data: Data) throws -> [String: JSONValue] {
        try #require(try JSONValue(parsing: data).objectValue)
    }

    @Test func thePolicyPerCollection() throws {
        #expect(RecordKind.observation.mergePolicy == .manual)
        #expect(RecordKind.participant.mergePolicy == .manual)
        #expect(RecordKind.situation.mergePolicy == .fieldwise)
        #expect(RecordKind.warning.mergePolicy == .fieldwise)
        let observation = Data(RecordsFixtures.observation.utf8)
        #expect(
            FieldwiseMerge.merge(
                collection: RecordKind.observation.collection, ancestor: observation,
                siblings: [observation, observation]) == nil)
        #expect(
            FieldwiseMerge.merge(collection: try #require(CollectionName("reports")), ancestor: nil, siblings: [])
                == nil)
    }

    @Test func disjointFieldsMerge() throws {
        let ancestor = Data(RecordsFixtures.situation.utf8)
        let left = try body(RecordsFixtures.situation, ("overall_risk_level", .string("critical")))
        let right = try body(
            RecordsFixtures.situation, ("dynamic_analysis", .string("Attacks spread to Tawila.")),
            ("x_note", .string("kept")))
        let outcome = FieldwiseMerge.merge(collection: Self.situations, ancestor: ancestor, siblings: [left, right])
        guard case .merged(let merged)? = outcome else {
            Issue.record("expected a merge, got \(String(describing: outcome))")
            return
        }
        let fields = try object(merged)
        #expect(fields["overall_risk_level"] == .string("critical"))
        #expect(fields["dynamic_analysis"] == .string("Attacks spread to Tawila."))
        #expect(fields["x_note"] == .string("kept"))
        #expect(fields["title"] == .string("North Darfur, March 2026"))
        _ = try RecordCatalog.validate(collection: Self.situations, body: merged)
    }

    @Test func aRemovedFieldMergesWithAnEditElsewhere() throws {
        let ancestor = Data(RecordsFixtures.situation.utf8)
        let left = try body(RecordsFixtures.situation, ("scenarios", nil))
        let right = try body(RecordsFixtures.situation, ("title", .string("North Darfur, March 2026 (rev.)")))
        guard case .merged(let merged) = FieldwiseMerge.merge(ancestor: ancestor, siblings: [left, right]) else {
            Issue.record("expected a merge")
            return
        }
        let fields = try object(merged)
        #expect(fields["scenarios"] == nil)
        #expect(fields["title"] == .string("North Darfur, March 2026 (rev.)"))
    }

    @Test func theSameFieldChangedDifferentlyConflicts() throws {
        let ancestor = Data(RecordsFixtures.situation.utf8)
        let left = try body(
            RecordsFixtures.situation, ("overall_risk_level", .string("critical")), ("title", .string("A")))
        let right = try body(
            RecordsFixtures.situation, ("overall_risk_level", .string("medium")), ("title", .string("A")))
        #expect(
            FieldwiseMerge.merge(collection: Self.situations, ancestor: ancestor, siblings: [left, right])
                == .conflict(fields: ["overall_risk_level"], deletionAgainstEdit: false))
    }

    @Test func theSameChangeOnBothSidesIsNoConflict() throws {
        let ancestor = Data(RecordsFixtures.situation.utf8)
        let edited = try body(RecordsFixtures.situation, ("overall_risk_level", .string("critical")))
        guard case .merged(let merged) = FieldwiseMerge.merge(ancestor: ancestor, siblings: [edited, edited]) else {
            Issue.record("expected a merge")
            return
        }
        #expect(try object(merged)["overall_risk_level"] == .string("critical"))
    }

    @Test func threeWayWithADeletionConflicts() throws {
        let ancestor = Data(RecordsFixtures.warning.utf8)
        let left = try body(RecordsFixtures.warning, ("status", .string("closed")))
        let right = try body(RecordsFixtures.warning, ("title", .string("Attack expected")))
        #expect(
            FieldwiseMerge.merge(collection: Self.warnings, ancestor: ancestor, siblings: [left, nil, right])
                == .conflict(fields: [], deletionAgainstEdit: true))
        #expect(FieldwiseMerge.merge(collection: Self.warnings, ancestor: ancestor, siblings: [nil, nil]) == .deleted)
    }

    @Test func threeWayDisjointMerges() throws {
        let ancestor = Data(RecordsFixtures.warning.utf8)
        let a = try body(RecordsFixtures.warning, ("status", .string("acknowledged")))
        let b = try body(RecordsFixtures.warning, ("urgency", .string("expected")))
        let c = try body(RecordsFixtures.warning, ("evidence", .array([.string("obs-1"), .string("obs-9")])))
        guard
            case .merged(let merged)? = FieldwiseMerge.merge(
                collection: Self.warnings, ancestor: ancestor, siblings: [a, b, c])
        else {
            Issue.record("expected a merge")
            return
        }
        let fields = try object(merged)
        #expect(fields["status"] == .string("acknowledged"))
        #expect(fields["urgency"] == .string("expected"))
        #expect(fields["evidence"]?.arrayValue?.count == 2)
    }

    @Test func recipientsAcknowledgingAtOnceMergeEntryByEntry() throws {
        let ancestor = Data(RecordsFixtures.warning.utf8)
        let ocha = try body(
            RecordsFixtures.warning, ("recipients.un-ocha.acknowledged_at", .string("2026-03-02T07:00:00Z")))
        let ngo = try body(RecordsFixtures.warning, ("recipients.ngo-a.response.outcome", .string("tense but calm")))
        guard
            case .merged(let merged)? = FieldwiseMerge.merge(
                collection: Self.warnings, ancestor: ancestor, siblings: [ocha, ngo])
        else {
            Issue.record("expected a merge")
            return
        }
        let recipients = try #require(try object(merged)["recipients"]?.objectValue)
        #expect(recipients["un-ocha"]?.objectValue?["acknowledged_at"] == .string("2026-03-02T07:00:00Z"))
        #expect(recipients["ngo-a"]?.objectValue?["response"]?.objectValue?["outcome"] == .string("tense but calm"))
        // The same recipient changed twice is a conflict on that recipient only.
        let other = try body(
            RecordsFixtures.warning, ("recipients.un-ocha.acknowledged_at", .string("2026-03-02T08:00:00Z")))
        #expect(
            FieldwiseMerge.merge(collection: Self.warnings, ancestor: ancestor, siblings: [ocha, other])
                == .conflict(fields: ["recipients.un-ocha"], deletionAgainstEdit: false))
        // In a situation, no field is keyed: the whole field conflicts.
        #expect(
            FieldwiseMerge.merge(ancestor: ancestor, siblings: [ocha, other])
                == .conflict(fields: ["recipients"], deletionAgainstEdit: false))
    }

    @Test func withoutAnAncestorOnlyAgreeingFieldsMerge() throws {
        let left = try body(RecordsFixtures.situation, ("overall_risk_level", .string("critical")))
        let right = Data(RecordsFixtures.situation.utf8)
        #expect(
            FieldwiseMerge.merge(ancestor: nil, siblings: [left, right])
                == .conflict(fields: ["overall_risk_level"], deletionAgainstEdit: false))
        guard case .merged = FieldwiseMerge.merge(ancestor: nil, siblings: [right, right]) else {
            Issue.record("expected a merge")
            return
        }
    }

    @Test func theResolutionNoteIsLeftOut() throws {
        let ancestor = Data(RecordsFixtures.situation.utf8)
        let left = try body(
            RecordsFixtures.situation, ("_resolution", .object(["reason": .string("kept A")])),
            ("title", .string("T1")))
        let right = try body(RecordsFixtures.situation, ("_resolution", .object(["reason": .string("kept B")])))
        guard case .merged(let merged) = FieldwiseMerge.merge(ancestor: ancestor, siblings: [left, right]) else {
            Issue.record("expected a merge")
            return
        }
        #expect(try object(merged)["_resolution"] == nil)
    }

    @Test(arguments: 0..<6)
    func theResultIsTheSameBytesInAnyOrder(_ rotation: Int) throws {
        let ancestor = Data(RecordsFixtures.warning.utf8)
        let siblings = [
            try body(RecordsFixtures.warning, ("status", .string("acknowledged"))),
            try body(RecordsFixtures.warning, ("urgency", .string("expected")), ("x_extra", .number(2.5))),
            try body(RecordsFixtures.warning, ("recipients.un-ocha.acknowledged_at", .string("2026-03-02T07:00:00Z"))),
        ]
        let permutations = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]
        let reference = FieldwiseMerge.merge(ancestor: ancestor, siblings: siblings, keyedMaps: ["recipients"])
        let permuted = FieldwiseMerge.merge(
            ancestor: ancestor, siblings: permutations[rotation].map { siblings[$0] }, keyedMaps: ["recipients"])
        #expect(permuted == reference)
        guard case .merged(let bytes) = reference else {
            Issue.record("expected a merge")
            return
        }
        // Canonical: re-encoding the parsed result gives the same bytes.
        #expect(try JSONValue(parsing: bytes).canonicalData == bytes)
        #expect(String(decoding: bytes, as: UTF8.self).contains("\"x_extra\":2.5"))
    }

    @Test func canonicalTextIsStable() throws {
        let value = try JSONValue(
            parsing: Data(#"{"b": [1, 2.0, -0.5, 1e3], "a": "é\"\n\u0001", "c": null, "d": true}"#.utf8))
        #expect(value.canonicalText == #"{"a":"é\"\n\u0001","b":[1,2,-0.5,1000],"c":null,"d":true}"#)
    }
}
