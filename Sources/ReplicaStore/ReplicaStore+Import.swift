public import Foundation
public import SyncEngine
public import Records
import GRDB
import Synchronization

/// A record checked for a bulk import against the rules a write applies (``ReplicaStore/write(_:)``):
/// made only by ``ReplicaStore/checkImport(_:collection:partition:)``, written by
/// ``ReplicaStore/importBatch(_:)``.
public struct ImportRecord: Sendable, Hashable {
    /// The line of the file the record starts on.
    public let line: Int
    public let key: DocumentKey
    /// The partition the record's content implies, or the one given for a free-JSON collection;
    /// nil for the default.
    public let partition: Partition?
    public let body: Data
    /// Whether the file named the id (a generated one names no existing document).
    public let isNamed: Bool
}

/// What one batch of an import wrote.
public struct ImportBatchResult: Sendable, Hashable {
    /// How many records became new versions.
    public var written: Int
    /// The records the replica refused as it held their documents then (in conflict, in another
    /// partition), each with why; nothing of them was written.
    public var refused: [ImportIssue]
}

/// An import the replica stopped midway (busy, full, read-only): the batches before the failure
/// stay written.
public struct ImportInterrupted: Error, Sendable {
    /// The records written before the failure.
    public var written: Int
    /// The records the import was to write.
    public var records: Int
    /// What stopped it.
    public var cause: StoreError
}

/// What an import did.
public struct ImportOutcome: Sendable, Hashable {
    /// The records the file held (valid or not).
    public var records: Int
    /// How many became new versions.
    public var written: Int
    /// The bad lines, by line number: not written.
    public var issues: [ImportIssue]
}

extension ReplicaStore {
    /// The most records one import takes.
    public static let maximumImportRecords = 1_000_000

    /// Imports the records of an import file (see ``ImportReader`` for the formats) into
    /// `collection`: every record is read and checked first (``checkImport(_:collection:partition:)``,
    /// ``importRefusals(_:)``, an id named twice); then, unless a record is bad and `skipInvalid` is
    /// false (then nothing is written), the good ones are written in transactions of `batchSize`
    /// (``importBatch(_:)``), `progress` told the count written after each. A record refused at
    /// write time (another process changed its document since the check) is reported in the
    /// outcome; the batches before it stay written.
    ///
    /// Throws ``ImportIssue`` when the file cannot be imported at all (a CSV header that cannot be
    /// used, more than ``maximumImportRecords`` records), ``StoreError`` when the replica fails
    /// before anything is written, ``ImportInterrupted`` when it fails after a batch was.
    public func importRecords(
        _ data: Data, format: ImportFormat, into collection: CollectionName, partition: Partition? = nil,
        skipInvalid: Bool = false, batchSize: Int = 5_000, sealing: InformantSealing = .keep,
        progress: ((_ written: Int, _ total: Int) -> Void)? = nil
    ) throws -> ImportOutcome {
        let (entries, unread) = try Self.readImport(data, format: format, maximumLineSize: options.maximumBodySize)
        var issues = unread
        var records: [ImportRecord] = []
        var named: [DocumentKey: Int] = [:]
        let checked = Self.inParallel(entries.count) { range in
            var random = BufferedRandom()
            return entries[range].map {
                checkImport($0, collection: collection, partition: partition, sealing: sealing, random: &random)
            }
        }
        for result in checked.joined() {
            switch result {
            case .failure(let issue): issues.append(issue)
            case .success(let record):
                if record.isNamed, let earlier = named.updateValue(record.line, forKey: record.key) {
                    issues.append(ImportIssue(
                        line: record.line, field: ImportReader.idField, reason: "names the same document as line \(earlier)"))
                } else {
                    records.append(record)
                }
            }
        }
        let refused = try importRefusals(records)
        if !refused.isEmpty {
            let lines = Set(refused.map(\.line))
            records.removeAll { lines.contains($0.line) }
            issues += refused
        }
        var outcome = ImportOutcome(records: entries.count + unread.count, written: 0, issues: issues)
        if issues.isEmpty || skipInvalid {
            let size = max(1, min(batchSize, Self.maximumImportBatch))
            for start in stride(from: 0, to: records.count, by: size) {
                let batch: ImportBatchResult
                do {
                    batch = try importBatch(Array(records[start..<min(start + size, records.count)]))
                } catch let error as StoreError where outcome.written > 0 {
                    // Said with what is written already: importing the file again writes its
                    // records without an id again (their ids are drawn anew).
                    throw ImportInterrupted(written: outcome.written, records: records.count, cause: error)
                }
                outcome.written += batch.written
                outcome.issues += batch.refused
                progress?(outcome.written, records.count)
            }
        }
        outcome.issues.sort { $0.line < $1.line }
        return outcome
    }

    /// The entries of an import file and the issues of its lines that cannot be read.
    private static func readImport(
        _ data: Data, format: ImportFormat, maximumLineSize: Int
    ) throws -> (entries: [ImportEntry], issues: [ImportIssue]) {
        var reader = try ImportReader(data, format: format, maximumLineSize: maximumLineSize)
        var entries: [ImportEntry] = []
        var issues: [ImportIssue] = []
        while let next = reader.next() {
            switch next {
            case .success(let entry): entries.append(entry)
            case .failure(let issue): issues.append(issue)
            }
            guard entries.count + issues.count <= maximumImportRecords else {
                throw ImportIssue(
                    line: (entries.last?.line ?? 0) + 1, field: ImportIssue.wholeLine,
                    reason: "the file holds more than \(maximumImportRecords) records, the most one import takes; import it in parts")
            }
        }
        return (entries, issues)
    }

    /// The largest batch ``importBatch(_:)`` takes.
    public static let maximumImportBatch = 10_000

    /// Checks one entry of an import file as a write of its body to `collection` would be checked:
    /// the record rules of the collection's kind (every broken field named), the body's size and
    /// shape, and the id. The partition is the one the record implies; `partition` applies to a
    /// collection of free JSON only (for a record collection it must be nil or the implied one).
    public func checkImport(
        _ entry: ImportEntry, collection: CollectionName, partition: Partition?
    ) -> Result<ImportRecord, ImportIssue> {
        var random = SystemRandomNumberGenerator()
        return checkImport(entry, collection: collection, partition: partition, random: &random)
    }

    /// ``checkImport(_:collection:partition:)``, a new id drawn from `random` when the entry names none.
    func checkImport(
        _ entry: ImportEntry, collection: CollectionName, partition: Partition?, sealing: InformantSealing = .keep,
        random: inout some RandomNumberGenerator
    ) -> Result<ImportRecord, ImportIssue> {
        let id: DocumentID
        if let named = entry.id {
            guard let parsed = DocumentID(named) else {
                return .failure(ImportIssue(
                    line: entry.line, field: ImportReader.idField,
                    reason: "is not a document id (1 to 128 letters, digits, '.', '_', '-' or ':')"))
            }
            id = parsed
        } else {
            id = DocumentID.generate(millisecondsSince1970: options.now(), using: &random)
        }
        let check: RecordCheck
        do {
            check = try RecordCatalog.validate(collection: collection, body: entry.body, maximumSize: options.maximumBodySize)
        } catch {
            return .failure(issue(of: error, entry: entry, collection: collection))
        }
        if let implied = check.partition, let partition, implied != partition {
            return .failure(ImportIssue(
                line: entry.line, field: ImportIssue.wholeLine,
                reason: "the record's region is '\(implied)', not the partition '\(partition)' given"))
        }
        let key = DocumentKey(collection: collection, id: id)
        let body: Data
        switch Self.sealed(entry, key: key, sealing) {
        case .success(let sealed): body = sealed
        case .failure(let issue): return .failure(issue)
        }
        return .success(ImportRecord(
            line: entry.line, key: key, partition: check.partition ?? partition, body: body, isNamed: entry.id != nil))
    }

    /// The entry's body with its informant reference in clear sealed as `sealing` says (checked in
    /// clear before); refused when the replica has no key to seal it to.
    private static func sealed(_ entry: ImportEntry, key: DocumentKey, _ sealing: InformantSealing) -> Result<Data, ImportIssue> {
        let field = ImportIssue.informantReference
        switch sealing {
        case .keep:
            return .success(entry.body)
        case .refuse:
            guard InformantSeal.referenceInClear(in: entry.body, collection: key.collection) != nil else { return .success(entry.body) }
            return .failure(ImportIssue(line: entry.line, field: field, reason: "cannot be sealed: this replica holds no informant key yet"))
        case .seal(let informantKey):
            do {
                return .success(
                    try InformantSeal.sealingReference(in: entry.body, to: informantKey, collection: key.collection, id: key.id)
                        ?? entry.body)
            } catch {
                return .failure(ImportIssue(line: entry.line, field: field, reason: "cannot be sealed: \(error)"))
            }
        }
    }

    /// The issue of a body that fails its check: every broken field of a record, else the sentence.
    private func issue(of error: any Error, entry: ImportEntry, collection: CollectionName) -> ImportIssue {
        let issues = entry.body.count > options.maximumBodySize ? [] : RecordCatalog.issues(collection: collection, body: entry.body)
        guard let first = issues.first, first.path != "(body)" else {
            let message = (error as? SyncEngineError)?.message ?? "\(error)"
            return ImportIssue(line: entry.line, field: ImportIssue.wholeLine, reason: message)
        }
        let reason = ([String(first.description.dropFirst(first.path.count + 1))] + issues.dropFirst().map(\.description))
            .joined(separator: " | ")
        return ImportIssue(line: entry.line, field: first.path, reason: reason)
    }

    /// The records among `records` that name a document this replica holds and could not be
    /// written now (the document is in conflict, or in another partition), with why. Read only: an
    /// import checks every line before it writes any.
    public func importRefusals(_ records: [ImportRecord]) throws -> [ImportIssue] {
        let named = records.filter(\.isNamed)
        guard !named.isEmpty else { return [] }
        return try read { db in
            let existing = try DocumentRecord.loadAll(db, Set(named.map(\.key)))
            let replicaID = try Self.currentReplicaID(db)
            return try named.compactMap { record in
                guard let held = existing[record.key] else { return nil }
                do {
                    _ = try Self.importPlan(db, record, existing: held, replicaID: replicaID)
                    return nil
                } catch let error as SyncEngineError {
                    return Self.refusal(error, record: record)
                }
            }
        }
    }

    /// Writes `records` (at most ``maximumImportBatch``) as new versions in one transaction, each
    /// as ``write(_:)`` writes a new version without a base: its replica's next counter, signed, its
    /// document's state merged, the counter, clock and knowledge kept with it. A record whose
    /// document the replica now holds in conflict or in another partition, or whose document an
    /// earlier record of the batch names, is refused and reported; the others are written.
    public func importBatch(_ records: [ImportRecord]) throws -> ImportBatchResult {
        guard records.count <= Self.maximumImportBatch else {
            throw StoreError(.io, "An import batch holds \(records.count) records; the limit is \(Self.maximumImportBatch).")
        }
        guard !records.isEmpty else { return ImportBatchResult(written: 0, refused: []) }
        let now = options.now()
        let key = self.key
        let insertVersion = Rows.insertVersion(sealing: cipher.isEncrypting)
        return try write { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT counter, clock_wall, clock_logical, replica_id FROM replica"),
                let replicaID = ReplicaID(row[3] as String)
            else {
                throw StoreError(.notAReplica, "The replica's identity row is missing; the file is damaged.")
            }
            var clock = HybridLogicalClock(
                last: HybridTimestamp(wallMilliseconds: UInt64(row[1] as Int64), logical: UInt32(row[2] as Int64)))
            var counter = UInt64(row[0] as Int64)
            var planned: [(record: DocumentRecord, version: Version)] = []
            var refused: [ImportIssue] = []
            var seen: [DocumentKey: Int] = [:]
            let existing = try DocumentRecord.loadAll(db, Set(records.filter(\.isNamed).map(\.key)))
            for record in records {
                if let earlier = seen.updateValue(record.line, forKey: record.key) {
                    refused.append(ImportIssue(
                        line: record.line, field: ImportReader.idField, reason: "names the same document as line \(earlier)"))
                    continue
                }
                let plan: WritePlan
                do {
                    plan = try Self.importPlan(db, record, existing: existing[record.key], replicaID: replicaID)
                } catch let error as SyncEngineError {
                    refused.append(Self.refusal(error, record: record))
                    continue
                }
                counter += 1
                guard counter <= Dot.maxCounter else {
                    throw StoreError(.io, "This replica has used every counter; create a new replica.")
                }
                let version = Version(
                    dot: Dot(replica: replicaID, counter: counter), collection: record.key.collection,
                    documentID: record.key.id, partition: plan.partition, context: plan.context, body: record.body,
                    timestamp: clock.tick(now: now))
                planned.append((existing[record.key] ?? DocumentRecord(key: record.key, partition: plan.partition), version))
            }
            let insert = try db.cachedStatement(sql: insertVersion)
            let insertDocument = try db.cachedStatement(sql: DocumentRecord.insertNew)
            var written = 0
            try Self.signInTurn(planned.map(\.version), with: key) { signed in
                for version in signed {
                    try insert.execute(arguments: Rows.versionArguments(version, receivedFrom: nil))
                    // A document the replica does not hold (every generated id) is stored as new.
                    var document = planned[written].record
                    let stored = try !document.isStored && DocumentRecord.storeNew(db, version, with: insertDocument)
                    if !stored {
                        document.state.merge(version)
                        try document.save(db, known: [version.dot: (version.isTombstone, version.timestamp.wallMilliseconds)])
                    }
                    written += 1
                }
            }
            if written > 0 {
                try db.execute(
                    sql: "UPDATE replica SET counter = ?, clock_wall = ?, clock_logical = ?",
                    arguments: [Int64(counter), Int64(clock.last.wallMilliseconds), Int64(clock.last.logical)])
                try db.execute(
                    sql: "INSERT OR REPLACE INTO knowledge (origin, counter) VALUES (?, ?)",
                    arguments: [replicaID.hex, Int64(counter)])
            }
            return ImportBatchResult(written: written, refused: refused)
        }
    }

    /// The plan ``write(_:)`` makes for a record without a base: what the replica holds of the
    /// document, with its own versions of it (set aside or forgotten ones too). A generated id
    /// (a new random UUIDv7) names nothing held, so only a named one is looked up.
    private static func importPlan(
        _ db: Database, _ record: ImportRecord, existing: DocumentRecord?, replicaID: ReplicaID
    ) throws -> WritePlan {
        try WriteIntent(key: record.key, partition: record.partition, body: record.body).plan(DocumentHolding(
            state: existing?.state ?? DocumentState(), partition: existing?.partition,
            ownHistory: record.isNamed ? try ownHistory(db, of: record.key, origin: replicaID) : VersionVector()))
    }

    private static func refusal(_ error: SyncEngineError, record: ImportRecord) -> ImportIssue {
        ImportIssue(line: record.line, field: ImportReader.idField, reason: "\(record.key.id): \(error.message)")
    }

    /// `versions` signed with `key`, on every core (signing is most of an import's time).
    private static func sign(_ versions: [Version], with key: DeviceKey) throws -> [Version] {
        try inParallel(versions.count) { range in Result { try versions[range].map { try key.sign($0) } } }
            .flatMap { try $0.get() }
    }

    /// The versions ``signInTurn(_:with:_:)`` signs at once.
    static let signingChunk = 256

    /// Hands `versions`, signed with `key`, to `write` in order, a chunk at a time, each chunk
    /// signed on every core while `write` stores the one before: signing (three quarters of a
    /// version's cost) and writing overlap instead of taking turns.
    private static func signInTurn(
        _ versions: [Version], with key: DeviceKey, _ write: ([Version]) throws -> Void
    ) throws {
        var start = min(signingChunk, versions.count)
        var signed = try sign(Array(versions[..<start]), with: key)
        while !signed.isEmpty {
            let end = min(start + signingChunk, versions.count)
            let next = SignedChunk()
            let group = DispatchGroup()
            if start < end {
                let chunk = Array(versions[start..<end])
                DispatchQueue.global().async(group: group) { next.set(Result { try sign(chunk, with: key) }) }
            }
            defer { group.wait() }
            try write(signed)
            group.wait()
            signed = try next.take()
            start = end
        }
    }

    /// `part` run over `0..<count` cut in one range per core (one range below 128 items), in order.
    static func inParallel<T: Sendable>(_ count: Int, _ part: @Sendable (Range<Int>) -> T) -> [T] {
        let parts = max(1, min(ProcessInfo.processInfo.activeProcessorCount, count / 64))
        let size = (count + parts - 1) / parts
        let results = Mutex<[Int: T]>([:])
        DispatchQueue.concurrentPerform(iterations: parts) { index in
            let result = part((index * size)..<min(count, (index + 1) * size))
            results.withLock { $0[index] = result }
        }
        return results.withLock { results in (0..<parts).compactMap { results[$0] } }
    }
}

/// The versions one thread signs for another: set once, taken once (empty when never set).
private final class SignedChunk: Sendable {
    private let result = Mutex<Result<[Version], any Error>?>(nil)

    func set(_ value: Result<[Version], any Error>) { result.withLock { $0 = value } }

    func take() throws -> [Version] { try result.withLock { $0 }?.get() ?? [] }
}

/// The system's secure random bytes read 4 KiB at a time from `/dev/urandom` (the system
/// generator when it cannot be read): a new document id takes 16 draws, and one system call for
/// each was a tenth of a bulk import's time.
struct BufferedRandom: RandomNumberGenerator {
    private var buffer: [UInt64] = []
    private var index = 0
    private let source = FileHandle(forReadingAtPath: "/dev/urandom")

    mutating func next() -> UInt64 {
        if index == buffer.count { refill() }
        defer { index += 1 }
        return buffer[index]
    }

    private mutating func refill() {
        index = 0
        let bytes = (try? source?.read(upToCount: 4096)) ?? nil
        guard let bytes, bytes.count >= 8 else {
            var system = SystemRandomNumberGenerator()
            buffer = [system.next()]
            return
        }
        buffer = bytes.withUnsafeBytes { raw in
            (0..<raw.count / 8).map { raw.loadUnaligned(fromByteOffset: $0 * 8, as: UInt64.self) }
        }
    }
}
