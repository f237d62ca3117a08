public import Foundation
public import SyncEngine

/// A stopped hub's data, read table by table in batches so that another backend can take it
/// (`PostgresHubImport` reads one; HubStoreSQLite's `HubFileExport` is the SQLite hub's): the hub's
/// identity, then each table of ``HubExportTable/all`` with its rows as both backends name and
/// hold them, and the highest feed position ever given out.
public protocol HubExport: Sendable {
    /// The hub's replica id: devices pinned it with its key.
    var hubID: ReplicaID { get }
    /// The 32 bytes of the hub's Ed25519 signing key.
    var signingKey: Data { get }
    /// When the hub's replica was created (milliseconds since 1970): its own certificate's time.
    var createdAt: Int64 { get }

    /// How many rows `table` holds (what is copied of it).
    func count(_ table: HubExportTable) async throws -> Int

    /// The rows of `table` after `cursor` (``HubExportCursor/start`` first), at most `limit` and
    /// about `maxBytes` (at least one), each in the kinds of the table's columns; the cursor of the
    /// next batch, nil after the last. A row that is not what a hub writes fails with
    /// ``HubCopyError/Code/malformedRow``.
    func rows(of table: HubExportTable, after cursor: HubExportCursor, limit: Int, maxBytes: Int) async throws
        -> (rows: [[HubExportValue]], next: HubExportCursor?)

    /// The highest feed position the hub ever gave out, removed rows included: the other
    /// backend's positions continue above it.
    func highestFeedPosition() async throws -> Int64
}

/// Where the next batch of a table starts: a key (the last one read) or an offset, as the table's
/// ``HubExportTable/order`` says.
public struct HubExportCursor: Sendable, Hashable {
    package let value: Int64
    /// Before the first row.
    public static let start = HubExportCursor(value: 0)

    package init(value: Int64) { self.value = value }
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

/// One table of a hub as it is copied: the columns, named as both backends name them, with what
/// each holds, and how a source pages through its rows.
public struct HubExportTable: Sendable, Hashable {
    /// What a column holds, checked as it is read.
    public enum Kind: Sendable, Hashable {
        case integer
        case text
        /// A replica id's 32 hex digits.
        case replicaID
        case blob
        /// True or false (SQLite's 0 or 1).
        case boolean
        /// An array of strings (in SQLite, a JSON array in text).
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
    public enum Order: Sendable, Hashable {
        /// By an integer key, the first column (keyset: each batch after the last key read).
        case key(String)
        /// By these columns, which order the rows uniquely, with an offset (tables without an integer key).
        case columns(String)
    }

    /// The table's name in both backends.
    public let name: String
    public let columns: [Column]
    public let order: Order

    init(_ name: String, _ columns: [(String, Kind, Bool)], order: Order) {
        self.name = name
        self.columns = columns.map { Column(name: $0.0, kind: $0.1, nullable: $0.2) }
        self.order = order
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

    /// The audit log, each entry with its signature.
    public static let auditLog = HubExportTable(
        "audit_log",
        [
            ("seq", .integer, false), ("at", .integer, false), ("actor", .text, false), ("action", .text, false),
            ("subject", .text, false), ("detail", .text, false), ("previous_hash", .blob, false),
            ("hash", .blob, false),
            ("format", .integer, false), ("signature", .blob, true),
        ], order: .key("seq"))

    /// The hub's revocations of its own devices (not the notices received from other hubs).
    public static let revocations = HubExportTable(
        "revocations",
        [
            ("replica_id", .replicaID, false), ("horizon", .integer, false), ("revoked_at", .integer, false),
            ("device_id", .replicaID, false),
        ], order: .columns("replica_id"))

    /// Every table copied, in an order that keeps references (incarnations and revocations name
    /// devices). The feed's attachment names are not among them: the other backend records them
    /// from the versions' bodies, whatever the source's index of them holds.
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
        revocations,
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

    /// The network's informant key (the one the hub serves; a hub on PostgreSQL keeps one).
    public static let informantKeys = HubExportTable(
        "informant_keys",
        [
            ("key_id", .text, false), ("public_key", .blob, false), ("statement", .blob, false),
            ("saved_at", .integer, false),
        ], order: .columns("key_id"))

    /// The informant key's copies sealed to operators (of the key ``informantKeys`` copies).
    public static let operatorInformantKeys = HubExportTable(
        "operator_informant_keys",
        [
            ("operator", .text, false), ("key_id", .text, false), ("sealed_private_key", .blob, false),
            ("granted_at", .integer, false),
        ], order: .columns("operator, key_id"))

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
        informantKeys,
        operatorInformantKeys,
    ]
}

/// A failure to copy a hub from one backend to another: a code for the edges and one sentence.
public typealias HubCopyError = CodedFailure<HubCopyErrorDomain>

/// The domain of ``HubCopyError``'s codes.
public enum HubCopyErrorDomain {}

extension ErrorCode where Domain == HubCopyError {
    /// The source is not a hub's (a device's replica, or nothing of a hub in it).
    public static let notAHubFile = Self("notAHubFile")
    /// A row of the source is not what the hub writes (damaged, or written by something else).
    public static let malformedRow = Self("malformedRow")
    /// The target already holds a hub's data.
    public static let targetNotEmpty = Self("targetNotEmpty")
}
