import GRDB

extension Schema {
    /// `v14-attachments`: attachment chunks content-addressed by SHA-256, the manifests that put them
    /// in order, which documents name which attachment, and (at a hub) uploads per device and media
    /// policies. Never edited once shipped.
    static func migrateAttachments(_ db: Database) throws {
        try db.execute(sql: """
            -- Each chunk once, by the SHA-256 of its plaintext, whatever the attachments or
            -- documents that use it. data is sealed on an encrypted replica (vigil_seal with
            -- 'attachment_chunks' and the hash).
            CREATE TABLE attachment_chunks (
                hash TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                data BLOB NOT NULL
            );
            -- An attachment's manifest: its chunks' hashes in order (a JSON array). complete = 1
            -- once every chunk is held and the whole file matched sha256. added_here = 1 for a file
            -- attached on this replica; sent = 1 once the hub said it holds the whole file.
            -- refused: the hub's last refusal of the upload (its problem type) and the limit it
            -- named, cleared once the hub takes it.
            CREATE TABLE attachments (
                sha256 TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                chunk_size INTEGER NOT NULL,
                chunks TEXT NOT NULL,
                complete INTEGER NOT NULL DEFAULT 0,
                added_here INTEGER NOT NULL DEFAULT 0,
                sent INTEGER NOT NULL DEFAULT 0,
                refused TEXT,
                refused_limit INTEGER,
                added_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            -- Which versions name which attachment (from their bodies' attachments[].sha256),
            -- filled from versions in arrival order up to attachment_index.last_seq.
            CREATE TABLE attachment_names (
                sha256 TEXT NOT NULL,
                collection TEXT NOT NULL,
                document_id TEXT NOT NULL,
                partition TEXT NOT NULL,
                origin TEXT NOT NULL,
                PRIMARY KEY (sha256, collection, document_id, origin)
            ) WITHOUT ROWID;
            CREATE TABLE attachment_index (
                singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
                last_seq INTEGER NOT NULL
            );
            INSERT INTO attachment_index (singleton, last_seq) VALUES (1, 0);
            -- At a hub: the attachments each device offered, counted against its quota.
            CREATE TABLE attachment_uploads (
                sha256 TEXT NOT NULL,
                device TEXT NOT NULL,
                size INTEGER NOT NULL,
                PRIMARY KEY (device, sha256)
            ) WITHOUT ROWID;
            -- At a hub: which attachments a device receives at each sync ('all', 'none', 'own');
            -- NULL: the default. A code's policy passes to the device it enrolls.
            ALTER TABLE enrollment_codes ADD COLUMN media TEXT CHECK (media IN ('all', 'none', 'own'));
            ALTER TABLE devices ADD COLUMN media TEXT CHECK (media IN ('all', 'none', 'own'));
            """)
    }
}
