import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The hub merges concurrent edits of situations field by field; observations stay siblings.
@Suite("Hub field-by-field merge")
struct HubFieldwiseMergeTests {
    static let situation = """
        {"schema_version": 1, "title": "North Darfur, March", "area": {"country": "SD", "admin1": "SD-DN"},
         "period_start": "2026-03-01", "period_end": "2026-03-31",
         "risk_factors": [{"risk_factor": 7, "indicators_present": ["7.6"], "trend": "increasing", "confidence": "medium"}],
         "overall_risk_level": "high"}
        """

    /// `situation` with `old` replaced by `new` (one top-level field edited).
    static func edited(_ body: String, _ old: String, _ new: String) throws -> Data {
        #expect(body.contains(old))
        return Data(body.replacingOccurrences(of: old, with: new).utf8)
    }

    /// Creates a situation on A, gives it to B through the hub, then lets A and B edit it offline
    /// with `editA` and `editB` and push both; returns the hub's view of the document and B's
    /// after it pulled.
    func concurrentEdits(editA: (String, String), editB: (String, String)) async throws
        -> (hub: StoredDocument?, b: StoredDocument?, merges: [Version])
    {
        let folder = try TemporaryReplica()
        defer { withExtendedLifetime(folder) {} }
        let hub = try HubExchangeTests.hub(in: folder)
        let (a, b) = (try folder.create("a"), try folder.create("b"))
        let key = DocumentKey(collection: try #require(CollectionName("situations")), id: try #require(DocumentID("s1")))
        try a.write(WriteIntent(key: key, body: Data(Self.situation.utf8)))
        _ = try await hub.handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a)))
        let first = try await hub.handle(HubExchangeTests.request(b))
        try b.apply(first.versions, from: hub.hubID)

        let received = try b.document(key)?.siblings.first?.body
        let base = try #require(received).utf8Text
        try a.write(WriteIntent(key: key, body: try Self.edited(base, editA.0, editA.1)))
        try b.write(WriteIntent(key: key, body: try Self.edited(base, editB.0, editB.1)))
        let known = VersionVector([a.replicaID: 1])
        _ = try await hub.handle(HubExchangeTests.request(a, push: HubExchangeTests.missing(a, from: known)))
        let answer = try await hub.handle(
            HubExchangeTests.request(b, push: HubExchangeTests.missing(b, from: known), checkpoint: first.checkpoint))
        try b.apply(answer.versions, from: hub.hubID)
        let hubStore = try ReplicaStore.openHub(at: folder.path("hub"), options: folder.options)
        let writer = try #require(hub.storage as? SQLiteHubStorage).writer
        let merges = answer.versions.filter { $0.dot.replica == writer }
        return (try hubStore.document(key), try b.document(key), merges)
    }

    @Test func editsOfDifferentFieldsMergeIntoOneVersionCoveringBoth() async throws {
        let result = try await concurrentEdits(
            editA: (#""overall_risk_level": "high""#, #""overall_risk_level": "critical""#),
            editB: (#""title": "North Darfur, March""#, #""title": "North Darfur, March (revised)""#))
        let hub = try #require(result.hub)
        #expect(!hub.isConflicted)
        let merged = try #require(hub.siblings.first)
        let body = try #require(merged.body)
        let object = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
        #expect(object["overall_risk_level"] as? String == "critical")
        #expect(object["title"] as? String == "North Darfur, March (revised)")
        #expect((object["_resolution"] as? [String: Any])?["siblings"] as? [String] != nil)
        #expect(merged.context.entries.count == 2, "the merge records both parents")
        #expect(result.merges.map(\.dot) == [merged.dot], "the pusher gets the merge in the same exchange")
        #expect(result.b?.siblings.map(\.dot) == [merged.dot])
    }

    @Test func editsOfTheSameFieldStaySiblingsForAnOperator() async throws {
        let result = try await concurrentEdits(
            editA: (#""overall_risk_level": "high""#, #""overall_risk_level": "critical""#),
            editB: (#""overall_risk_level": "high""#, #""overall_risk_level": "medium""#))
        #expect(result.hub?.siblings.count == 2)
        #expect(result.merges.isEmpty)
        #expect(result.b?.isConflicted == true)
    }
}

extension Data {
    fileprivate var utf8Text: String { String(decoding: self, as: UTF8.self) }
}
