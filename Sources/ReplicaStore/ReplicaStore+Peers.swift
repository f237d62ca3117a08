import Foundation
public import SyncEngine
import GRDB

/// What a replica remembers of one peer it syncs with (for a field device: the hub).
public struct PeerState: Sendable, Hashable {
    /// The peer's name: its URL or replica id.
    public var peer: String
    /// What the peer is believed to hold; versions above it are offered to the peer.
    public var knowledge: VersionVector
    /// The peer's opaque pull checkpoint.
    public var checkpoint: String?
    /// When the last exchange succeeded, in milliseconds since 1970.
    public var lastSyncAt: UInt64?
    /// The last failure's sentence, cleared by a success.
    public var lastError: String?
    /// What the peer last said this replica may read and write there; nil until it said.
    public var grants: AccessGrants?
    /// Documents outside the read scope of ``grants`` are still held because they held versions
    /// not yet sent: they are forgotten at a later exchange, once sent.
    public var forgetPending = false
    /// The peer reset the pull checkpoint (a restored hub): the next exchange sends the whole
    /// belief of its knowledge (`assumedKnowledge`). Saved with the page that carried the reset and
    /// cleared by the answer to the exchange that sent it, so a cut link or a restart keeps it.
    public var sendAssumedKnowledge = false
    /// The sync protocol the peer answered in at the last exchange; nil before any (the next
    /// sync's first request speaks it).
    public var protocolVersion: Int?

    public init(
        peer: String, knowledge: VersionVector = VersionVector(), checkpoint: String? = nil,
        lastSyncAt: UInt64? = nil, lastError: String? = nil, grants: AccessGrants? = nil
    ) {
        self.peer = peer
        self.knowledge = knowledge
        self.checkpoint = checkpoint
        self.lastSyncAt = lastSyncAt
        self.lastError = lastError
        self.grants = grants
    }
}

extension ReplicaStore {
    /// The state kept for `peer`; a fresh one when there was never an exchange.
    public func peerState(_ peer: String) throws -> PeerState {
        try read { db in try PeerRow.load(db, peer) }
    }

    /// Every peer this replica has exchanged with.
    public func peerStates() throws -> [PeerState] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT peer FROM peers ORDER BY peer").map { try PeerRow.load(db, $0) }
        }
    }

    /// The name under which this replica keeps its state for the hub reached at `address`.
    ///
    /// A peer is its replica id, not the address used to reach it: once an exchange at `address`
    /// succeeded, `address`; before that, when this replica pinned exactly one hub (at enrollment,
    /// or on first sight), the name of its most recent successful exchange. Every answer this
    /// replica applied came from that pinned hub, whatever address reached it, so its knowledge
    /// and checkpoint hold for the hub under any address: the first exchange at a new address
    /// costs what a no-op exchange costs. An answer from another hub is refused by the pin before
    /// anything is applied. Otherwise (no pin, or several) `address` itself.
    public func peerName(forHubAt address: String) throws -> String {
        try read { db in try PeerRow.name(db, forHubAt: address) }
    }

    /// Changes the state kept for `peer` in one transaction.
    public func updatePeer(_ peer: String, _ change: @Sendable (inout PeerState) -> Void) throws {
        try write { db in
            var state = try PeerRow.load(db, peer)
            change(&state)
            try PeerRow.save(db, state)
        }
    }

    /// Raises this replica's counter to at least `counter`: a replica restored from an old backup
    /// learns from the hub that it had written further, and must never reuse those dots.
    public func raiseCounter(toAtLeast counter: UInt64) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE replica SET counter = max(counter, ?)", arguments: [Int64(min(counter, Dot.maxCounter))])
        }
    }

    /// This replica's last used counter.
    public func counter() throws -> UInt64 {
        try read { db in UInt64(max(0, try Int64.fetchOne(db, sql: "SELECT counter FROM replica") ?? 0)) }
    }
}

extension ApplyContext {
    /// The state kept for `peer`, read in the apply transaction.
    func peerState(_ peer: String) throws -> PeerState {
        try PeerRow.load(db, peer)
    }

    /// Moves the state kept for the hub under another address
    /// (``ReplicaStore/peerName(forHubAt:)``) to `address`, in the apply transaction of the first
    /// exchange that succeeded there: from then on the hub's state is kept under the address that
    /// reaches it now, and a sync without `--hub` goes there.
    public func movePeerState(toHubAt address: String) throws {
        let held = try PeerRow.name(db, forHubAt: address)
        guard held != address else { return }
        try db.execute(sql: "DELETE FROM peers WHERE peer = ?", arguments: [address])
        try db.execute(sql: "UPDATE peers SET peer = ? WHERE peer = ?", arguments: [address, held])
    }

    /// Changes the state kept for `peer` in the apply transaction.
    public func updatePeer(_ peer: String, _ change: (inout PeerState) -> Void) throws {
        var state = try PeerRow.load(db, peer)
        change(&state)
        try PeerRow.save(db, state)
    }
}

/// The peers table.
enum PeerRow {
    /// See ``ReplicaStore/peerName(forHubAt:)``.
    static func name(_ db: Database, forHubAt address: String) throws -> String {
        let synced = try Bool.fetchOne(
            db, sql: "SELECT last_sync_at IS NOT NULL FROM peers WHERE peer = ?", arguments: [address]) ?? false
        guard !synced, try Int.fetchOne(db, sql: "SELECT count(*) FROM trusted_hubs") == 1 else { return address }
        return try String.fetchOne(
            db, sql: "SELECT peer FROM peers WHERE last_sync_at IS NOT NULL ORDER BY last_sync_at DESC, peer LIMIT 1")
            ?? address
    }

    static func load(_ db: Database, _ peer: String) throws -> PeerState {
        guard
            let row = try Row.fetchOne(
                db,
                sql: """
                    SELECT knowledge, checkpoint, last_sync_at, last_error, grants, forget_pending, assumed_knowledge_pending,
                        protocol
                    FROM peers WHERE peer = ?
                    """,
                arguments: [peer])
        else { return PeerState(peer: peer) }
        var state = PeerState(
            peer: peer, knowledge: VersionVector(compactText: row[0]) ?? VersionVector(), checkpoint: row[1],
            lastSyncAt: (row[2] as Int64?).map { UInt64(max(0, $0)) }, lastError: row[3],
            grants: (row[4] as String?).flatMap { try? JSONDecoder().decode(AccessGrants.self, from: Data($0.utf8)) })
        state.forgetPending = row[5]
        state.sendAssumedKnowledge = row[6]
        state.protocolVersion = (row[7] as Int64?).map { Int(clamping: $0) }
        return state
    }

    static func save(_ db: Database, _ state: PeerState) throws {
        try db.execute(
            sql: """
                INSERT OR REPLACE INTO peers
                    (peer, knowledge, checkpoint, last_sync_at, last_error, grants, forget_pending, assumed_knowledge_pending,
                     protocol)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                state.peer, state.knowledge.compactText, state.checkpoint,
                state.lastSyncAt.map { Int64(clamping: $0) }, state.lastError,
                try state.grants.map { String(decoding: try JSONEncoder().encode($0), as: UTF8.self) }, state.forgetPending,
                state.sendAssumedKnowledge, state.protocolVersion.map { Int64($0) },
            ])
    }
}
