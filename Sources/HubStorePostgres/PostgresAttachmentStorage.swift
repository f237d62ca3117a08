public import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// The hub's attachments on PostgreSQL: ``HubAttachmentStorage`` over the tables of migration
/// `v5-attachments` (`attachments`, `attachment_chunks`, `attachment_names`,
/// `attachment_uploads`) and the device tables of the same schema, with the SQLite hub's
/// semantics (``SQLiteHubAttachmentStorage``).
///
/// Chunk bytes live in PostgreSQL (`bytea`), each chunk once by its SHA-256 and at most
/// ``AttachmentManifest/chunkSize`` bytes, stored only after it matched its manifest's length and
/// hash. Several hub processes may take uploads at once:
///
/// - the chunks of one attachment are taken one at a time, under the lock of its manifest's row
///   (`SELECT … FOR UPDATE`), so the chunk that completes the file is always seen as the last one,
///   whichever process takes it, and the whole file is checked once;
/// - the offers of one device are taken one at a time, under a transaction-scoped advisory lock of
///   the device's uploads, so its quota is read and spent by one offer at a time and a file is
///   counted once; an offer that lacks no chunk of a file not yet whole (0 bytes, or made of chunks
///   the hub holds for other files) checks the whole as a last chunk does, under the same row lock.
///
/// Which versions name an attachment is recorded when ``PostgresHubStorage/take(_:)`` stores them
/// (``PostgresHubStorage/recordAttachmentNames(of:on:)``).
public struct PostgresAttachmentStorage: HubAttachmentStorage {
    let tables: PostgresDeviceTables
    let locking: Locking
    /// Runs inside every offer's and chunk's transaction before it commits (tests: a pause).
    let beforeCommit: @Sendable () async throws -> Void

    /// How concurrent uploads are ordered. Only ``serialized`` is correct; the other exists so
    /// that a test shows the proof of concurrent uploads can fail.
    package enum Locking: Sendable, Hashable {
        /// A manifest's row lock for its chunks, a device's advisory lock for its offers.
        case serialized
        /// No lock: concurrent chunks of one file may each miss the other's.
        case none
    }

    /// The attachments in the schema of `tables` (``PostgresMigrations`` creates their tables).
    public init(tables: PostgresDeviceTables) {
        self.init(tables: tables, locking: .serialized)
    }

    package init(
        tables: PostgresDeviceTables, locking: Locking, beforeCommit: @escaping @Sendable () async throws -> Void = {}
    ) {
        self.tables = tables
        self.locking = locking
        self.beforeCommit = beforeCommit
    }

    private var logger: Logger { tables.logger }
    private func table(_ name: String) -> String { tables.table(name) }

    // MARK: Namings

    public func namings(of hash: String) async throws -> [AttachmentNaming] {
        try await tables.snapshot { connection in
            // As on SQLite: a naming counts while its origin holds a version of that document in
            // good standing (versions_by_document finds them).
            let rows = try await connection.query(
                """
                SELECT DISTINCT n.collection, n.partition, n.origin FROM \(unescaped: table("attachment_names")) n
                WHERE n.sha256 = \(hash) AND EXISTS (
                    SELECT 1 FROM \(unescaped: table("versions")) v
                    WHERE v.collection = n.collection AND v.document_id = n.document_id AND v.origin = n.origin
                        AND v.set_aside_reason IS NULL)
                ORDER BY n.collection, n.partition, n.origin
                """, logger: logger)
            var namings: [AttachmentNaming] = []
            for try await (collection, partition, origin) in rows.decode((String, String, String).self) {
                guard let collection = CollectionName(collection), let partition = Partition(partition),
                    let origin = ReplicaID(origin)
                else {
                    throw PostgresStoreError(.malformedRow, "A row of \(table("attachment_names")) is malformed.")
                }
                namings.append(AttachmentNaming(collection: collection, partition: partition, origin: origin))
            }
            return namings
        }
    }

    // MARK: Manifests and offers

    public func manifest(of hash: String) async throws -> (manifest: AttachmentManifest, complete: Bool)? {
        let held = try await tables.snapshot { connection in
            try await manifest(hash, lock: false, on: connection)
        }
        return held.map { ($0.manifest, $0.complete) }
    }

    public func offer(_ manifest: AttachmentManifest, by device: ReplicaID, quota: Int) async throws
        -> AttachmentOfferOutcome
    {
        let now = tables.now
        return try await tables.transaction { connection in
            if locking == .serialized {
                // One offer of a device at a time, on every hub process: its quota is read and
                // spent by one of them, then the next reads what it left.
                try await connection.execute(
                    """
                    SELECT pg_advisory_xact_lock(hashtextextended(\("vigil.uploads:\(tables.schema.name):\(device.hex)"), 0))
                    """, logger: logger)
            }
            let held = try await self.manifest(manifest.sha256, lock: false, on: connection)
            if let held, held.complete { return .missing([]) }
            // Charged as on SQLite (``AttachmentCharge``).
            let uploads = table("attachment_uploads")
            var charged: Int?
            let offered = try await connection.query(
                "SELECT size FROM \(unescaped: uploads) WHERE device = \(device.hex) AND sha256 = \(manifest.sha256)",
                logger: logger)
            for try await size in offered.decode(Int64.self) { charged = Int(clamping: size) }
            let charge = AttachmentCharge.charge(offered: manifest, charged: charged, current: held?.manifest)
            if charge > 0 {
                var used: Int64 = 0
                let rows = try await connection.query(
                    "SELECT coalesce(sum(size), 0)::bigint FROM \(unescaped: uploads) WHERE device = \(device.hex)",
                    logger: logger)
                for try await sum in rows.decode(Int64.self) { used = sum }
                if quota > 0, Int(clamping: used) + charge > quota {
                    return .overQuota(used: Int(clamping: used), limit: quota)
                }
                try await connection.execute(
                    """
                    INSERT INTO \(unescaped: uploads) (device, sha256, size)
                    VALUES (\(device.hex), \(manifest.sha256), \(Int64(AttachmentCharge.total(charged: charged, charge: charge))))
                    ON CONFLICT (device, sha256) DO UPDATE SET size = excluded.size
                    """, logger: logger)
            }
            // Kept as it is when complete; an incomplete one takes the chunks offered last (as on SQLite).
            try await connection.execute(
                """
                INSERT INTO \(unescaped: table("attachments")) AS a (sha256, size, chunk_size, chunks, added_at)
                VALUES (\(manifest.sha256), \(Int64(clamping: manifest.size)), \(Int64(clamping: manifest.chunkSize)),
                    \(manifest.chunks)::text[], \(now))
                ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, chunk_size = excluded.chunk_size,
                    chunks = excluded.chunks
                WHERE NOT a.complete AND a.chunks <> excluded.chunks
                """, logger: logger)
            // Under the manifest's row lock, as a chunk is taken: a whole checked here is checked
            // once, whichever process takes this offer or a chunk of the same file.
            guard
                let current = try await self.manifest(manifest.sha256, lock: locking == .serialized, on: connection)
            else { return .missing([]) }
            let missing = try await missingChunks(of: current.manifest, on: connection)
            try await beforeCommit()
            guard missing.isEmpty, !current.complete else { return .missing(missing) }
            // Every chunk held already (a 0-byte file, chunks other files share, a file offered
            // again after a false manifest was dropped): no chunk will arrive to check the whole,
            // so it is checked now, as at a last chunk.
            return try await completeAttachment(current.manifest, on: connection) ? .missing([]) : .wholeMismatch
        }
    }

    /// The bytes of the attachments `device` offered, counted against its quota.
    public func uploadedBytes(by device: ReplicaID) async throws -> Int {
        try await tables.snapshot { connection in
            var used: Int64 = 0
            let rows = try await connection.query(
                """
                SELECT coalesce(sum(size), 0)::bigint FROM \(unescaped: table("attachment_uploads"))
                WHERE device = \(device.hex)
                """, logger: logger)
            for try await sum in rows.decode(Int64.self) { used = sum }
            return Int(clamping: used)
        }
    }

    // MARK: Chunks

    public func receive(_ data: Data, index: Int, of hash: String) async throws -> ChunkOutcome {
        try await tables.transaction { connection in
            // The manifest's row stays locked until this chunk is committed: chunks of one file
            // taken by several hub processes are counted one after the other.
            guard
                let (manifest, complete) = try await self.manifest(hash, lock: locking == .serialized, on: connection),
                manifest.chunks.indices.contains(index)
            else { return .unknown }
            guard manifest.accepts(data, asChunk: index) else { return .mismatch }
            if complete { return .complete }
            try await connection.execute(
                """
                INSERT INTO \(unescaped: table("attachment_chunks")) (hash, size, data)
                VALUES (\(manifest.chunks[index]), \(Int64(data.count)), \(data.bytea))
                ON CONFLICT (hash) DO NOTHING
                """, logger: logger)
            let missing = try await missingChunks(of: manifest, on: connection).count
            try await beforeCommit()
            guard missing == 0 else { return .stored(missing: missing) }
            return try await completeAttachment(manifest, on: connection) ? .complete : .wholeMismatch
        }
    }

    public func chunk(_ hash: String) async throws -> Data? {
        try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT data FROM \(unescaped: table("attachment_chunks")) WHERE hash = \(hash)", logger: logger)
            var found: Data?
            for try await data in rows.decode(Data.self) { found = data }
            return found
        }
    }

    // MARK: Media policies

    public func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy? {
        try await PostgresDeviceAdministration(tables: tables).mediaPolicy(of: device)
    }

    public func offered(_ hash: String, by device: ReplicaID) async throws -> Bool {
        try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT 1 FROM \(unescaped: table("attachment_uploads")) WHERE device = \(device.hex) AND sha256 = \(hash)",
                logger: logger
            ).collect()
            return !rows.isEmpty
        }
    }

    // MARK: Rows

    private func manifest(_ hash: String, lock: Bool, on connection: PostgresConnection) async throws
        -> (manifest: AttachmentManifest, complete: Bool)?
    {
        let rows = try await connection.query(
            """
            SELECT size, chunk_size, chunks, complete FROM \(unescaped: table("attachments"))
            WHERE sha256 = \(hash) \(unescaped: lock ? "FOR UPDATE" : "")
            """, logger: logger)
        var found: (manifest: AttachmentManifest, complete: Bool)?
        for try await (size, chunkSize, chunks, complete) in rows.decode((Int64, Int64, [String], Bool).self) {
            let manifest = AttachmentManifest(
                sha256: hash, size: Int(clamping: size), chunkSize: Int(clamping: chunkSize), chunks: chunks)
            // A row a restored or altered database holds is read as any input: a chunk size or
            // count that does not add up would trap the arithmetic of a later chunk.
            guard manifest.isWellFormed else {
                throw PostgresStoreError(.malformedRow, "An attachment's row in \(tables.schema.name).attachments does not add up.")
            }
            found = (manifest, complete)
        }
        return found
    }

    /// The indexes of `manifest`'s chunks not held, in order.
    private func missingChunks(of manifest: AttachmentManifest, on connection: PostgresConnection) async throws -> [Int]
    {
        guard !manifest.chunks.isEmpty else { return [] }
        let rows = try await connection.query(
            """
            SELECT m.position - 1 FROM unnest(\(manifest.chunks)::text[]) WITH ORDINALITY AS m(hash, position)
            WHERE NOT EXISTS (SELECT 1 FROM \(unescaped: table("attachment_chunks")) c WHERE c.hash = m.hash)
            ORDER BY m.position
            """, logger: logger)
        var missing: [Int] = []
        for try await index in rows.decode(Int64.self) { missing.append(Int(index)) }
        return missing
    }

    /// With every chunk of `manifest` held: marks it complete when the whole matches its SHA-256,
    /// else drops the manifest (its chunks stay, each true to its own hash). The chunks are read
    /// as a stream, one at a time. Called at the last chunk's arrival and at an offer that lacks
    /// no chunk, with the manifest's row locked.
    private func completeAttachment(_ manifest: AttachmentManifest, on connection: PostgresConnection) async throws
        -> Bool
    {
        var whole = AttachmentHasher()
        var read = 0
        let rows = try await connection.query(
            """
            SELECT c.data FROM unnest(\(manifest.chunks)::text[]) WITH ORDINALITY AS m(hash, position)
            JOIN \(unescaped: table("attachment_chunks")) c ON c.hash = m.hash
            ORDER BY m.position
            """, logger: logger)
        for try await data in rows.decode(Data.self) {
            whole.update(data)
            read += 1
        }
        let matches = read == manifest.chunks.count && whole.hexDigest() == manifest.sha256
        if matches {
            try await connection.execute(
                "UPDATE \(unescaped: table("attachments")) SET complete = true WHERE sha256 = \(manifest.sha256)",
                logger: logger)
        } else {
            try await connection.execute(
                "DELETE FROM \(unescaped: table("attachments")) WHERE sha256 = \(manifest.sha256) AND NOT complete",
                logger: logger)
        }
        return matches
    }
}

extension PostgresHubStorage {
    /// Records the attachments `version`'s body names (``AttachmentNames/named(in:)``), in the
    /// transaction of the push that stores it. A tombstone, or a body that names none, costs no
    /// round trip. Set-aside versions are recorded too; ``PostgresAttachmentStorage/namings(of:)``
    /// counts a naming only while its origin holds a version of the document in good standing (as
    /// the SQLite hub does).
    func recordAttachmentNames(of version: Version, on connection: PostgresConnection) async throws {
        guard let body = version.body else { return }
        let hashes = AttachmentNames.named(in: body)
        guard !hashes.isEmpty else { return }
        try await connection.execute(
            """
            INSERT INTO \(unescaped: tables.table("attachment_names")) (sha256, collection, document_id, partition, origin)
            SELECT h, \(version.collection.rawValue), \(version.documentID.rawValue), \(version.partition.rawValue),
                \(version.dot.replica.hex)
            FROM unnest(\(hashes)::text[]) AS h
            ON CONFLICT DO NOTHING
            """, logger: tables.logger)
    }
}
