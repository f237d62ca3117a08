public import Foundation
public import SyncEngine
package import GRDB

/// What a replica holds of one attachment.
public enum AttachmentHolding: Sendable, Hashable {
    /// Every chunk, and the whole file matched its SHA-256.
    case held
    /// Some chunks of a known manifest (a transfer under way or cut).
    case partial(heldChunks: Int, chunkCount: Int)
    /// Nothing of it.
    case missing
}

/// Attachments on a replica (Docs/ReplicaModel.md, Attachments): files stored content-addressed
/// in chunks of ``AttachmentManifest/chunkSize``, each chunk once by its SHA-256, sealed like bodies
/// on an encrypted replica (`vigil_seal` with `'attachment_chunks'` and the chunk's hash).
extension ReplicaStore {
    /// Stores a file read in pieces from `next` (nil or empty at its end): its chunks and its
    /// manifest, as attached on this replica (to be sent to the hub). Idempotent.
    public func storeAttachment(reading next: () throws -> Data?) throws -> AttachmentManifest {
        var chunker = AttachmentChunker()
        var pieces: [Data] = []
        var pending = 0
        var stored: [String] = []
        // Written a few MiB at a time so a large file is never held whole.
        func flush() throws {
            let batch = pieces
            pieces = []
            pending = 0
            guard !batch.isEmpty else { return }
            try write { db in for chunk in batch { try Self.insertChunk(db, chunk, hash: AttachmentDigest.hex(of: chunk)) } }
            stored += batch.map { AttachmentDigest.hex(of: $0) }
        }
        while let piece = try next(), !piece.isEmpty {
            for chunk in chunker.add(piece) {
                pieces.append(chunk)
                pending += chunk.count
            }
            if pending >= 8 << 20 { try flush() }
        }
        let (last, manifest) = chunker.finish()
        if let last { pieces.append(last) }
        try flush()
        let now = Int64(clamping: options.now())
        try write { db in
            try Self.saveManifest(db, manifest, now: now)
            try db.execute(
                sql: "UPDATE attachments SET complete = 1, added_here = 1 WHERE sha256 = ?", arguments: [manifest.sha256])
        }
        return manifest
    }

    /// What this replica holds of each of `hashes`.
    public func attachmentHoldings(_ hashes: [String]) throws -> [String: AttachmentHolding] {
        try read { db in
            var holdings: [String: AttachmentHolding] = [:]
            for hash in hashes {
                guard let manifest = try Self.manifest(db, hash) else {
                    holdings[hash] = .missing
                    continue
                }
                if manifest.complete {
                    holdings[hash] = .held
                } else {
                    let missing = try Self.missingChunks(db, manifest.manifest).count
                    let count = manifest.manifest.chunks.count
                    holdings[hash] = missing == count ? .missing : .partial(heldChunks: count - missing, chunkCount: count)
                }
            }
            return holdings
        }
    }

    /// The manifest of `hash` and whether the whole file is held; nil when none is known.
    public func attachmentManifest(_ hash: String) throws -> (manifest: AttachmentManifest, complete: Bool)? {
        try read { db in try Self.manifest(db, hash) }
    }

    /// Writes the held attachment `hash` to `output` chunk by chunk, each checked against its hash
    /// and the whole against the attachment's; false when it is not held whole or a check fails
    /// (what `output` got must then be thrown away).
    public func writeAttachment(_ hash: String, to output: (Data) throws -> Void) throws -> Bool {
        guard let (manifest, complete) = try attachmentManifest(hash), complete else { return false }
        var whole = AttachmentHasher()
        for index in manifest.chunks.indices {
            guard let data = try chunk(manifest.chunks[index]), manifest.accepts(data, asChunk: index) else { return false }
            whole.update(data)
            try output(data)
        }
        return whole.hexDigest() == hash
    }

    /// The chunk whose SHA-256 is `hash`, opened; nil when not held.
    public func chunk(_ hash: String) throws -> Data? {
        try read { db in
            try Data.fetchOne(
                db, sql: "SELECT vigil_open(data, 'attachment_chunks', hash) FROM attachment_chunks WHERE hash = ?",
                arguments: [hash])
        }
    }

    /// The indexes of the chunks of `manifest` this replica lacks.
    public func missingChunks(of manifest: AttachmentManifest) throws -> [Int] {
        try read { db in try Self.missingChunks(db, manifest) }
    }

    /// Records `manifest` for a file whose chunks are to come (kept as it is when one is known).
    public func saveAttachmentManifest(_ manifest: AttachmentManifest) throws {
        let now = Int64(clamping: options.now())
        try write { db in try Self.saveManifest(db, manifest, now: now) }
    }

    /// Stores a chunk its caller checked against its hash.
    public func storeChunk(_ data: Data, hash: String) throws {
        try write { db in try Self.insertChunk(db, data, hash: hash) }
    }

    /// Marks the attachment `hash` held once every chunk is here and the whole file matches its
    /// SHA-256. A whole that does not match drops the manifest (a peer described the file falsely;
    /// its chunks stay, each true to its own hash). Returns whether the file is held whole now.
    ///
    /// The chunks are hashed outside the write, so the mark or the drop applies only to the
    /// manifest that was hashed: one another offer put in its place meanwhile (a false manifest of
    /// the same hash, from a seized device) is checked in turn, never marked unchecked.
    @discardableResult
    public func completeAttachment(_ hash: String) throws -> Bool {
        try completeAttachment(hash, beforeMarking: {})
    }

    /// ``completeAttachment(_:)`` with `beforeMarking` run between the hashing and the write
    /// (tests: another offer in that window).
    package func completeAttachment(_ hash: String, beforeMarking: () throws -> Void) throws -> Bool {
        for _ in 0..<3 {
            guard let (manifest, complete) = try attachmentManifest(hash) else { return false }
            if complete { return true }
            guard try missingChunks(of: manifest).isEmpty else { return false }
            var whole = AttachmentHasher()
            for chunkHash in manifest.chunks {
                guard let data = try chunk(chunkHash) else { return false }
                whole.update(data)
            }
            let matches = whole.hexDigest() == hash
            try beforeMarking()
            let applied = try write { db in
                let held = "sha256 = ? AND complete = 0 AND size = ? AND chunk_size = ? AND chunks = ?"
                let arguments: StatementArguments = [hash, manifest.size, manifest.chunkSize, Self.chunksText(manifest)]
                try db.execute(
                    sql: matches ? "UPDATE attachments SET complete = 1 WHERE \(held)" : "DELETE FROM attachments WHERE \(held)",
                    arguments: arguments)
                return db.changesCount > 0
            }
            if applied { return matches }
        }
        return false
    }

    /// Files attached here, held whole, that the hub has not yet said it holds.
    public func attachmentsToSend(limit: Int = 100) throws -> [AttachmentManifest] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT sha256, size, chunk_size, chunks FROM attachments
                    WHERE added_here = 1 AND complete = 1 AND sent = 0 ORDER BY added_at LIMIT ?
                    """, arguments: [max(1, limit)]
            ).compactMap(Self.decodeManifest)
        }
    }

    /// Records that the hub holds the whole attachment `hash`.
    public func markAttachmentSent(_ hash: String) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE attachments SET sent = 1, refused = NULL, refused_limit = NULL WHERE sha256 = ?",
                arguments: [hash])
        }
    }

    /// Records the hub's refusal of the upload of `hash` (its problem type and the limit it named);
    /// the upload is offered again at each sync.
    public func markAttachmentRefused(_ hash: String, problem: String, limit: Int?) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE attachments SET refused = ?, refused_limit = ? WHERE sha256 = ?",
                arguments: [problem, limit, hash])
        }
    }

    /// The uploads the hub refused at its last answer about them: hash, problem type, limit.
    public func refusedAttachments() throws -> [(sha256: String, problem: String, limit: Int?)] {
        try read { db in
            try Row.fetchAll(
                db, sql: "SELECT sha256, refused, refused_limit FROM attachments WHERE refused IS NOT NULL AND sent = 0"
            ).map { (sha256: $0[0], problem: $0[1], limit: $0[2]) }
        }
    }

    /// Attachments named by versions this replica holds that it does not hold whole, newest
    /// first, leaving out `excluding`; at most `limit`.
    public func attachmentsLacked(limit: Int = ManifestsRequest.maximumCount, excluding: Set<String> = []) throws -> [String] {
        try indexAttachmentNames()
        return try read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT n.sha256 FROM attachment_names n
                    WHERE NOT EXISTS (SELECT 1 FROM attachments a WHERE a.sha256 = n.sha256 AND a.complete = 1)
                    ORDER BY n.sha256
                    """
            ).filter { !excluding.contains($0) }.prefix(max(1, limit)).map { $0 }
        }
    }

    /// Erases the attachments no version this replica holds names any more (the documents naming
    /// them were forgotten when the read scope narrowed), unless they were attached here and the
    /// hub has not yet confirmed them; then the chunks no manifest uses. Freed pages are zeroed and
    /// the WAL truncated, as a forget does. Returns how many attachments went.
    @discardableResult
    public func eraseUnnamedAttachments() throws -> Int {
        try indexAttachmentNames()
        return try write { db in
            try db.execute(
                sql: """
                    DELETE FROM attachment_names WHERE NOT EXISTS (
                        SELECT 1 FROM versions v WHERE v.origin = attachment_names.origin
                            AND v.collection = attachment_names.collection AND v.document_id = attachment_names.document_id)
                    """)
            let erased = try Self.eraseUnnamedFiles(db)
            if erased.attachments > 0 || erased.chunks > 0 { Self.eraseFreedPagesAfterCommit(db) }
            return erased.attachments
        }
    }

    /// In the current transaction, deletes the attachments `attachment_names` no longer lists,
    /// unless attached here and not yet confirmed by the hub, then the chunks no manifest uses.
    static func eraseUnnamedFiles(_ db: Database) throws -> (attachments: Int, chunks: Int) {
        try db.execute(
            sql: """
                DELETE FROM attachments WHERE NOT (added_here = 1 AND sent = 0)
                    AND NOT EXISTS (SELECT 1 FROM attachment_names n WHERE n.sha256 = attachments.sha256)
                """)
        let attachments = db.changesCount
        try db.execute(
            sql: """
                DELETE FROM attachment_chunks WHERE hash NOT IN (
                    SELECT j.value FROM attachments a, json_each(a.chunks) j)
                """)
        return (attachments, db.changesCount)
    }

    /// What waits to move of attachments: files attached here the hub has not confirmed (count,
    /// bytes), and files this replica's documents name that it does not hold whole (count, and the
    /// bytes still lacked of those whose manifest is known).
    public func attachmentBacklog() throws -> AttachmentBacklog {
        try indexAttachmentNames()
        return try read { db in
            let sending = try Row.fetchOne(
                db, sql: "SELECT count(*), coalesce(sum(size), 0) FROM attachments WHERE added_here = 1 AND sent = 0")
            let lacked = try String.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT n.sha256 FROM attachment_names n WHERE NOT EXISTS (
                        SELECT 1 FROM attachments a WHERE a.sha256 = n.sha256 AND a.complete = 1)
                    """)
            var lackedBytes = 0
            for hash in lacked {
                guard let (manifest, _) = try Self.manifest(db, hash) else { continue }
                lackedBytes += try Self.missingChunks(db, manifest).reduce(0) { $0 + manifest.length(ofChunk: $1) }
            }
            return AttachmentBacklog(
                toSend: sending?[0] ?? 0, bytesToSend: sending?[1] ?? 0, lacked: lacked.count, knownBytesLacked: lackedBytes)
        }
    }

    // MARK: - Rows

    static func insertChunk(_ db: Database, _ data: Data, hash: String) throws {
        try db.execute(
            sql: "INSERT OR IGNORE INTO attachment_chunks (hash, size, data) VALUES (?1, ?2, vigil_seal(?3, 'attachment_chunks', ?1))",
            arguments: [hash, data.count, data])
    }

    package static func saveManifest(_ db: Database, _ manifest: AttachmentManifest, now: Int64) throws {
        let chunks = chunksText(manifest)
        try db.execute(
            sql: """
                INSERT INTO attachments (sha256, size, chunk_size, chunks, added_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (sha256) DO UPDATE SET size = excluded.size, chunk_size = excluded.chunk_size,
                    chunks = excluded.chunks WHERE attachments.complete = 0 AND attachments.chunks <> excluded.chunks
                """,
            arguments: [manifest.sha256, manifest.size, manifest.chunkSize, chunks, now])
    }

    /// A manifest's chunk hashes as its row holds them.
    static func chunksText(_ manifest: AttachmentManifest) -> String {
        String(decoding: (try? JSONEncoder().encode(manifest.chunks)) ?? Data("[]".utf8), as: UTF8.self)
    }

    package static func manifest(_ db: Database, _ hash: String) throws -> (manifest: AttachmentManifest, complete: Bool)? {
        guard let row = try Row.fetchOne(
            db, sql: "SELECT sha256, size, chunk_size, chunks, complete FROM attachments WHERE sha256 = ?", arguments: [hash]),
            let manifest = decodeManifest(row)
        else { return nil }
        return (manifest, row["complete"] as Bool)
    }

    static func decodeManifest(_ row: Row) -> AttachmentManifest? {
        guard let chunks = try? JSONDecoder().decode([String].self, from: Data((row["chunks"] as String).utf8)) else {
            return nil
        }
        let manifest = AttachmentManifest(sha256: row["sha256"], size: row["size"], chunkSize: row["chunk_size"], chunks: chunks)
        // A row of a restored or altered file that does not add up is no manifest: its arithmetic
        // would trap at a later chunk.
        return manifest.isWellFormed ? manifest : nil
    }

    package static func missingChunks(_ db: Database, _ manifest: AttachmentManifest) throws -> [Int] {
        let statement = try db.cachedStatement(sql: "SELECT 1 FROM attachment_chunks WHERE hash = ?")
        return try manifest.chunks.indices.filter { index in
            try Int.fetchOne(statement, arguments: [manifest.chunks[index]]) == nil
        }
    }
}

extension ReplicaStore {
    /// Brings `attachment_names` up to the newest version: reads the versions stored since the last
    /// call (their bodies opened) and records the attachments each names. Set-aside versions and
    /// tombstones name nothing.
    /// The sizes (`size_bytes`) that the versions in good standing naming `hash` give it, read
    /// from at most 50 of them: what the author signed, against which a hub's manifest is checked.
    public func declaredSizes(of hash: String) throws -> Set<Int> {
        try indexAttachmentNames()
        return try read { db in
            let bodies = try Data?.fetchAll(
                db,
                sql: """
                    SELECT vigil_open(v.body, 'versions', v.origin, v.counter, v.collection, v.document_id)
                    FROM attachment_names n JOIN versions v
                        ON v.collection = n.collection AND v.document_id = n.document_id AND v.origin = n.origin
                    WHERE n.sha256 = ? AND v.set_aside_reason IS NULL AND v.body IS NOT NULL LIMIT 50
                    """,
                arguments: [hash])
            var sizes = Set<Int>()
            for body in bodies.compactMap({ $0 }) {
                for reference in AttachmentNames.references(in: body) where reference.sha256 == hash {
                    if let size = reference.sizeBytes { sizes.insert(size) }
                }
            }
            return sizes
        }
    }

    public func indexAttachmentNames() throws {
        let (last, newest) = try read { db in
            (
                try Int64.fetchOne(db, sql: "SELECT last_seq FROM attachment_index") ?? 0,
                try Int64.fetchOne(db, sql: "SELECT coalesce(max(seq), 0) FROM versions") ?? 0
            )
        }
        guard newest > last else { return }
        var done = false
        while !done {
            done = try write { db in
                let from = try Int64.fetchOne(db, sql: "SELECT last_seq FROM attachment_index") ?? 0
                let rows = try Row.fetchAll(
                    db,
                    sql: """
                        SELECT seq, origin, collection, document_id, partition,
                            vigil_open(body, 'versions', origin, counter, collection, document_id) AS body
                        FROM versions WHERE seq > ? ORDER BY seq LIMIT 2000
                        """, arguments: [from])
                guard let lastRow = rows.last else { return true }
                for row in rows {
                    guard let body = row["body"] as Data? else { continue }
                    for hash in AttachmentNames.named(in: body) {
                        try db.execute(
                            sql: """
                                INSERT OR IGNORE INTO attachment_names (sha256, collection, document_id, partition, origin)
                                VALUES (?, ?, ?, ?, ?)
                                """,
                            arguments: [hash, row["collection"], row["document_id"], row["partition"], row["origin"]])
                    }
                }
                try db.execute(sql: "UPDATE attachment_index SET last_seq = ?", arguments: [lastRow["seq"] as Int64])
                return rows.count < 2000
            }
        }
    }

    /// The documents some version of which names the attachment `hash`.
    public func documentsNaming(_ hash: String) throws -> [DocumentKey] {
        try indexAttachmentNames()
        return try read { db in
            try Row.fetchAll(
                db, sql: "SELECT DISTINCT collection, document_id FROM attachment_names WHERE sha256 = ?", arguments: [hash]
            ).compactMap { row in
                guard let collection = CollectionName(row[0] as String), let id = DocumentID(row[1] as String) else {
                    return nil
                }
                return DocumentKey(collection: collection, id: id)
            }
        }
    }

    /// The versions that name the attachment `hash`, outside the set-aside ones.
    public func attachmentNamings(_ hash: String) throws -> [AttachmentNaming] {
        try indexAttachmentNames()
        return try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT DISTINCT n.collection, n.partition, n.origin FROM attachment_names n
                    WHERE n.sha256 = ? AND EXISTS (
                        SELECT 1 FROM versions v WHERE v.origin = n.origin AND v.collection = n.collection
                            AND v.document_id = n.document_id AND v.set_aside_reason IS NULL)
                    """, arguments: [hash]
            ).compactMap { row in
                guard let collection = CollectionName(row[0] as String), let partition = Partition(row[1] as String),
                    let origin = ReplicaID(row[2] as String)
                else { return nil }
                return AttachmentNaming(collection: collection, partition: partition, origin: origin)
            }
        }
    }
}

/// What waits to move of attachments on a replica (``ReplicaStore/attachmentBacklog()``).
public struct AttachmentBacklog: Sendable, Hashable {
    /// Files attached here that the hub has not yet confirmed whole.
    public var toSend: Int
    public var bytesToSend: Int
    /// Files named by documents held here that are not held whole here.
    public var lacked: Int
    /// The bytes still lacked of those whose manifest is known (fetching began).
    public var knownBytesLacked: Int
}
