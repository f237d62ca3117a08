import Foundation
public import SyncEngine
package import GRDB

extension ReplicaStore {
    /// Applies versions received from `peer` in one transaction: stores each new one and merges it
    /// into its document's state. Idempotent and order-independent; a version already held is
    /// skipped. A version whose dot is held with another signature is not stored and is reported
    /// in ``ApplyReport/forks``. A version that would move its document to another partition is
    /// stored but set aside.
    ///
    /// `inSameTransaction` runs after the versions are applied and before the commit, so that a
    /// caller can save a pull checkpoint atomically with the page it covers.
    ///
    /// `admit`, when given, decides for each new version, inside the transaction, whether it is
    /// merged, stored but set aside, or refused (not stored); it is told the highest counter held
    /// of the version's origin so far, so a hub can refuse gaps. After a fork of an origin, the
    /// batch's later versions of that origin are refused.
    ///
    /// A version whose context claims more than this replica holds plus the batch
    /// (``CausalPlausibility``) is never merged on arrival: by default it is stored and held aside
    /// until later batches bring what it names (then it is merged, like a causal delivery buffer);
    /// with `implausible: .refuse` (the hub) it is not stored at all.
    ///
    /// `othersForks` says what becomes of a version of another origin whose dot is held here with
    /// another signature (``OthersForks``); a fork of this replica's own id is always reported.
    @discardableResult
    public func apply(
        _ versions: [Version], from peer: ReplicaID?,
        admit: (@Sendable (_ version: Version, _ heldCounter: UInt64) -> Admission)? = nil,
        implausible: ImplausibleContexts = .holdUntilPlausible, vouched: VersionVector = VersionVector(),
        othersForks: OthersForks = .refuse, inSameTransaction: (@Sendable (ApplyContext) throws -> Void)? = nil
    ) throws -> ApplyReport {
        try apply(
            versions, from: peer, admit: admit, implausible: implausible, vouched: vouched, othersForks: othersForks
        ) { context in
            try inSameTransaction?(context)
        }.report
    }

    /// ``apply(_:from:admit:implausible:vouched:othersForks:inSameTransaction:)`` whose last step,
    /// `completing`, returns what it did: a hub's push quarantines, audits and merges in the same
    /// transaction.
    public func apply<Outcome: Sendable>(
        _ versions: [Version], from peer: ReplicaID?,
        admit: (@Sendable (_ version: Version, _ heldCounter: UInt64) -> Admission)?,
        implausible: ImplausibleContexts, vouched: VersionVector = VersionVector(), othersForks: OthersForks = .refuse,
        completing: @Sendable (ApplyContext) throws -> Outcome
    ) throws -> (report: ApplyReport, outcome: Outcome) {
        let now = options.now()
        let insertVersion = Rows.insertVersion(sealing: cipher.isEncrypting)
        return try write { db in
            let own = try ReplicaStore.currentReplicaID(db)
            // The documents whose held copy of a forked dot gave way to the peer's: rebuilt last.
            var replacedIn = Set<DocumentKey>()
            var report = ApplyReport()
            // The documents of the batch read so far and what merging did to them; a new document
            // is stored as its first version arrives, and read back only if another follows.
            var records: [DocumentKey: DocumentRecord] = [:]
            var changed = Set<DocumentKey>()
            var known: [Dot: (isTombstone: Bool, wall: UInt64)] = [:]
            var held = try Knowledge.load(db, origins: CausalPlausibility.origins(of: versions))
            // A context may claim only what this replica holds plus what arrives with it, or what
            // the peer vouches it holds (a replica with a read scope holds nothing outside it).
            var bound = held
            bound.merge(vouched)
            let plausibility = CausalPlausibility(held: bound, batch: versions)
            var raised: [ReplicaID: UInt64] = [:]
            var forked = Set<ReplicaID>()
            var latest = HybridTimestamp.zero
            let lookup = try db.cachedStatement(sql: "SELECT signature FROM versions WHERE origin = ? AND counter = ?")
            let insert = try db.cachedStatement(sql: insertVersion)
            let insertDocument = try db.cachedStatement(sql: DocumentRecord.insertNew)
            for version in versions {
                let origin = version.dot.replica
                if forked.contains(origin) {
                    report.refused.append(version.dot)
                    continue
                }
                // Knowledge is the highest counter held of each origin, so only a version at or
                // below it can already be here.
                let heldCounter = held[origin]
                if version.dot.counter <= heldCounter,
                    let signature = try Data.fetchOne(lookup, arguments: [origin.hex, Int64(version.dot.counter)])
                {
                    if signature == version.signature {
                        report.alreadyHeld += 1
                        continue
                    }
                    guard othersForks == .takePeers, origin != own else {
                        report.forks.append(version.dot)
                        forked.insert(origin)
                        continue
                    }
                    // The peer's version takes the dot; the copy held here is kept apart.
                    if let key = try ForkedCopies.moveOut(db, version.dot, reason: "forked origin: the hub holds another version at \(version.dot)") {
                        replacedIn.insert(key)
                    }
                    report.replacedForks.append(version.dot)
                }
                var setAsideReason: SetAsideReason?
                switch admit?(version, heldCounter) ?? .merge {
                case .merge: setAsideReason = plausibility.problem(of: version).map(SetAsideReason.implausible)
                case .setAside(let reason): setAsideReason = reason
                case .refuse:
                    report.refused.append(version.dot)
                    continue
                }
                if implausible == .refuse, let reason = setAsideReason, reason.code == .implausibleContext {
                    report.refused.append(version.dot)
                    report.implausible[version.dot] = reason
                    continue
                }
                let key = version.key
                // A document the batch has not read yet is stored as new, unless the replica holds
                // it: then it is read, and merged into below.
                var isNew = false
                if setAsideReason == nil, records[key] == nil {
                    isNew = try DocumentRecord.storeNew(db, version, with: insertDocument)
                    if !isNew { records[key] = try DocumentRecord.load(db, key) }
                }
                let record = records[key] ?? DocumentRecord(key: key, partition: version.partition)
                if setAsideReason == nil, !isNew, record.partition != version.partition {
                    setAsideReason = SetAside.partitionMove(of: version, from: record.partition)
                }
                try insert.execute(arguments: Rows.versionArguments(version, receivedFrom: peer, setAsideReason: setAsideReason))
                report.stored += 1
                if version.dot.counter > heldCounter {
                    held[origin] = version.dot.counter
                    raised[origin] = version.dot.counter
                }
                if let setAsideReason {
                    report.setAside[version.dot] = setAsideReason
                    continue
                }
                latest = max(latest, version.timestamp)
                if isNew { continue }
                var merged = record
                if case .added = try merged.merge(db, version) {
                    known[version.dot] = (version.isTombstone, version.timestamp.wallMilliseconds)
                    records[key] = merged
                    changed.insert(key)
                }
            }
            try Knowledge.raise(db, to: raised)
            // Its own versions coming back (a hub or replica restored from a backup) raise its counter
            // in this transaction: its next write, a hub's merge included, never reuses their dots.
            if let ownRaised = raised[own] {
                try ApplyContext(db: db).raiseCounter(toAtLeast: ownRaised)
            }
            if implausible == .holdUntilPlausible, !raised.isEmpty || !vouched.isEmpty {
                report.released = try SetAside.releasePlausible(
                    db, vouched: vouched, records: &records, changed: &changed, known: &known)
            }
            for key in changed { try records[key]?.save(db, known: known) }
            for key in replacedIn { try Self.rebuildState(db, key) }
            if latest > .zero { try ClockRow.observe(db, latest, now: now) }
            let outcome = try completing(ApplyContext(db: db, report: report))
            return (report, outcome)
        }
    }
}

/// What `apply` does with a version whose context claims more than the replica holds.
public enum ImplausibleContexts: Sendable, Hashable {
    /// Store it set aside, and merge it once what it names has arrived (field replicas: a page
    /// delivered out of causal order heals, a forged claim waits forever).
    case holdUntilPlausible
    /// Do not store it (a hub: the pusher is told, and pushes it again with what it names).
    case refuse
}

/// What `apply` does with a version of another origin whose dot this replica holds with another
/// signature (that origin forked: a device restored from a backup, or copied, wrote the dot twice).
public enum OthersForks: Sendable, Hashable {
    /// Report it in ``ApplyReport/forks`` and refuse the batch's later versions of that origin
    /// (a hub; a bundle, whose versions are no better than the copy held).
    case refuse
    /// Take the peer's version in its place (a pull from the hub, whose feed is the network's
    /// record of the dot: the hub refuses the other copy to everyone): the copy held here moves to
    /// `forked_versions` and its document is rebuilt without it. The forked device's own
    /// incarnation re-issues that copy's content under a new id, which arrives like any version.
    case takePeers
}

/// The copies of forked dots a replica keeps out of its versions.
enum ForkedCopies {
    /// Keeps a version in `forked_versions` (its body sealed as the versions' are) with `reason`.
    static let keep = """
        INSERT OR REPLACE INTO forked_versions (origin, counter, version, reason)
        VALUES (?1, ?2, vigil_seal(?3, 'forked_versions', ?1, ?2), ?4)
        """

    /// Moves the version held at `dot` from `versions` to `forked_versions` with `reason`;
    /// returns its document, or nil when none is held there.
    static func moveOut(_ db: Database, _ dot: Dot, reason: String) throws -> DocumentKey? {
        let arguments: StatementArguments = [dot.replica.hex, Int64(clamping: dot.counter)]
        guard let row = try Row.fetchOne(
            db, sql: "SELECT \(Rows.versionColumns) FROM versions WHERE origin = ? AND counter = ?", arguments: arguments)
        else { return nil }
        let version = try Rows.version(row)
        let json = String(decoding: try JSONEncoder().encode(version), as: UTF8.self)
        try db.execute(sql: keep, arguments: arguments + [json, reason])
        try db.execute(sql: "DELETE FROM versions WHERE origin = ? AND counter = ?", arguments: arguments)
        return version.key
    }
}

/// Access to the transaction in which a batch is applied, for writes that must commit with it
/// (a pull checkpoint with the page it covers, a hub's audit entries for what it set aside).
public struct ApplyContext {
    package let db: Database
    /// What the batch did: the report `apply` returns once the transaction commits.
    public internal(set) var report = ApplyReport()

    /// Why each of `dots` held set aside was set aside, read in the transaction; dots not held or
    /// in good standing are absent.
    public func setAsideReasons(of dots: [Dot]) throws -> [Dot: SetAsideReason] {
        dots.isEmpty ? [:] : try ReplicaStore.setAsideReasons(db, of: dots)
    }
}

/// The knowledge table: the highest counter received of each origin.
package enum Knowledge {
    package static func raise(_ db: Database, to counters: [ReplicaID: UInt64]) throws {
        let statement = try db.cachedStatement(sql: """
            INSERT INTO knowledge (origin, counter) VALUES (?, ?)
            ON CONFLICT (origin) DO UPDATE SET counter = max(counter, excluded.counter)
            """)
        for (origin, counter) in counters { try statement.execute(arguments: [origin.hex, Int64(counter)]) }
    }

    /// The entries of `origins` (absent ones are 0).
    package static func load(_ db: Database, origins: Set<ReplicaID>) throws -> VersionVector {
        var vector = VersionVector()
        let statement = try db.cachedStatement(sql: "SELECT counter FROM knowledge WHERE origin = ?")
        for origin in origins {
            vector[origin] = UInt64(max(0, try Int64.fetchOne(statement, arguments: [origin.hex]) ?? 0))
        }
        return vector
    }

    package static func load(_ db: Database) throws -> VersionVector {
        var vector = VersionVector()
        for row in try Row.fetchAll(db, sql: "SELECT origin, counter FROM knowledge") {
            if let origin = ReplicaID(row[0] as String) { vector[origin] = UInt64(max(0, row[1] as Int64)) }
        }
        return vector
    }
}

/// The replica row's hybrid logical clock.
enum ClockRow {
    static func observe(_ db: Database, _ remote: HybridTimestamp, now: UInt64) throws {
        guard let row = try Row.fetchOne(db, sql: "SELECT clock_wall, clock_logical FROM replica") else { return }
        var clock = HybridLogicalClock(
            last: HybridTimestamp(wallMilliseconds: UInt64(row[0] as Int64), logical: UInt32(row[1] as Int64)))
        clock.observe(remote, now: now)
        try db.execute(
            sql: "UPDATE replica SET clock_wall = ?, clock_logical = ?",
            arguments: [Int64(clock.last.wallMilliseconds), Int64(clock.last.logical)])
    }
}

/// Marking versions as set aside: kept, shown, but out of their documents' states.
public enum SetAside {
    /// The reason kept for `version` when its document is held here in another partition.
    static func partitionMove(of version: Version, from partition: Partition) -> SetAsideReason {
        SetAsideReason(.partitionMove, "it moves \(version.key) from partition '\(partition)' to '\(version.partition)'")
    }

    /// Merges the versions held aside as implausible whose context the replica's knowledge now
    /// covers, again and again while releasing one covers another; returns their dots. Rare: the
    /// query reads only set-aside rows (a partial index).
    static func releasePlausible(
        _ db: Database, vouched: VersionVector, records: inout [DocumentKey: DocumentRecord], changed: inout Set<DocumentKey>,
        known: inout [Dot: (isTombstone: Bool, wall: UInt64)]
    ) throws -> [Dot] {
        var waiting = try Row.fetchAll(
            db,
            sql: """
                SELECT \(Rows.versionColumns) FROM versions
                WHERE set_aside_reason IS NOT NULL AND set_aside_code = '\(SetAsideReason.Code.implausibleContext.rawValue)' ORDER BY seq
                """
        ).map(Rows.version)
        var released: [Dot] = []
        var progress = true
        while progress, !waiting.isEmpty {
            progress = false
            var bound = try Knowledge.load(db, origins: CausalPlausibility.origins(of: waiting))
            bound.merge(vouched)
            let check = CausalPlausibility(held: bound, batch: [])
            for version in waiting where check.problem(of: version) == nil {
                var record = try records[version.key] ?? DocumentRecord.loadAll(db, [version.key])[version.key]
                    ?? DocumentRecord(key: version.key, partition: version.partition)
                if record.partition != version.partition {
                    try mark(db, version.dot, reason: partitionMove(of: version, from: record.partition))
                } else {
                    try db.execute(
                        sql: "UPDATE versions SET set_aside_reason = NULL, set_aside_code = NULL WHERE origin = ? AND counter = ?",
                        arguments: [version.dot.replica.hex, Int64(version.dot.counter)])
                    if case .added = try record.merge(db, version) {
                        known[version.dot] = (version.isTombstone, version.timestamp.wallMilliseconds)
                        changed.insert(version.key)
                    }
                    records[version.key] = record
                    released.append(version.dot)
                }
                progress = true
            }
            if progress { waiting.removeAll { check.problem(of: $0) == nil } }
        }
        return released
    }

    static func mark(_ db: Database, _ dot: Dot, reason: SetAsideReason) throws {
        try db.execute(
            sql: "UPDATE versions SET set_aside_reason = ?, set_aside_code = ? WHERE origin = ? AND counter = ?",
            arguments: [reason.detail, reason.code.rawValue, dot.replica.hex, Int64(dot.counter)])
    }
}
