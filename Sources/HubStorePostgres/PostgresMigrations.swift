import Logging
public import PostgresNIO

/// The hub's PostgreSQL schema: an ordered list of named SQL steps, recorded in
/// `vigil_schema_migrations` as they are applied. Steps are never edited once shipped; a change is
/// a new step at the end.
///
/// ``migrate(_:schema:logger:)`` applies the missing steps in one transaction under a
/// transaction-scoped advisory lock of the schema, so several hub processes starting at once
/// migrate once: the others wait for the lock, then find every step recorded.
public enum PostgresMigrations {
    /// One named step: SQL statements run in order, `{schema}` standing for the schema's name.
    struct Step {
        let name: String
        let statements: [String]
        /// What the step fills in Swift after its statements, in the same transaction (nil: nothing).
        var fill: (@Sendable (PostgresConnection, PostgresSchemaName, Logger) async throws -> Void)? = nil
    }

    /// The steps, in order.
    static let steps: [Step] = [
        Step(
            name: "v1-feed",
            statements: [
                // Every version the hub holds, in arrival order (`seq`, the feed's position). Text
                // columns hold the model's own encodings (hex replica ids, a context's compact
                // text), as the SQLite hub's rows do; names compare byte by byte (`COLLATE "C"`) so
                // that a scope's prefix is an index range.
                """
                CREATE TABLE {schema}.versions (
                    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    origin text NOT NULL,
                    counter bigint NOT NULL CHECK (counter > 0),
                    collection text COLLATE "C" NOT NULL,
                    document_id text COLLATE "C" NOT NULL,
                    partition text COLLATE "C" NOT NULL,
                    context text NOT NULL,
                    body bytea,
                    clock_wall bigint NOT NULL,
                    clock_logical bigint NOT NULL,
                    signature bytea NOT NULL,
                    received_from text,
                    set_aside_reason text,
                    set_aside_code text,
                    feed_tag bigint NOT NULL,
                    UNIQUE (origin, counter)
                )
                """,
                "CREATE INDEX versions_by_document ON {schema}.versions (collection, document_id)",
                """
                CREATE INDEX versions_feed_by_partition ON {schema}.versions (collection, partition, seq)
                    WHERE set_aside_reason IS NULL
                """,
                """
                CREATE INDEX versions_feed_by_collection ON {schema}.versions (collection, seq)
                    WHERE set_aside_reason IS NULL
                """,
                // For every origin, every counter up to `counter` is held here.
                "CREATE TABLE {schema}.knowledge (origin text PRIMARY KEY, counter bigint NOT NULL)",
            ]),
        Step(
            name: "v2-devices",
            statements: [
                // Enrolled devices. A credential is kept only as its SHA-256; scopes are their
                // canonical text (`Scope.text`). `media` is the attachment policy (not used yet).
                """
                CREATE TABLE {schema}.devices (
                    replica_id text PRIMARY KEY,
                    name text NOT NULL,
                    public_key bytea NOT NULL,
                    credential_hash bytea NOT NULL UNIQUE,
                    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
                    enrolled_at bigint NOT NULL,
                    revoked_at bigint,
                    last_seen_at bigint,
                    last_lag bigint,
                    last_skew_ms bigint,
                    last_pending bigint,
                    read_scope text NOT NULL,
                    write_scope text NOT NULL,
                    media text CHECK (media IN ('all', 'none', 'own'))
                )
                """,
                "CREATE INDEX devices_by_name ON {schema}.devices (name)",
                // One-time enrollment codes, kept only as their SHA-256.
                """
                CREATE TABLE {schema}.enrollment_codes (
                    code_hash bytea PRIMARY KEY,
                    device_name text NOT NULL,
                    created_at bigint NOT NULL,
                    expires_at bigint NOT NULL,
                    used_at bigint,
                    used_by text,
                    read_scope text NOT NULL,
                    write_scope text NOT NULL,
                    media text CHECK (media IN ('all', 'none', 'own'))
                )
                """,
                "CREATE INDEX enrollment_codes_unused_by_name ON {schema}.enrollment_codes (device_name) WHERE used_at IS NULL",
                // A device's further replica ids (new incarnations after a fork), with its key and credential.
                """
                CREATE TABLE {schema}.device_incarnations (
                    replica_id text PRIMARY KEY,
                    device_id text NOT NULL REFERENCES {schema}.devices (replica_id),
                    forked_at text,
                    created_at bigint NOT NULL
                )
                """,
                "CREATE INDEX device_incarnations_by_device ON {schema}.device_incarnations (device_id)",
                // Grant sets by fingerprint: a pull checkpoint made under one tells what it granted.
                """
                CREATE TABLE {schema}.grant_sets (
                    fingerprint text PRIMARY KEY,
                    read_scope text NOT NULL,
                    write_scope text NOT NULL
                )
                """,
                // Revoked replica ids (a device's enrolled id and its incarnations) and their
                // horizon: the highest counter held at revocation; versions above it are refused.
                """
                CREATE TABLE {schema}.revocations (
                    replica_id text PRIMARY KEY,
                    horizon bigint NOT NULL,
                    revoked_at bigint NOT NULL,
                    device_id text NOT NULL REFERENCES {schema}.devices (replica_id)
                )
                """,
                // The ids the hub writes its own versions under, signed with its key.
                "CREATE TABLE {schema}.hub_writers (replica_id text PRIMARY KEY, started_at bigint NOT NULL)",
                // Pulled versions a device reported failing verification there (only versions the
                // hub served it), within the device's hourly limit.
                """
                CREATE TABLE {schema}.verification_reports (
                    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                    reported_by text NOT NULL,
                    origin text NOT NULL,
                    counter bigint NOT NULL,
                    reason text NOT NULL,
                    reported_at bigint NOT NULL
                )
                """,
                "CREATE INDEX verification_reports_by_reporter ON {schema}.verification_reports (reported_by, reported_at)",
            ]),
        Step(
            name: "v3-push",
            statements: [
                // Pushed versions kept apart, never at their origin's dot: forged ones (another
                // origin than the pusher, a signature that fails) and those whose context claims
                // what the hub does not hold. `version` is the version's JSON; a row per signature.
                """
                CREATE TABLE {schema}.foreign_quarantine (
                    origin text NOT NULL,
                    counter bigint NOT NULL,
                    signature bytea NOT NULL,
                    version text NOT NULL,
                    pushed_by text NOT NULL,
                    reason text NOT NULL,
                    code text NOT NULL,
                    received_at bigint NOT NULL,
                    PRIMARY KEY (origin, counter, signature)
                )
                """,
                "CREATE INDEX foreign_quarantine_by_pusher ON {schema}.foreign_quarantine (pushed_by, received_at)",
                // The versions held set aside, for the hub's counts (a partial index: few rows).
                "CREATE INDEX versions_set_aside ON {schema}.versions (seq) WHERE set_aside_reason IS NOT NULL",
            ]),
        Step(
            name: "v4-hub-identity",
            statements: [
                // The hub's identity, one row that every hub process of the network reads: its
                // replica id, its Ed25519 signing key (certificates, revocation notices and
                // admission receipts are made with it; devices pinned its public half at
                // enrollment) and when its own certificate says it was issued. The first process
                // to start writes it; a second row cannot exist.
                """
                CREATE TABLE {schema}.hub_identity (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    replica_id text NOT NULL,
                    signing_key bytea NOT NULL CHECK (octet_length(signing_key) = 32),
                    issued_at bigint NOT NULL
                )
                """
            ]),
        Step(
            name: "v5-attachments",
            statements: [
                // Each chunk once, by the SHA-256 of its bytes, whatever the attachments that use
                // it. A chunk is at most 262,144 bytes (AttachmentManifest.chunkSize): what is
                // stored was checked against its manifest's length and hash first.
                """
                CREATE TABLE {schema}.attachment_chunks (
                    hash text PRIMARY KEY,
                    size integer NOT NULL CHECK (size BETWEEN 1 AND 262144),
                    data bytea NOT NULL CHECK (octet_length(data) = size)
                )
                """,
                // An attachment's manifest: its chunks' hashes in order. `complete` once every
                // chunk is held and the whole file matched `sha256`.
                """
                CREATE TABLE {schema}.attachments (
                    sha256 text PRIMARY KEY,
                    size bigint NOT NULL CHECK (size >= 0),
                    chunk_size integer NOT NULL,
                    chunks text[] NOT NULL,
                    complete boolean NOT NULL DEFAULT false,
                    added_at bigint NOT NULL
                )
                """,
                // Which stored versions name which attachment (their bodies' attachments[].sha256),
                // recorded as a push stores them.
                """
                CREATE TABLE {schema}.attachment_names (
                    sha256 text NOT NULL,
                    collection text COLLATE "C" NOT NULL,
                    document_id text COLLATE "C" NOT NULL,
                    partition text COLLATE "C" NOT NULL,
                    origin text NOT NULL,
                    PRIMARY KEY (sha256, collection, document_id, origin)
                )
                """,
                // The attachments each device offered, counted against its quota.
                """
                CREATE TABLE {schema}.attachment_uploads (
                    device text NOT NULL,
                    sha256 text NOT NULL,
                    size bigint NOT NULL,
                    PRIMARY KEY (device, sha256)
                )
                """,
            ]),
        Step(
            name: "v6-feed-by-partition",
            statements: [
                // A scope pattern of every collection (`*/SD-DN`, `*/SD-*`) names no collection, so
                // the scope indexes of v1-feed, which lead with it, cannot be walked for it: without
                // this index such a page walked the whole feed by `seq` and kept a region's rows
                // (224,841 rows read for a batch of 512 at a million versions). Here each partition
                // (of a prefix too, PostgresFeedSelection) is an ordered walk by `seq` (FeedAtScaleTests).
                """
                CREATE INDEX versions_feed_by_partition_only ON {schema}.versions (partition, seq)
                    WHERE set_aside_reason IS NULL
                """
            ]),
        Step(
            name: "v8-audit-log",
            statements: [
                // The hub's audit log (PostgresAuditLog): the SQLite hub's entries and chain, each
                // entry's signature in its row. `detail` is the JSON text the chain hash does not
                // cover but decodes into what it does (sorted keys), kept as text, not jsonb.
                """
                CREATE TABLE {schema}.audit_log (
                    seq bigint PRIMARY KEY CHECK (seq > 0),
                    at bigint NOT NULL,
                    actor text NOT NULL,
                    action text NOT NULL,
                    subject text NOT NULL,
                    detail text NOT NULL,
                    previous_hash bytea NOT NULL,
                    hash bytea NOT NULL,
                    format bigint NOT NULL,
                    signature bytea
                )
                """,
                // Append-only, as on SQLite: a change or removal is refused (by anyone who cannot
                // drop the trigger; the chain and the signatures show what such a one changes).
                """
                CREATE FUNCTION {schema}.audit_log_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN RAISE EXCEPTION 'the audit log is append-only'; END $$
                """,
                """
                CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON {schema}.audit_log
                    FOR EACH ROW EXECUTE FUNCTION {schema}.audit_log_is_append_only()
                """,
                """
                CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON {schema}.audit_log
                    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.audit_log_is_append_only()
                """,
                // A device's entries this hour, for its hourly limit.
                "CREATE INDEX audit_log_by_actor ON {schema}.audit_log (actor, at)",
                // The chain's head: one row, locked (`FOR UPDATE`) by every append until it commits,
                // so appends from every hub process make one chain. Sequence 0 is before the first entry.
                """
                CREATE TABLE {schema}.audit_head (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    seq bigint NOT NULL,
                    hash bytea NOT NULL
                )
                """,
                "INSERT INTO {schema}.audit_head (seq, hash) VALUES (0, decode(repeat('00', 32), 'hex'))",
                // What devices caused beyond their hourly limit, by hour and kind, until the
                // `audit.suppressed` entry of that hour is written.
                """
                CREATE TABLE {schema}.audit_suppressed (
                    device text NOT NULL,
                    hour bigint NOT NULL,
                    kind text NOT NULL,
                    count bigint NOT NULL,
                    PRIMARY KEY (device, hour, kind)
                )
                """,
                "CREATE INDEX audit_suppressed_by_hour ON {schema}.audit_suppressed (hour)",
            ]),
        Step(
            name: "v11-versions-by-author",
            statements: [
                // Which authors a device may learn the certificates of (PostgresAuthors.swift):
                // whether an origin wrote a version in good standing within a read scope is one
                // probe of this index, not a walk over the origin's versions.
                """
                CREATE INDEX versions_by_author ON {schema}.versions (origin, collection, partition)
                    WHERE set_aside_reason IS NULL
                """,
            ]),
        Step(
            name: "v10-operators",
            statements: [
                // The console's operators (PostgresOperatorDirectory), as on SQLite: a password
                // hash only, the one-time setup link by its hash, the TOTP secret and the last
                // step a code was accepted for. Names compare byte by byte, as SQLite's do.
                """
                CREATE TABLE {schema}.operators (
                    name text COLLATE "C" PRIMARY KEY,
                    role text NOT NULL CHECK (role IN ('viewer', 'resolver', 'admin')),
                    created_at bigint NOT NULL,
                    password_hash text,
                    setup_hash bytea UNIQUE,
                    setup_expires_at bigint,
                    totp_secret bytea,
                    totp_last_step bigint
                )
                """,
                // Sessions by the hash of their cookie's token.
                """
                CREATE TABLE {schema}.operator_sessions (
                    token_hash bytea PRIMARY KEY,
                    operator text COLLATE "C" NOT NULL REFERENCES {schema}.operators (name) ON DELETE CASCADE,
                    csrf_token text NOT NULL,
                    created_at bigint NOT NULL,
                    expires_at bigint NOT NULL
                )
                """,
                "CREATE INDEX operator_sessions_by_operator ON {schema}.operator_sessions (operator)",
                "CREATE INDEX operator_sessions_by_expiry ON {schema}.operator_sessions (expires_at)",
                // The network's informant key: one row (two hub processes making one at once make
                // one), with the statement signed with the hub's key.
                """
                CREATE TABLE {schema}.informant_keys (
                    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
                    key_id text NOT NULL UNIQUE,
                    public_key bytea NOT NULL,
                    statement bytea NOT NULL,
                    saved_at bigint NOT NULL
                )
                """,
                // Operators' key pairs (the private key wrapped under their password) and the
                // informant private key sealed to each eligible operator.
                """
                CREATE TABLE {schema}.operator_keys (
                    operator text COLLATE "C" PRIMARY KEY REFERENCES {schema}.operators (name) ON DELETE CASCADE,
                    public_key bytea NOT NULL,
                    wrapped_private_key text NOT NULL,
                    created_at bigint NOT NULL
                )
                """,
                """
                CREATE TABLE {schema}.operator_informant_keys (
                    operator text COLLATE "C" NOT NULL REFERENCES {schema}.operators (name) ON DELETE CASCADE,
                    key_id text NOT NULL REFERENCES {schema}.informant_keys (key_id),
                    sealed_private_key bytea NOT NULL,
                    granted_at bigint NOT NULL,
                    PRIMARY KEY (operator, key_id)
                )
                """,
            ]),
        Step(
            name: "v13-devices-by-name-bytes",
            statements: [
                // The console's fleet pages devices by name byte by byte, then enrollment time, as
                // SQLite orders them (PostgresDeviceAdministration.fleetPage), whatever the
                // database's collation.
                """
                CREATE INDEX devices_by_name_bytes ON {schema}.devices (name COLLATE "C", enrolled_at)
                """
            ]),
        Step(
            name: "v12-document-states",
            statements: [
                // Every document's current state (PostgresDocumentStates), as the SQLite hub's
                // `documents` table keeps it: its siblings (dots, ascending, comma-separated), the
                // join of their histories (compact text), whether every sibling is a deletion, and
                // the newest sibling's wall time. Kept in the transaction of every path that
                // stores versions, under the documents' guards.
                """
                CREATE TABLE {schema}.document_states (
                    collection text COLLATE "C" NOT NULL,
                    document_id text COLLATE "C" NOT NULL,
                    partition text COLLATE "C" NOT NULL,
                    siblings text NOT NULL,
                    context text NOT NULL,
                    sibling_count integer NOT NULL CHECK (sibling_count > 0),
                    deleted boolean NOT NULL,
                    updated_wall bigint NOT NULL,
                    PRIMARY KEY (collection, document_id)
                )
                """,
                // The console's lists: a collection's documents newest first (the observations,
                // warnings, exports and the map), and the documents in conflict newest first, of
                // every collection or of one.
                """
                CREATE INDEX document_states_newest ON {schema}.document_states
                    (collection, updated_wall DESC, document_id DESC) WHERE NOT deleted
                """,
                """
                CREATE INDEX document_states_conflicted ON {schema}.document_states
                    (updated_wall DESC, collection DESC, document_id DESC) WHERE sibling_count > 1
                """,
                """
                CREATE INDEX document_states_conflicted_by_collection ON {schema}.document_states
                    (collection, updated_wall DESC, document_id DESC) WHERE sibling_count > 1
                """,
            ],
            // A schema that held versions before this step: every document's state from them.
            fill: { connection, schema, logger in
                try await PostgresDocumentStates.fill(schema: schema, on: connection, logger: logger)
            }),
        Step(
            name: "v14-hub-key-apart",
            statements: [
                // The hub's signing key may live in a key file on each hub machine instead
                // (`syncd serve --hub-key`): the row then holds only its public half, and no dump
                // of the database holds the key certificates and revocations are signed with
                // (PostgresHub.Identity). A row written before this step keeps its private key
                // until a process started with a key file moves it out.
                "ALTER TABLE {schema}.hub_identity ALTER COLUMN signing_key DROP NOT NULL",
                """
                ALTER TABLE {schema}.hub_identity ADD COLUMN public_key bytea
                    CHECK (public_key IS NULL OR octet_length(public_key) = 32)
                """,
                """
                ALTER TABLE {schema}.hub_identity ADD CONSTRAINT hub_identity_has_a_key
                    CHECK (signing_key IS NOT NULL OR public_key IS NOT NULL)
                """,
            ]),
    ]

    /// Creates `schema` when missing and applies the steps it lacks, in one transaction under the
    /// schema's migration lock. Returns the names of the steps this call applied.
    @discardableResult
    public static func migrate(_ client: PostgresClient, schema: String, logger: Logger) async throws -> [String] {
        let schema = try PostgresSchemaName(schema)
        return try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .readWrite, logger: logger) { connection in
                try await connection.query(
                    "SELECT pg_advisory_xact_lock(hashtextextended(\("vigil.migrate:" + schema.name), 0))",
                    logger: logger)
                try await connection.query(
                    PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \(schema.name)"), logger: logger)
                try await connection.query(
                    PostgresQuery(
                        unsafeSQL: """
                            CREATE TABLE IF NOT EXISTS \(schema.name).vigil_schema_migrations (
                                name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                            """), logger: logger)
                var applied: Set<String> = []
                let rows = try await connection.query(
                    PostgresQuery(unsafeSQL: "SELECT name FROM \(schema.name).vigil_schema_migrations"), logger: logger)
                for try await name in rows.decode(String.self) {
                    applied.insert(name)
                }
                let known = Set(steps.map(\.name))
                if let unknown = applied.subtracting(known).sorted().first {
                    throw PostgresStoreError(
                        .schemaFromLaterBuild,
                        "The schema \(schema.name) holds the migration \(unknown), which this build does not know: it was written by a later build."
                    )
                }
                var done: [String] = []
                for step in steps where !applied.contains(step.name) {
                    for statement in step.statements {
                        let sql = statement.replacingOccurrences(of: "{schema}", with: schema.name)
                        try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
                    }
                    try await step.fill?(connection, schema, logger)
                    try await connection.query(
                        PostgresQuery(
                            unsafeSQL: "INSERT INTO \(schema.name).vigil_schema_migrations (name) VALUES ($1)",
                            binds: binds(step.name)), logger: logger)
                    done.append(step.name)
                }
                if !done.isEmpty {
                    logger.info(
                        "hub schema migrated",
                        metadata: ["postgres.schema": "\(schema.name)", "postgres.migrations": "\(done)"])
                }
                return done
            }
        }
    }

    private static func binds(_ text: String) -> PostgresBindings {
        var bindings = PostgresBindings()
        bindings.append(text)
        return bindings
    }
}

/// A schema's name, checked to be a plain lowercase SQL identifier so it can be spelled in SQL.
struct PostgresSchemaName: Sendable, Hashable {
    let name: String

    init(_ text: String) throws {
        let bytes = Array(text.utf8)
        let isLower = { (byte: UInt8) in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || byte == UInt8(ascii: "_")
        }
        guard (1...63).contains(bytes.count), isLower(bytes[0]),
            bytes.allSatisfy({ isLower($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        else {
            throw PostgresStoreError(
                .invalidSchemaName,
                "A schema name is 1 to 63 lowercase letters, digits or '_', starting with a letter or '_'.")
        }
        name = text
    }
}
