public import Foundation
import GRDB
public import HubStore
import Logging
import ReplicaStore
public import SyncEngine

/// A stopped SQLite hub's file, read table by table in batches so that another backend can take
/// its data (HubStore's ``HubExport``, which `PostgresHubImport` reads): the hub's identity, its
/// feed with every position as it is, its devices, codes, grants, revocations, quarantine, audit
/// log, attachments, and the console's operators with the informant key (not their sessions).
///
/// The hub's file is never written: ``reading(_:scratch:_:)`` takes a snapshot of it through a
/// read-only connection (SQLite's backup, which sees one consistent state), copies its key file
/// beside it in a private scratch folder, and opens the snapshot as the hub opens its file
/// (``SQLiteHubStorage/openOrCreate(path:options:deviceEntriesPerHour:logger:)``), with the hub's checks. (Opening
/// the hub's own file that way would write to it: a connection pool makes its write-ahead log by
/// creating and dropping a table.) Rows are checked against the kinds their columns hold: a row
/// that is not what the hub writes fails with ``HubCopyError/Code/malformedRow``, naming its table,
/// never with a crash.
public struct HubFileExport: HubExport {
    /// The hub's storage over the snapshot.
    public let storage: SQLiteHubStorage

    /// The hub's replica id: devices pinned it with its key.
    public var hubID: ReplicaID { storage.hubID }

    /// The 32 bytes of the hub's Ed25519 signing key (its key file beside the database).
    public var signingKey: Data { storage.store.key.rawRepresentation }

    /// When the hub's replica was created (milliseconds since 1970): its own certificate's time.
    public let createdAt: Int64

    /// The name of the private folder a snapshot is made in starts with this.
    public static let snapshotFolderPrefix = ".vigil-hub-snapshot-"

    /// Runs `body` with a snapshot of the hub file at `path`, made in a private folder inside
    /// `scratch` and removed afterwards. By default that is the hub file's own folder: the snapshot
    /// holds the whole database and a copy of the hub's signing key, so it stays on the volume
    /// that protects the file (Docs/Security.md), never in a temporary folder that may be outside
    /// it, where a deleted copy can still be read off the disk. It needs the file's size free
    /// there. Fails with ``StoreError/Code/replicaMissing`` when there is no file, and with
    /// ``HubCopyError/Code/notAHubFile`` for a device's replica or a file holding nothing of a hub.
    public static func reading<Result>(
        _ path: String, scratch: URL? = nil, _ body: (HubFileExport) async throws -> Result
    ) async throws -> Result {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.replicaMissing, "There is no hub database at \(path).")
        }
        let scratch = scratch ?? URL(fileURLWithPath: path).deletingLastPathComponent()
        let folder = scratch.appendingPathComponent(Self.snapshotFolderPrefix + UUID().uuidString, isDirectory: true)
        do {
            try FileManager.default.createDirectory(
                at: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        } catch {
            throw StoreError(
                .readOnly,
                "Cannot create a scratch folder in \(scratch.path) for the hub's snapshot; check that it is writable.")
        }
        defer { try? FileManager.default.removeItem(at: folder) }
        let snapshot = folder.appendingPathComponent("hub.sqlite").path
        do {
            try Self.snapshot(path, to: snapshot)
            return try await body(try HubFileExport(snapshot: snapshot, of: path))
        } catch let error as StoreError {
            // The snapshot's path means nothing to the operator: name the hub's file.
            throw StoreError(error.code, error.message.replacingOccurrences(of: snapshot, with: path))
        }
    }

    /// Copies the database at `path` (read only, one consistent state) and its key files to `snapshot`.
    private static func snapshot(_ path: String, to snapshot: String) throws {
        try StoreError.translating(path: path) {
            var configuration = Configuration()
            configuration.readonly = true
            let source = try DatabaseQueue(path: path, configuration: configuration)
            let applicationID = try source.read { db in try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0 }
            guard applicationID == Int32(0x5647_494C) else {
                throw StoreError(
                    .notAReplica, "\(path) is not a Vigil replica (another program's database, or damaged).")
            }
            try source.backup(to: try DatabaseQueue(path: snapshot))
        }
        for suffix in [".key", ".datakey"] where FileManager.default.fileExists(atPath: path + suffix) {
            do {
                try FileManager.default.copyItem(atPath: path + suffix, toPath: snapshot + suffix)
            } catch {
                throw StoreError(
                    .readOnly, "Cannot read \(path + suffix) beside the hub's database; check its permissions.")
            }
        }
    }

    /// Opens the snapshot at `path` of the hub file at `original` and checks that it is a hub's.
    private init(snapshot path: String, of original: String) throws {
        // The hub's own entry (the snapshot exists: it opens it in the hub's role, never creates).
        let quiet = Logger(label: "vigil.hub-export") { _ in SwiftLogNoOpLogHandler() }
        storage = try SQLiteHubStorage.openOrCreate(path: path, logger: quiet)
        let facts = try storage.store.read { db in
            (
                created: try Int64.fetchOne(db, sql: "SELECT created_at FROM replica") ?? 0,
                pinned: try Int.fetchOne(db, sql: "SELECT count(*) FROM trusted_hubs") ?? 0,
                dropped: try Int.fetchOne(db, sql: "SELECT count(*) FROM versions WHERE body_dropped != 0") ?? 0,
                used: try Bool.fetchOne(
                    db,
                    sql: """
                        SELECT EXISTS (SELECT 1 FROM devices) OR EXISTS (SELECT 1 FROM enrollment_codes)
                            OR EXISTS (SELECT 1 FROM audit_log)
                        """) ?? false
            )
        }
        createdAt = facts.created
        if facts.pinned > 0 {
            throw HubCopyError(
                .notAHubFile, "\(original) is a device's replica (it enrolled with a hub), not a hub's file.")
        }
        if facts.dropped > 0 {
            throw HubCopyError(
                .notAHubFile,
                "\(original) dropped the bodies of \(facts.dropped) versions after sending them, as a device does; a hub keeps every body."
            )
        }
        if !facts.used {
            throw HubCopyError(
                .notAHubFile,
                "\(original) holds no device, enrollment code or audit entry: it is not a hub's file, or a hub never used."
            )
        }
    }

    /// How many rows `table` holds (what is copied of it).
    public func count(_ table: HubExportTable) throws -> Int {
        let sql = "SELECT count(*) FROM (\(table.sqliteSelect))"
        return try storage.store.read { db in try Int.fetchOne(db, sql: sql) ?? 0 }
    }

    /// The rows of `table` after `cursor` (``HubExportCursor/start`` first), at most `limit` and
    /// about `maxBytes` (at least one), each checked against the table's columns; the cursor of
    /// the next batch, nil after the last.
    public func rows(of table: HubExportTable, after cursor: HubExportCursor, limit: Int, maxBytes: Int = 8 << 20)
        throws
        -> (rows: [[HubExportValue]], next: HubExportCursor?)
    {
        let limit = max(1, limit)
        let (sql, arguments): (String, StatementArguments) =
            switch table.order {
            case .key(let column):
                ("\(table.sqliteSelect) WHERE \(column) > ? ORDER BY \(column) LIMIT ?", [cursor.value, limit])
            case .columns(let columns):
                ("\(table.sqliteSelect) ORDER BY \(columns) LIMIT ? OFFSET ?", [limit, cursor.value])
            }
        let (raw, full) = try storage.store.read { db in
            var raw: [[DatabaseValue.Storage]] = []
            var bytes = 0
            let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
            while let row = try rows.next() {
                let values = Array(row.databaseValues.map(\.storage))
                raw.append(values)
                bytes += values.reduce(0) { total, value in
                    switch value {
                    case .blob(let data): total + data.count
                    case .string(let text): total + text.utf8.count
                    default: total + 8
                    }
                }
                if bytes >= maxBytes { return (raw, true) }
            }
            return (raw, raw.count == limit)
        }
        var rows: [[HubExportValue]] = []
        rows.reserveCapacity(raw.count)
        for (index, values) in raw.enumerated() {
            rows.append(try table.checked(values, at: cursor.value + Int64(index)))
        }
        guard full else { return (rows, nil) }
        switch table.order {
        case .key:
            guard case .integer(let last)? = rows.last?.first else { return (rows, nil) }
            return (rows, HubExportCursor(value: last))
        case .columns:
            return (rows, HubExportCursor(value: cursor.value + Int64(raw.count)))
        }
    }

    /// The highest feed position the file ever gave out (`sqlite_sequence` remembers positions of
    /// rows no longer there too): the other backend's positions continue above it.
    public func highestFeedPosition() throws -> Int64 {
        try storage.store.read { db in
            let given = try Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'versions'") ?? 0
            let held = try Int64.fetchOne(db, sql: "SELECT max(seq) FROM versions") ?? 0
            return max(given, held)
        }
    }

    /// What the file holds that `HubExportTable.all` does not copy, one sentence each (empty when
    /// nothing is left behind).
    public func leftBehind() throws -> [String] {
        let counts = try storage.store.read { db in
            try Self.leftBehindQueries.map { query in (query, try Int.fetchOne(db, sql: query.sql) ?? 0) }
        }
        return counts.compactMap { query, count in count > 0 ? query.sentence(count) : nil }
    }

    private static let leftBehindQueries: [(sql: String, sentence: @Sendable (Int) -> String)] = [
        (
            "SELECT max(count(*) - 1, 0) FROM informant_keys",
            {
                "\($0) informant key\($0 == 1 ? "" : "s") besides the network's (the first saved, which is copied): the hub on PostgreSQL keeps one."
            }
        ),
        (
            "SELECT count(*) FROM bundle_peers",
            {
                "What \($0) replica\($0 == 1 ? "" : "s") held when \($0 == 1 ? "it" : "they") sent this hub bundles: the hub on PostgreSQL does not keep it (it admits bundles without it)."
            }
        ),
        (
            "SELECT count(*) FROM peers",
            {
                "What this hub knew of \($0) peer\($0 == 1 ? "" : "s") it pulled from as a client: a hub on PostgreSQL is no client."
            }
        ),
        (
            "SELECT count(*) FROM revocations WHERE device_id IS NULL",
            {
                "\($0) revocation notice\($0 == 1 ? "" : "s") received from another hub: the hub on PostgreSQL keeps only its own revocations."
            }
        ),
    ]
}

/// How the SQLite hub's file holds each table copied.
extension HubExportTable {
    /// The query of the rows copied: the table's columns from the table of the same name, or from
    /// the rows ``sqliteSources`` names.
    var sqliteSelect: String {
        "SELECT \(columns.map(\.name).joined(separator: ", ")) FROM \(Self.sqliteSources[name] ?? name)"
    }

    /// Where the rows of the tables not copied whole come from: the audit log with its signatures
    /// (kept in a table apart), the hub's own revocations, and the one informant key copied.
    static let sqliteSources = [
        auditLog.name: "(SELECT a.*, s.signature FROM audit_log a LEFT JOIN audit_signatures s ON s.seq = a.seq)",
        revocations.name: "(SELECT * FROM revocations WHERE device_id IS NOT NULL)",
        informantKeys.name: "(SELECT * FROM informant_keys WHERE key_id = \(copiedInformantKey))",
        operatorInformantKeys.name: "(SELECT * FROM operator_informant_keys WHERE key_id = \(copiedInformantKey))",
    ]

    /// The network's informant key the copy takes: the first saved, which the hub serves (a hub
    /// makes one; the others `leftBehind()` names).
    static let copiedInformantKey = "(SELECT key_id FROM informant_keys ORDER BY saved_at, key_id LIMIT 1)"

    /// `values` as this table's columns hold them; ``HubCopyError/Code/malformedRow`` when one is not.
    func checked(_ values: [DatabaseValue.Storage], at position: Int64) throws -> [HubExportValue] {
        guard values.count == columns.count else { throw malformed(position, "has \(values.count) columns") }
        return try zip(columns, values).map { column, value in
            guard let checked = check(value, as: column) else {
                throw malformed(position, "holds an unexpected \(column.name)")
            }
            return checked
        }
    }

    private func check(_ value: DatabaseValue.Storage, as column: Column) -> HubExportValue? {
        switch (column.kind, value) {
        case (.feedTag, .null): return .integer(Int64(UInt32.random(in: .min ... .max)))
        case (_, .null): return column.nullable ? .null : nil
        case (.integer, .int64(let number)), (.feedTag, .int64(let number)): return .integer(number)
        case (.boolean, .int64(let number)): return number == 0 || number == 1 ? .boolean(number == 1) : nil
        case (.text, .string(let text)): return .text(text)
        case (.replicaID, .string(let text)): return ReplicaID(text) == nil ? nil : .text(text)
        case (.blob, .blob(let data)): return .blob(data)
        case (.textArray, .string(let text)):
            guard let array = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String] else { return nil }
            return .texts(array)
        default: return nil
        }
    }

    private func malformed(_ position: Int64, _ what: String) -> HubCopyError {
        HubCopyError(.malformedRow, "A row of the hub file's \(name) (near row \(position)) \(what).")
    }
}
