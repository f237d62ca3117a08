import GRDB

/// The replica's schema, as named migrations. A migration is never edited once it has shipped;
/// changes come as new migrations appended here.
///
/// Since `v23-replica-role` a file has a role (``ReplicaStore/Role``): a device's file drops the
/// tables v2 to v17 made for hubs (``ReplicaStore/hubOnlyTables``). Migrations here are the field
/// replica's, run on device and hub files alike; they never touch a hub-only table again. A change
/// to the hub's tables goes to the hub's own migrator (`HubSchema` in HubStore, migrations named
/// `hub-…` in the same GRDB table, which this migrator ignores), run only on a hub's file.
enum Schema {
    /// The text `PRAGMA application_id` holds in every replica file ("VGIL").
    static let applicationID: Int32 = 0x5647_494C

    /// The migrations of a file opened in `role` (`v23-replica-role` records it, and drops the hub's
    /// tables from a device's file); `path` names the file in errors.
    static func migrator(for role: ReplicaStore.Role, path: String) -> DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-replica") { db in
            try db.execute(sql: """
                CREATE TABLE replica (
                    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                    replica_id TEXT NOT NULL,
                    public_key BLOB NOT NULL,
                    counter INTEGER NOT NULL DEFAULT 0,
                    clock_wall INTEGER NOT NULL DEFAULT 0,
                    clock_logical INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL
                );
                -- Every version this replica holds, its own and received ones: the history.
                -- seq is the local arrival order, never reused (AUTOINCREMENT).
                CREATE TABLE versions (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    collection TEXT NOT NULL,
                    document_id TEXT NOT NULL,
                    partition TEXT NOT NULL,
                    context TEXT NOT NULL,
                    body BLOB,
                    clock_wall INTEGER NOT NULL,
                    clock_logical INTEGER NOT NULL,
                    signature BLOB NOT NULL,
                    received_from TEXT,
                    set_aside_reason TEXT,
                    UNIQUE (origin, counter)
                );
                CREATE INDEX versions_by_document ON versions (collection, document_id);
                -- The current state of every document: its siblings and the join of their histories.
                CREATE TABLE documents (
                    collection TEXT NOT NULL,
                    document_id TEXT NOT NULL,
                    partition TEXT NOT NULL,
                    siblings TEXT NOT NULL,
                    context TEXT NOT NULL,
                    sibling_count INTEGER NOT NULL,
                    deleted INTEGER NOT NULL,
                    updated_wall INTEGER NOT NULL,
                    PRIMARY KEY (collection, document_id)
                ) WITHOUT ROWID;
                CREATE INDEX documents_newest ON documents (collection, updated_wall DESC, document_id DESC);
                CREATE INDEX documents_conflicted ON documents (collection, document_id) WHERE sibling_count > 1;
                -- For every origin, the highest counter received.
                CREATE TABLE knowledge (
                    origin TEXT PRIMARY KEY,
                    counter INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- Public keys of the devices whose versions this replica holds.
                CREATE TABLE device_keys (
                    replica_id TEXT PRIMARY KEY,
                    public_key BLOB NOT NULL
                ) WITHOUT ROWID;
                -- What this replica knows of each peer it syncs with.
                CREATE TABLE peers (
                    peer TEXT PRIMARY KEY,
                    knowledge TEXT NOT NULL DEFAULT '',
                    checkpoint TEXT,
                    last_sync_at INTEGER,
                    last_error TEXT
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v2-devices") { db in
            try db.execute(sql: """
                -- A hub's enrolled devices. Credentials are kept only as their SHA-256.
                CREATE TABLE devices (
                    replica_id TEXT PRIMARY KEY,
                    name TEXT NOT NULL,
                    public_key BLOB NOT NULL,
                    credential_hash BLOB NOT NULL UNIQUE,
                    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
                    enrolled_at INTEGER NOT NULL,
                    revoked_at INTEGER,
                    last_seen_at INTEGER,
                    last_lag INTEGER,
                    last_skew_ms INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX devices_by_name ON devices (name);
                -- One-time enrollment codes, kept only as their SHA-256.
                CREATE TABLE enrollment_codes (
                    code_hash BLOB PRIMARY KEY,
                    device_name TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    expires_at INTEGER NOT NULL,
                    used_at INTEGER,
                    used_by TEXT
                ) WITHOUT ROWID;
                -- Pushed versions whose signature does not verify against their origin's key and
                -- whose origin is not the pusher: kept here, out of the versions table, so that a
                -- forged version never occupies its origin's dot.
                CREATE TABLE foreign_quarantine (
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    signature BLOB NOT NULL,
                    version TEXT NOT NULL,
                    pushed_by TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    received_at INTEGER NOT NULL,
                    PRIMARY KEY (origin, counter, signature)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v3-incarnations") { db in
            try db.execute(sql: """
                -- This replica's earlier ids: it forked (copied or restored, and written since) and
                -- went on under a new id. Its versions from the fork point on were re-issued.
                CREATE TABLE incarnations (
                    replica_id TEXT PRIMARY KEY,
                    forked_at INTEGER NOT NULL,
                    succeeded_by TEXT NOT NULL,
                    reissued INTEGER NOT NULL,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- The versions a forked replica re-issued under its new id, as they were: out of the
                -- versions table, whose dots the network's real versions of the old id take.
                CREATE TABLE forked_versions (
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    version TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    PRIMARY KEY (origin, counter)
                ) WITHOUT ROWID;
                -- A hub's further replica ids of enrolled devices (new incarnations after a fork):
                -- bound to the device enrolled as device_id, with its key and credential.
                CREATE TABLE device_incarnations (
                    replica_id TEXT PRIMARY KEY,
                    device_id TEXT NOT NULL,
                    forked_at TEXT,
                    created_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX device_incarnations_by_device ON device_incarnations (device_id);
                """)
        }
        migrator.registerMigration("v4-scopes") { db in
            try db.execute(sql: """
                -- A device's read and write grants (scope text, see `AccessGrants`); devices and
                -- codes from before scopes existed may read and write everything.
                ALTER TABLE devices ADD COLUMN read_scope TEXT NOT NULL DEFAULT '*';
                ALTER TABLE devices ADD COLUMN write_scope TEXT NOT NULL DEFAULT '*';
                ALTER TABLE enrollment_codes ADD COLUMN read_scope TEXT NOT NULL DEFAULT '*';
                ALTER TABLE enrollment_codes ADD COLUMN write_scope TEXT NOT NULL DEFAULT '*';
                -- A field replica's last grants from a peer, as the peer sent them (JSON), and whether
                -- documents outside their read scope are still kept because they held unsent versions.
                ALTER TABLE peers ADD COLUMN grants TEXT;
                ALTER TABLE peers ADD COLUMN forget_pending INTEGER NOT NULL DEFAULT 0;
                -- A hub's grant sets by fingerprint, so that a pull checkpoint made under one set
                -- tells what the device could read then.
                CREATE TABLE grant_sets (
                    fingerprint TEXT PRIMARY KEY,
                    read_scope TEXT NOT NULL,
                    write_scope TEXT NOT NULL
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v5-audit") { db in
            try db.execute(sql: """
                -- A hub's append-only audit log: each entry's hash is SHA-256 of the previous
                -- entry's hash and the entry's canonical bytes (see `AuditEntry`). detail is a JSON
                -- object of strings.
                CREATE TABLE audit_log (
                    seq INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    previous_hash BLOB NOT NULL,
                    hash BLOB NOT NULL
                );
                CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                """)
        }
        migrator.registerMigration("v6-verification-reports") { db in
            try db.execute(sql: """
                -- Pulled versions whose signature failed on this replica, until their report
                -- reaches the hub (reported_at set in the exchange's transaction).
                CREATE TABLE verification_failures (
                    origin TEXT NOT NULL,
                    counter INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    found_at INTEGER NOT NULL,
                    reported_at INTEGER,
                    PRIMARY KEY (origin, counter)
                ) WITHOUT ROWID;
                CREATE INDEX verification_failures_unreported ON verification_failures (origin, counter)
                WHERE reported_at IS NULL;
                """)
        }
        migrator.registerMigration("v7-trust") { db in
            try db.execute(sql: """
                -- The hubs this replica enrolled with and the key each signs certificates with,
                -- pinned at enrollment: author keys are trusted only through their certificates.
                CREATE TABLE trusted_hubs (
                    hub_id TEXT PRIMARY KEY,
                    public_key BLOB NOT NULL,
                    pinned_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- The certificate that established a key (JSON); NULL for a key held from before
                -- certificates (trusted on first sight then).
                ALTER TABLE device_keys ADD COLUMN certificate TEXT;
                -- Revoked replica ids and their horizon: versions above it are refused. At a hub
                -- the horizon is the highest counter admitted at revocation; on a device, what the
                -- hub's signed notice says (signature kept).
                CREATE TABLE revocations (
                    replica_id TEXT PRIMARY KEY,
                    horizon INTEGER NOT NULL,
                    revoked_at INTEGER NOT NULL,
                    device_id TEXT,
                    hub_id TEXT,
                    signature BLOB
                ) WITHOUT ROWID;
                -- A pulled version that failed verification is kept whole, apart from the
                -- versions table (it never takes its origin's dot nor shows as a document's state).
                ALTER TABLE verification_failures ADD COLUMN collection TEXT;
                ALTER TABLE verification_failures ADD COLUMN document_id TEXT;
                ALTER TABLE verification_failures ADD COLUMN version TEXT;
                CREATE INDEX verification_failures_by_document ON verification_failures (collection, document_id)
                WHERE collection IS NOT NULL;
                -- Set-aside versions are few: looking them up (versions held until their context is
                -- plausible) reads only them.
                CREATE INDEX versions_set_aside ON versions (seq) WHERE set_aside_reason IS NOT NULL;
                """)
        }
        migrator.registerMigration("v8-audit-signatures") { db in
            try db.execute(sql: """
                -- Audit entries from here on are in the signed format (2: their hash covers
                -- 'vigil.audit.2'), each signed with the hub's key, which lives in the key file beside
                -- the database, not in it. Entries written before keep format 1 and no signature:
                -- nothing is signed retroactively.
                ALTER TABLE audit_log ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
                CREATE INDEX audit_log_unsigned ON audit_log (seq) WHERE format = 1;
                CREATE TABLE audit_signatures (
                    seq INTEGER PRIMARY KEY,
                    signature BLOB NOT NULL
                );
                CREATE TRIGGER audit_signatures_no_update BEFORE UPDATE ON audit_signatures
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                CREATE TRIGGER audit_signatures_no_delete BEFORE DELETE ON audit_signatures
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
                -- Per-device hourly limits: what a device caused this hour, and what it caused
                -- beyond the limit (counted here until the hour ends, then written as one entry).
                CREATE INDEX audit_log_by_actor ON audit_log (actor, at);
                CREATE INDEX foreign_quarantine_by_pusher ON foreign_quarantine (pushed_by, received_at);
                CREATE TABLE audit_suppressed (
                    device TEXT NOT NULL,
                    hour INTEGER NOT NULL,
                    kind TEXT NOT NULL,
                    count INTEGER NOT NULL,
                    PRIMARY KEY (device, hour, kind)
                ) WITHOUT ROWID;
                """)
        }
        migrator.registerMigration("v9-assumed-knowledge") { db in
            try db.execute(sql: """
                -- The peer reset this replica's pull checkpoint (a restored hub): the next exchange
                -- sends the whole belief of its knowledge. Kept with the page that carried the reset,
                -- so a cut link or a restart does not lose the step; cleared once it was answered.
                ALTER TABLE peers ADD COLUMN assumed_knowledge_pending INTEGER NOT NULL DEFAULT 0;
                -- Own versions received before a received one raised the counter (a hub restored
                -- from a backup that devices relayed its merges back to): the next write must not
                -- take one of their dots.
                UPDATE replica SET counter = max(counter, coalesce(
                    (SELECT max(v.counter) FROM versions v WHERE v.origin = replica.replica_id), 0));
                """)
        }
        migrator.registerMigration("v10-encryption-at-rest") { db in
            try db.execute(sql: """
                -- The id of the data key an encrypted replica seals its bodies with (its wrapped
                -- key is in <replica>.datakey); NULL for a replica in clear. Opening with another
                -- key file, or without one, is refused.
                ALTER TABLE replica ADD COLUMN data_key_id TEXT;
                """)
        }
        migrator.registerMigration("v11-hub-writers-and-feed-tags") { db in
            try db.execute(sql: """
                -- The ids a hub writes its own versions under, one per process start, signed with
                -- its key: a hub restored from a backup draws a new one and never reuses a dot.
                CREATE TABLE hub_writers (
                    replica_id TEXT PRIMARY KEY,
                    started_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                -- A random number drawn when the row is stored: a feed position names it, so a
                -- position handed out before a restore from a backup is not taken for the same
                -- version stored again at the same sequence. NULL in rows stored before.
                ALTER TABLE versions ADD COLUMN feed_tag INTEGER;
                """)
        }
        migrator.registerMigration("v12-keep-sent") { db in
            try db.execute(sql: """
                -- Delete after receipt: which bodies a field replica keeps once the hub holds them
                -- ('all'; 'own': only its own versions; 'none').
                ALTER TABLE replica ADD COLUMN keep_sent TEXT NOT NULL DEFAULT 'all'
                    CHECK (keep_sent IN ('all', 'own', 'none'));
                -- 1 when the body was dropped after the hub acknowledged the version: body is then
                -- NULL but the version is not a tombstone (a tombstone has body NULL and 0 here).
                ALTER TABLE versions ADD COLUMN body_dropped INTEGER NOT NULL DEFAULT 0;
                """)
        }
        migrator.registerMigration("v13-operators", migrate: ReplicaStore.createOperatorTables)
        migrator.registerMigration("v14-attachments") { db in try Schema.migrateAttachments(db) }
        migrator.registerMigration("v15-admission-receipts") { db in
            try db.execute(sql: """
                -- The hub's admission receipt of a version (12 bytes), kept to be sent back with it
                -- when it is pushed again (to a hub restored from a backup). A hub stores none: it
                -- makes them as it serves.
                ALTER TABLE versions ADD COLUMN receipt BLOB;
                """)
        }
        migrator.registerMigration("v16-operator-totp", migrate: ReplicaStore.addOperatorTOTP)
        migrator.registerMigration("v18-bundle-peers", migrate: Schema.migrateBundlePeers)
        migrator.registerMigration("v19-device-pending", migrate: Schema.migrateDevicePending)
        migrator.registerMigration("v21-set-aside-codes", migrate: Schema.migrateSetAsideCodes)
        migrator.registerMigration("v17-informant-keys", migrate: Schema.migrateInformantKeys)
        migrator.registerMigration("v20-informant-key-checks", migrate: Schema.migrateInformantKeyChecks)
        migrator.registerMigration("v22-peer-protocol", migrate: Schema.migratePeerProtocol)
        migrator.registerMigration("v23-replica-role") { db in try Schema.migrateRole(db, role: role, path: path) }
        return migrator
    }
}
