public import Foundation
import GRDB
import HubStore
import Logging
import ReplicaStore
public import SyncEngine

/// A stopped SQLite hub's file, read table by table in batches so that another backend can take
/// its data (`PostgresHubImport`): the hub's identity, its feed with every position as it is, its
/// devices, codes, grants, revocations, quarantine, audit log, attachments, and the console's
/// operators with the informant key (not their sessions).
///
/// The hub's file is never written: ``reading(_:scratch:_:)`` takes a snapshot of it through a
/// read-only connection (SQLite's backup, which sees one consistent state), copies its key file
/// beside it in a private scratch folder, and opens the snapshot as the hub opens its file
/// (``SQLiteHubStorage/openOrCreate(path:options:logger:)``), with the hub's checks. (Opening
/// the hub's own file that way would write to it: a connection pool makes its write-ahead log by
/// creating and dropping a table.) Rows are checked against the kinds their columns hold: a row
/// that is not what the hub writes fails with ``HubCopyError/Code/malformedRow``, naming its table,
/// never with a crash.
public struct HubFileExport: Sendable {
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
        let sql = "SELECT count(*) FROM (\(table.select))"
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
                ("\(table.select) WHERE \(column) > ? ORDER BY \(column) LIMIT ?", [cursor.value, limit])
            case .columns(let columns):
                ("\(table.select) ORDER BY \(columns) LIMIT ? OFFSET ?", [limit, cursor.value])
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

/// Where the next batch of a table starts: a key (the last one read) or an offset.
public struct HubExportCursor: Sendable, Hashable {
    let value: Int64
    /// Before the first row.
    public static let start = HubExportCursor(value: 0)
}

/// One value of a copied row, as its column's kind says.
public enum HubExportValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case text(String)
    case blob(Data)
    case boolean(Bool)
    case texts([String])
}

/// One table of a SQLite hub as it is copied: the columns, named as both backends name them, with
/// what each holds.
public struct HubExportTable: Sendable {
    /// What a column holds, checked as it is read.
    public enum Kind: Sendable, Hashable {
        case integer
        case text
        /// A replica id's 32 hex digits.
        case replicaID
        case blob
        /// SQLite's 0 or 1.
        case boolean
        /// A JSON array of strings, in SQLite's text.
        case textArray
        /// The feed tag: an integer; a row stored before tags gets a random one (a position that
        /// names such a row carries no tag, so it names it whatever the tag).
        case feedTag
    }

    public struct Column: Sendable, Hashable {
        public let name: String
        public let kind: Kind
        public let nullable: Bool
    }

    /// How batches follow one another.
    enum Order: Sendable, Hashable {
        /// By an integer key, the first column (keyset: each batch after the last key read).
        case key(String)
        /// By these columns, with an offset (tables without an integer key).
        case columns(String)
    }

    /// The table's name in both backends.
    public let name: String
    public let columns: [Column]
    let select: String
    let order: Order

    init(_ name: String, _ columns: [(String, Kind, Bool)], from: String? = nil, order: Order) {
        self.name = name
        self.columns = columns.map { Column(name: $0.0, kind: $0.1, nullable: $0.2) }
        let list = self.columns.map(\.name).joined(separator: ", ")
        select = "SELECT \(list) FROM \(from ?? name)"
        self.order = order
    }

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

    /// The feed: every version, set aside or not, at its position and with its tag.
    public static let versions = HubExportTable(
        "versions",
        [
            ("seq", .integer, false), ("origin", .replicaID, false), ("counter", .integer, false),
            ("collection", .text, false), ("document_id", .text, false), ("partition", .text, false),
            ("context", .text, false), ("body", .blob, true), ("clock_wall", .integer, false),
            ("clock_logical", .integer, false), ("signature", .blob, false), ("received_from", .replicaID, true),
            ("set_aside_reason", .text, true), ("set_aside_code", .text, true), ("feed_tag", .feedTag, true),
        ], order: .key("seq"))

    /// The audit log, each entry with its signature (SQLite keeps them in a table apart).
    public static let auditLog = HubExportTable(
        "audit_log",
        [
            ("seq", .integer, false), ("at", .integer, false), ("actor", .text, false), ("action", .text, false),
            ("subject", .text, false), ("detail", .text, false), ("previous_hash", .blob, false),
            ("hash", .blob, false),
            ("format", .integer, false), ("signature", .blob, true),
        ], from: "(SELECT a.*, s.signature FROM audit_log a LEFT JOIN audit_signatures s ON s.seq = a.seq)",
        order: .key("seq"))

    /// Every table copied, in an order that keeps references (incarnations and revocations name
    /// devices). The feed's attachment names are not among them: the other backend records them
    /// from the versions' bodies, whatever the SQLite hub's lazy index of them holds.
    public static let all: [HubExportTable] = [
        HubExportTable(
            "devices",
            [
                ("replica_id", .replicaID, false), ("name", .text, false), ("public_key", .blob, false),
                ("credential_hash", .blob, false), ("status", .text, false), ("enrolled_at", .integer, false),
                ("revoked_at", .integer, true), ("last_seen_at", .integer, true), ("last_lag", .integer, true),
                ("last_skew_ms", .integer, true), ("last_pending", .integer, true), ("read_scope", .text, false),
                ("write_scope", .text, false), ("media", .text, true),
            ], order: .columns("replica_id")),
        HubExportTable(
            "device_incarnations",
            [
                ("replica_id", .replicaID, false), ("device_id", .replicaID, false), ("forked_at", .text, true),
                ("created_at", .integer, false),
            ], order: .columns("replica_id")),
        HubExportTable(
            "revocations",
            [
                ("replica_id", .replicaID, false), ("horizon", .integer, false), ("revoked_at", .integer, false),
                ("device_id", .replicaID, false),
            ], from: "(SELECT * FROM revocations WHERE device_id IS NOT NULL)", order: .columns("replica_id")),
        HubExportTable(
            "enrollment_codes",
            [
                ("code_hash", .blob, false), ("device_name", .text, false), ("created_at", .integer, false),
                ("expires_at", .integer, false), ("used_at", .integer, true), ("used_by", .text, true),
                ("read_scope", .text, false), ("write_scope", .text, false), ("media", .text, true),
            ], order: .columns("code_hash")),
        HubExportTable(
            "grant_sets", [("fingerprint", .text, false), ("read_scope", .text, false), ("write_scope", .text, false)],
            order: .columns("fingerprint")),
        HubExportTable(
            "hub_writers", [("replica_id", .replicaID, false), ("started_at", .integer, false)],
            order: .columns("replica_id")),
        HubExportTable(
            "knowledge", [("origin", .replicaID, false), ("counter", .integer, false)], order: .columns("origin")),
        versions,
        HubExportTable(
            "foreign_quarantine",
            [
                ("origin", .text, false), ("counter", .integer, false), ("signature", .blob, false),
                ("version", .text, false), ("pushed_by", .text, false), ("reason", .text, false),
                ("code", .text, false),
                ("received_at", .integer, false),
            ], order: .columns("origin, counter, signature")),
        auditLog,
        HubExportTable(
            "audit_suppressed",
            [("device", .text, false), ("hour", .integer, false), ("kind", .text, false), ("count", .integer, false)],
            order: .columns("device, hour, kind")),
        HubExportTable(
            "attachment_chunks", [("hash", .text, false), ("size", .integer, false), ("data", .blob, false)],
            order: .columns("hash")),
        HubExportTable(
            "attachments",
            [
                ("sha256", .text, false), ("size", .integer, false), ("chunk_size", .integer, false),
                ("chunks", .textArray, false), ("complete", .boolean, false), ("added_at", .integer, false),
            ], order: .columns("sha256")),
        HubExportTable(
            "attachment_uploads", [("device", .text, false), ("sha256", .text, false), ("size", .integer, false)],
            order: .columns("device, sha256")),
    ] + operatorTables

    /// The network's informant key the copy takes: the first saved, which the hub serves (a hub
    /// makes one; the others `leftBehind()` names).
    static let copiedInformantKey = "(SELECT key_id FROM informant_keys ORDER BY saved_at, key_id LIMIT 1)"

    /// The console's operators (password hashes, roles, setup links, second factors and the last
    /// step each accepted), their key pairs, the informant key's statement and its copies sealed
    /// to operators, in an order that keeps references. Sessions are not copied: operators log in
    /// again.
    public static let operatorTables: [HubExportTable] = [
        HubExportTable(
            "operators",
            [
                ("name", .text, false), ("role", .text, false), ("created_at", .integer, false),
                ("password_hash", .text, true), ("setup_hash", .blob, true), ("setup_expires_at", .integer, true),
                ("totp_secret", .blob, true), ("totp_last_step", .integer, true),
            ], order: .columns("name")),
        HubExportTable(
            "operator_keys",
            [
                ("operator", .text, false), ("public_key", .blob, false), ("wrapped_private_key", .text, false),
                ("created_at", .integer, false),
            ], order: .columns("operator")),
        HubExportTable(
            "informant_keys",
            [("key_id", .text, false), ("public_key", .blob, false), ("statement", .blob, false), ("saved_at", .integer, false)],
            from: "(SELECT * FROM informant_keys WHERE key_id = \(HubExportTable.copiedInformantKey))", order: .columns("key_id")),
        HubExportTable(
            "operator_informant_keys",
            [
                ("operator", .text, false), ("key_id", .text, false), ("sealed_private_key", .blob, false),
                ("granted_at", .integer, false),
            ], from: "(SELECT * FROM operator_informant_keys WHERE key_id = \(HubExportTable.copiedInformantKey))",
            order: .columns("operator, key_id")),
    ]
}

/// A failure to copy a hub from one backend to another: a code for the edges and one sentence.
public typealias HubCopyError = CodedFailure<HubCopyErrorDomain>

/// The domain of ``HubCopyError``'s codes.
public enum HubCopyErrorDomain {}

extension ErrorCode where Domain == HubCopyError {
    /// The source file is not a hub's (a device's replica, or nothing of a hub in it).
    public static let notAHubFile = Self("notAHubFile")
    /// A row of the source is not what the hub writes (damaged, or written by something else).
    public static let malformedRow = Self("malformedRow")
    /// The target already holds a hub's data.
    public static let targetNotEmpty = Self("targetNotEmpty")
}
