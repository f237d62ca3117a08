import Foundation
import PostgresNIO

// The statements every exchange runs (``PostgresSchemaStatement``): the device a credential
// names, the keys and grants of the origins it meets, what decides a push and the states it
// writes, the pieces of a page, and the telemetry it records. Each one's text is fixed; what
// varies is bound, arrays included.

/// The device a credential's hash names, with its credential hash and its incarnations (an array
/// of replica ids, oldest first): ``PostgresDeviceTables/device(withCredentialAndIncarnations:)``
/// decodes the row.
struct DeviceByCredentialStatement: PostgresSchemaStatement {
    static let template = """
        SELECT \(PostgresDeviceTables.deviceColumns), credential_hash, coalesce(
            (SELECT array_agg(i.replica_id ORDER BY i.created_at, i.replica_id)
             FROM {schema}.device_incarnations i WHERE i.device_id = d.replica_id), '{}')
        FROM {schema}.devices d WHERE credential_hash = $1
        """
    static let sql = unqualified()

    let hash: Data

    func makeBindings() -> PostgresBindings { .of(hash.bytea) }

    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

/// What a device last showed, recorded at each exchange
/// (``PostgresDeviceRegistry/recordExchange(of:pulledAfter:skewMilliseconds:pending:)``): its commit
/// does not wait for the disk (`set_config` local to the statement's transaction).
struct RecordExchangeStatement: PostgresSchemaStatement {
    static let template = """
        WITH telemetry AS (SELECT set_config('synchronous_commit', 'off', true))
        UPDATE {schema}.devices SET
            last_seen_at = $1,
            last_lag = GREATEST(0, coalesce((SELECT max(seq) FROM {schema}.versions), 0) - $2),
            last_skew_ms = coalesce($3, last_skew_ms),
            last_pending = coalesce($4, last_pending)
        FROM telemetry WHERE replica_id = $5
        """
    static let sql = unqualified()

    let now: Int64
    let position: Int64
    let skewMilliseconds: Int64?
    let pending: Int64?
    let replica: String

    func makeBindings() -> PostgresBindings {
        var bindings = PostgresBindings.of(now, position)
        bindings.append(skewMilliseconds)
        bindings.append(pending)
        bindings.append(replica)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) {}
}

/// The keys of replica ids (hex): the hub's writer ids among them first, without a key (they sign
/// with the hub's), then the enrolled keys, a device's later incarnations signing with its enrolled key.
struct DeviceKeysStatement: PostgresSchemaStatement {
    static let template = """
        SELECT replica_id, NULL::bytea FROM {schema}.hub_writers WHERE replica_id = ANY($1)
        UNION ALL
        SELECT replica_id, public_key FROM {schema}.devices WHERE replica_id = ANY($1)
        UNION ALL
        SELECT i.replica_id, d.public_key FROM {schema}.device_incarnations i
        JOIN {schema}.devices d ON d.replica_id = i.device_id
        WHERE i.replica_id = ANY($1)
        """
    static let sql = unqualified()

    let replicas: [String]

    func makeBindings() -> PostgresBindings { .of(replicas) }

    func decodeRow(_ row: PostgresRow) throws -> (String, Data?) { try row.decode((String, Data?).self) }
}

/// The scopes granted to replica ids (hex), a device's later incarnations holding its grants.
struct DeviceGrantsStatement: PostgresSchemaStatement {
    static let template = """
        SELECT replica_id, read_scope, write_scope FROM {schema}.devices WHERE replica_id = ANY($1)
        UNION ALL
        SELECT i.replica_id, d.read_scope, d.write_scope FROM {schema}.device_incarnations i
        JOIN {schema}.devices d ON d.replica_id = i.device_id
        WHERE i.replica_id = ANY($1)
        """
    static let sql = unqualified()

    let replicas: [String]

    func makeBindings() -> PostgresBindings { .of(replicas) }

    func decodeRow(_ row: PostgresRow) throws -> (String, String, String) {
        try row.decode((String, String, String).self)
    }
}

/// What a push's checks need, in one statement (``PostgresDeviceRegistry/pushOrigins(of:)``):
/// rows told apart by their first column, `w` (a hub writer id among the origins), `d` (an origin
/// that is a device or one of its incarnations, with the device's key and scopes) and `r` (a
/// revocation and its horizon).
struct PushOriginsStatement: PostgresSchemaStatement {
    static let template = """
        SELECT 'w'::text, replica_id, NULL::bytea, NULL::text, NULL::text, NULL::bigint
        FROM {schema}.hub_writers WHERE replica_id = ANY($1)
        UNION ALL
        SELECT 'd', replica_id, public_key, read_scope, write_scope, NULL FROM {schema}.devices
        WHERE replica_id = ANY($1)
        UNION ALL
        SELECT 'd', i.replica_id, d.public_key, d.read_scope, d.write_scope, NULL FROM {schema}.device_incarnations i
        JOIN {schema}.devices d ON d.replica_id = i.device_id
        WHERE i.replica_id = ANY($1)
        UNION ALL
        SELECT 'r', replica_id, NULL, NULL, NULL, horizon FROM {schema}.revocations
        """
    static let sql = unqualified()

    let replicas: [String]

    func makeBindings() -> PostgresBindings { .of(replicas) }

    func decodeRow(_ row: PostgresRow) throws -> (String, String, Data?, String?, String?, Int64?) {
        try row.decode((String, String, Data?, String?, String?, Int64?).self)
    }
}

/// The hub's writer ids among replica ids (hex), with when each was first written under.
struct HubWritersStatement: PostgresSchemaStatement {
    static let template = "SELECT replica_id, started_at FROM {schema}.hub_writers WHERE replica_id = ANY($1)"
    static let sql = unqualified()

    let replicas: [String]

    func makeBindings() -> PostgresBindings { .of(replicas) }

    func decodeRow(_ row: PostgresRow) throws -> (String, Int64) { try row.decode((String, Int64).self) }
}

/// Every revocation: the replica id, its horizon and when it was revoked.
struct RevocationsStatement: PostgresSchemaStatement {
    static let template = "SELECT replica_id, horizon, revoked_at FROM {schema}.revocations ORDER BY replica_id"
    static let sql = unqualified()

    func makeBindings() -> PostgresBindings { PostgresBindings() }

    func decodeRow(_ row: PostgresRow) throws -> (String, Int64, Int64) { try row.decode((String, Int64, Int64).self) }
}

/// A page's start, knowledge and the feed's last position in good standing, in one statement
/// (``PostgresFeed``'s page with nothing new): rows told apart by their first column, `k` (an
/// origin's knowledge), `p` (the version at the start's sequence) and `l` (the last sequence).
struct NothingNewStatement: PostgresSchemaStatement {
    static let template = """
        SELECT 'k'::text, origin, counter, NULL::bigint FROM {schema}.knowledge
        WHERE origin = ANY($1)
        UNION ALL
        SELECT 'p', origin, counter, feed_tag FROM {schema}.versions
        WHERE seq = $2
        UNION ALL
        SELECT 'l', NULL, (SELECT seq FROM {schema}.versions
            WHERE set_aside_reason IS NULL ORDER BY seq DESC LIMIT 1), NULL
        """
    static let sql = unqualified()

    let origins: [String]
    let after: Int64

    func makeBindings() -> PostgresBindings { .of(origins, after) }

    func decodeRow(_ row: PostgresRow) throws -> (String, String?, Int64?, Int64?) {
        try row.decode((String, String?, Int64?, Int64?).self)
    }
}

/// The feed's knowledge of origins (hex).
struct KnowledgeStatement: PostgresSchemaStatement {
    static let template = "SELECT origin, counter FROM {schema}.knowledge WHERE origin = ANY($1)"
    static let sql = unqualified()

    let origins: [String]

    func makeBindings() -> PostgresBindings { .of(origins) }

    func decodeRow(_ row: PostgresRow) throws -> (String, Int64) { try row.decode((String, Int64).self) }
}

/// The dot and tag of the version at a sequence.
struct VersionAtStatement: PostgresSchemaStatement {
    static let template = "SELECT origin, counter, feed_tag FROM {schema}.versions WHERE seq = $1"
    static let sql = unqualified()

    let sequence: Int64

    func makeBindings() -> PostgresBindings { .of(sequence) }

    func decodeRow(_ row: PostgresRow) throws -> (String, Int64, Int64) { try row.decode((String, Int64, Int64).self) }
}

/// The feed's last position in good standing at or below a sequence: a walk back along the
/// primary key, the standing test outside an `OFFSET 0` fence (``PostgresFeed`` reads it for a scoped page).
struct LastPositionStatement: PostgresSchemaStatement {
    static let template = """
        SELECT seq, origin, counter, feed_tag FROM (
            SELECT seq, origin, counter, feed_tag, set_aside_reason FROM {schema}.versions
            WHERE seq <= $1 ORDER BY seq DESC OFFSET 0) AS feed
        WHERE set_aside_reason IS NULL LIMIT 1
        """
    static let sql = unqualified()

    let upper: Int64

    func makeBindings() -> PostgresBindings { .of(upper) }

    func decodeRow(_ row: PostgresRow) throws -> (Int64, String, Int64, Int64) {
        try row.decode((Int64, String, Int64, Int64).self)
    }
}

/// What decides a push (``PostgresPushStatements/held(for:on:)``), four selections told apart by
/// their first column: `k` the knowledge of the origins its versions and contexts name, `r` the
/// revocation horizons of its origins, `s` the signatures held at its dots, `p` the partition of
/// each of its documents (from one of its versions in good standing).
struct PushHeldStatement: PostgresSchemaStatement {
    static let template = """
        SELECT 'k'::text, origin, NULL::text, NULL::text, counter, NULL::bytea
        FROM {schema}.knowledge WHERE origin = ANY($1)
        UNION ALL
        SELECT 'r', replica_id, NULL, NULL, horizon, NULL
        FROM {schema}.revocations WHERE replica_id = ANY($2)
        UNION ALL
        SELECT 's', origin, NULL, NULL, counter, signature FROM {schema}.versions
        WHERE (origin, counter) IN (SELECT * FROM unnest($3::text[], $4::bigint[]))
        UNION ALL
        SELECT 'p', d.collection, d.document_id, v.partition, NULL, NULL
        FROM unnest($5::text[], $6::text[]) AS d(collection, document_id)
        CROSS JOIN LATERAL (\(PostgresDocumentStates.standingVersions(
            ["partition"], in: "{schema}.versions", limit: 1))) AS v
        """
    static let sql = unqualified()

    /// The origins the versions and their contexts name.
    let named: [String]
    /// The versions' origins.
    let origins: [String]
    let dotOrigins: [String]
    let dotCounters: [Int64]
    let collections: [String]
    let documentIDs: [String]

    func makeBindings() -> PostgresBindings { .of(named, origins, dotOrigins, dotCounters, collections, documentIDs) }

    func decodeRow(_ row: PostgresRow) throws -> (String, String, String?, String?, Int64?, Data?) {
        try row.decode((String, String, String?, String?, Int64?, Data?).self)
    }
}

/// The versions in good standing of documents, without their bodies
/// (``PostgresDocumentStates/standing(_:schema:on:logger:)``): one probe of
/// `versions_by_document` per document.
struct DocumentsStandingStatement: PostgresSchemaStatement {
    static let template = """
        SELECT v.origin, v.counter, d.collection, d.document_id, v.partition, v.context, v.tombstone,
               v.clock_wall, v.clock_logical
        FROM unnest($1::text[], $2::text[]) AS d(collection, document_id)
        CROSS JOIN LATERAL (\(PostgresDocumentStates.standingVersions(
            ["origin", "counter", "partition", "context", "body IS NULL AS tombstone", "clock_wall", "clock_logical"],
            in: "{schema}.versions"))) AS v
        """
    static let sql = unqualified()

    let collections: [String]
    let documentIDs: [String]

    typealias Row = (String, Int64, String, String, String, String, Bool, Int64, Int64)

    func makeBindings() -> PostgresBindings { .of(collections, documentIDs) }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

/// Writes documents' rows of `document_states` (``PostgresDocumentStates/write(_:of:schema:on:logger:)``),
/// one array per column.
struct DocumentStatesWriteStatement: PostgresSchemaStatement {
    static let template = """
        INSERT INTO {schema}.document_states
            (collection, document_id, partition, siblings, context, sibling_count, deleted, updated_wall)
        SELECT * FROM unnest(
            $1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::bool[], $8::bigint[])
        ON CONFLICT (collection, document_id) DO UPDATE SET
            partition = EXCLUDED.partition, siblings = EXCLUDED.siblings, context = EXCLUDED.context,
            sibling_count = EXCLUDED.sibling_count, deleted = EXCLUDED.deleted, updated_wall = EXCLUDED.updated_wall
        """
    static let sql = unqualified()

    /// The rows, in the order they are written.
    let rows: [PostgresDocumentStates.Row]

    func makeBindings() -> PostgresBindings {
        .of(
            rows.map(\.key.collection.rawValue), rows.map(\.key.id.rawValue), rows.map(\.partition.rawValue),
            rows.map { $0.state.siblings.map(\.description).joined(separator: ",") },
            rows.map(\.state.context.compactText), rows.map { Int32($0.state.siblings.count) },
            rows.map(\.deleted), rows.map(\.updatedWall))
    }

    func decodeRow(_ row: PostgresRow) {}
}
