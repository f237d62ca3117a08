import AtRest
import Foundation
import GRDB
@testable import ReplicaStore
import SyncEngine
import Records
import Synchronization
import Testing
import TestSupport

/// Bulk import into the store (issue 13): every record checked as a write is, all or nothing
/// without `skipInvalid`, written in batches as signed versions of the replica's own counter.
@Suite struct ImportTests {
    static let observations = RecordKind.observation.collection

    /// A valid observation in `region`, with `notes`.
    static func observation(
        region: String = "SD-DN", country: String? = nil, notes: String = "Shelters burned at dawn", id: String? = nil
    ) -> String {
        let country = country ?? String(region.prefix(2))
        let named = id.map { #""id": "\#($0)", "# } ?? ""
        return #"{\#(named)"schema_version": 1, "report_kind": "incident", "event_date": "2026-03-01", "event_type": "Violence against civilians", "sub_event_type": "Attack", "actor1": {"name": "Unidentified armed group", "inter": 3}, "location": {"country": "\#(country)", "admin1": "\#(region)"}, "observation_mode": "witness_account", "notes": "\#(notes)"}"#
    }

    static func lines(_ lines: [String]) -> Data { Data((lines.joined(separator: "\n") + "\n").utf8) }

    /// Replays a review's finding: the replica fails (here: busy, another process holding its
    /// write lock) after the first batch of an import. The store error came alone, so `fieldcli
    /// import` said nothing of the records already written, and importing again doubled those
    /// without an id. The failure now says how many were written.
    @Test("an import the replica stops midway says how many records it wrote")
    func anImportStoppedMidwaySaysWhatItWrote() throws {
        let folder = try TemporaryReplica()
        defer { folder.remove() }
        var options = folder.options
        options.busyTimeout = 0.2
        _ = try folder.create("field")
        let store = try ReplicaStore.open(at: folder.path("field"), options: options)
        var held = Configuration()
        held.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: folder.path("field"), configuration: held)
        let data = Self.lines((0..<6).map { Self.observation(notes: "report \($0)") })
        let error = #expect(throws: ImportInterrupted.self) {
            _ = try store.importRecords(data, format: .jsonl, into: Self.observations, batchSize: 2) { written, _ in
                // Another process takes the write lock once the first batch is in.
                if written == 2 { try? holder.writeWithoutTransaction { try $0.execute(sql: "BEGIN IMMEDIATE") } }
            }
        }
        #expect(error?.written == 2 && error?.records == 6)
        #expect(error?.cause.code == .busy)
        try holder.writeWithoutTransaction { try $0.execute(sql: "ROLLBACK") }
        #expect(try store.status().versions == 2)
    }

    @Test("a JSON lines import writes one signed version of the replica's own counter per record, in batches")
    func importsInBatches() throws {
        let folder = try TemporaryReplica()
        let store = try folder.create("field")
        let calls = Counter()
        let outcome = try store.importRecords(
            Self.lines((0..<25).map { Self.observation(notes: "report \($0)") }), format: .jsonl, into: Self.observations,
            batchSize: 10, progress: { written, total in calls.add(written, total) })
        #expect(outcome == ImportOutcome(records: 25, written: 25, issues: []))
        #expect(calls.values == [[10, 25], [20, 25], [25, 25]])
        #expect(try store.counter() == 25)
        let versions = try StoreFixtures.allVersions(store)
        #expect(versions.count == 25)
        #expect(Set(versions.map(\.dot.counter)) == Set(1...25))
        #expect(versions.allSatisfy { store.publicKey.isValidSignature(of: $0) && $0.partition.rawValue == "SD-DN" })
        #expect(try store.status().documentsPerCollection[Self.observations] == 25)
        #expect(try store.knowledge()[store.replicaID] == 25)
        // A write after the import takes the next counter.
        let next = try store.write(WriteIntent(key: StoreFixtures.key("after"), body: StoreFixtures.body("x")))
        #expect(next.dot.counter == 26)
    }

    @Test("one bad line writes nothing and is named by line, field and reason; --skip-invalid writes the others")
    func badLinesWriteNothing() throws {
        let folder = try TemporaryReplica()
        let store = try folder.create("field")
        let data = Self.lines([
            Self.observation(), Self.observation(region: "XX-1", country: "SD"), "{not json", "", Self.observation(id: "obs-1"),
            #"{"id": 7, "schema_version": 1}"#, Self.observation(id: "obs-1"),
        ])
        let refused = try store.importRecords(data, format: .jsonl, into: Self.observations)
        #expect(refused.written == 0)
        #expect(refused.records == 6)
        try #require(refused.issues.map(\.line) == [2, 3, 6, 7])
        #expect(refused.issues[0].field == "location.admin1")
        #expect(refused.issues[1].field == ImportIssue.wholeLine)
        #expect(refused.issues[2].field == "id")
        #expect(refused.issues[3].reason == "names the same document as line 5")
        #expect(try store.counter() == 0)
        #expect(try StoreFixtures.allVersions(store).isEmpty)

        let skipped = try store.importRecords(data, format: .jsonl, into: Self.observations, skipInvalid: true)
        #expect(skipped.written == 2)
        #expect(skipped.issues.map(\.line) == [2, 3, 6, 7])
        #expect(try store.document(DocumentKey(collection: Self.observations, id: DocumentID("obs-1")!)) != nil)
    }

    @Test("an id names a new version of a held document; one in conflict is refused before anything is written")
    func namedIdsFollowTheWriteRules() throws {
        let folder = try TemporaryReplica()
        let (store, other) = (try folder.create("field"), try folder.create("other"))
        let key = DocumentKey(collection: Self.observations, id: DocumentID("obs-1")!)
        let first = try store.write(WriteIntent(key: key, body: Data(Self.observation().utf8)))
        let outcome = try store.importRecords(
            Self.lines([Self.observation(notes: "amended", id: "obs-1")]), format: .jsonl, into: Self.observations)
        #expect(outcome.written == 1)
        let document = try #require(try store.document(key))
        #expect(document.siblings.count == 1)
        #expect(document.state.context.contains(first.dot), "the new version supersedes the one held")
        #expect(document.siblings.first?.body.map { String(decoding: $0, as: UTF8.self).contains("amended") } == true)
        #expect(document.siblings.first?.body.map { String(decoding: $0, as: UTF8.self).contains(#""id""#) } == false)

        // A concurrent version from another replica: the document is in conflict.
        _ = try other.write(WriteIntent(key: key, body: Data(Self.observation(notes: "elsewhere").utf8)))
        _ = try StoreFixtures.exchange(from: other, to: store)
        #expect(try store.document(key)?.isConflicted == true)
        let counter = try store.counter()
        let refused = try store.importRecords(
            Self.lines([Self.observation(), Self.observation(notes: "again", id: "obs-1")]), format: .jsonl,
            into: Self.observations)
        #expect(refused.written == 0)
        #expect(refused.issues.map(\.line) == [2])
        #expect(try store.counter() == counter)
        #expect(try store.importBatch([]).written == 0)
    }

    /// The attack: a captor copies an encrypted replica's folder after a bulk import. Imported
    /// bodies must be sealed like every other write (through `vigil_seal`), never stored in clear.
    @Test("an import into an encrypted replica seals every body")
    func encryptedImportSeals() throws {
        let folder = try TemporaryReplica()
        let store = try EncryptionTests.create(folder, "field", encrypted: true)
        let secret = "Imam Y. of Tawila, phone 0912"
        let outcome = try store.importRecords(
            Self.lines((0..<50).map { Self.observation(notes: "\(secret) \($0)") }), format: .jsonl, into: Self.observations)
        #expect(outcome.written == 50)
        let versions = try StoreFixtures.allVersions(store)
        #expect(versions.allSatisfy { $0.body.map { String(decoding: $0, as: UTF8.self).contains(secret) } == true })
        #expect(try Captor.filesHolding(Data(secret.utf8), in: folder.directory).isEmpty)
        let reopened = try ReplicaStore.open(at: store.path, options: EncryptionTests.options(folder))
        #expect(try StoreFixtures.allVersions(reopened).count == 50)
    }

    @Test("CSV rows become records: dotted names nest, empty cells are left out, typed columns hold")
    func csvImport() throws {
        let folder = try TemporaryReplica()
        let store = try folder.create("field")
        let csv = #"""
            id,schema_version,report_kind,event_date,event_type,sub_event_type,actor1.name,actor1.inter,location.country,location.admin1,observation_mode,notes:string,fatalities.count
            c-1,1,incident,2026-03-01,Violence against civilians,Attack,"Armed group, ""north""",3,SD,SD-DN,witness_account,12,
            c-2,1,incident,2026-03-02,Violence against civilians,Attack,Militia,three,SD,SD-DN,witness_account,,4
            """#
        let outcome = try store.importRecords(Data(csv.utf8), format: .csv, into: Self.observations)
        #expect(outcome.written == 0)
        #expect(outcome.issues.map(\.line) == [3])
        #expect(outcome.issues.first?.field == "actor1.inter")
        let fixed = try store.importRecords(
            Data(csv.replacingOccurrences(of: "Militia,three", with: "Militia,3").utf8), format: .csv, into: Self.observations)
        #expect(fixed.written == 2)
        let body = try #require(try store.document(DocumentKey(collection: Self.observations, id: DocumentID("c-1")!))?.siblings.first?.body)
        let fields = try #require(try JSONValue(parsing: body).objectValue)
        #expect(fields["notes"] == .string("12"))
        #expect(fields["actor1"]?.objectValue?["name"] == .string(#"Armed group, "north""#))
        #expect(fields["actor1"]?.objectValue?["inter"] == .number(3))
        #expect(fields["fatalities"] == nil)
        #expect(fields["id"] == nil)
    }

    @Test("a free-JSON collection takes the partition given; a record collection refuses another one")
    func partitions() throws {
        let folder = try TemporaryReplica()
        let store = try folder.create("field")
        let notes = Self.lines([#"{"text": "a"}"#, #"{"text": "b", "id": "n-2"}"#])
        #expect(try store.importRecords(notes, format: .jsonl, into: StoreFixtures.notes, partition: StoreFixtures.north).written == 2)
        #expect(try StoreFixtures.allVersions(store).allSatisfy { $0.partition == StoreFixtures.north })
        let refused = try store.importRecords(
            Self.lines([Self.observation()]), format: .jsonl, into: Self.observations, partition: StoreFixtures.north)
        #expect(refused.written == 0 && refused.issues.count == 1)
    }
}

/// Progress calls seen, in order.
private final class Counter: Sendable {
    private let seen = Mutex<[[Int]]>([])
    func add(_ written: Int, _ total: Int) { seen.withLock { $0.append([written, total]) } }
    var values: [[Int]] { seen.withLock { $0 } }
}
