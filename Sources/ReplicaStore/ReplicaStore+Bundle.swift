import Foundation
public import SyncEngine
import GRDB

/// What a replica reads and keeps for store-and-forward bundles: the trust material it passes on
/// (the hub's certificates and revocation notices it holds), and what each exporter held.
extension ReplicaStore {
    /// The hub's certificates this replica holds of the keys of `origins` (its own, once saved at
    /// enrollment, and those that came with pulls or bundles).
    public func heldCertificates(of origins: Set<ReplicaID>) throws -> [DeviceCertificate] {
        try read { db in
            let statement = try db.cachedStatement(
                sql: "SELECT certificate FROM device_keys WHERE replica_id = ? AND certificate IS NOT NULL")
            return try origins.sorted { $0.hex < $1.hex }.compactMap { origin in
                guard let json = try String.fetchOne(statement, arguments: [origin.hex]) else { return nil }
                return try? JSONDecoder().decode(DeviceCertificate.self, from: Data(json.utf8))
            }
        }
    }

    /// The hub's revocation notices this replica holds (a hub's own revocations are not notices
    /// it received, and are left out).
    public func heldRevocationNotices() throws -> [RevocationNotice] {
        try read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT hub_id, replica_id, horizon, revoked_at, signature FROM revocations
                    WHERE hub_id IS NOT NULL AND signature IS NOT NULL ORDER BY replica_id
                    """
            ).compactMap { row in
                guard let hub = ReplicaID(row[0] as String), let replica = ReplicaID(row[1] as String) else { return nil }
                return RevocationNotice(
                    hub: hub, replica: replica, horizon: UInt64(max(0, row[2] as Int64)),
                    revokedAt: UInt64(max(0, row[3] as Int64)), signature: row[4])
            }
        }
    }

    /// Keeps the hub's certificate of this replica's own key (from its enrollment answer), so
    /// that bundles it exports carry it. A certificate of another id or key is ignored.
    public func saveOwnCertificate(_ certificate: DeviceCertificate) throws {
        guard certificate.replica == replicaID, certificate.publicKey == publicKey else { return }
        let json = String(decoding: try JSONEncoder().encode(certificate), as: UTF8.self)
        try write { db in
            try db.execute(
                sql: "UPDATE device_keys SET certificate = ? WHERE replica_id = ? AND public_key = ?",
                arguments: [json, certificate.replica.hex, certificate.publicKey.rawRepresentation])
        }
    }

    /// What `exporter` held when it wrote the bundles of it imported here (their join); nil when
    /// none was.
    public func bundlePeerKnowledge(of exporter: ReplicaID) throws -> VersionVector? {
        try read { db in
            try String.fetchOne(db, sql: "SELECT knowledge FROM bundle_peers WHERE replica_id = ?", arguments: [exporter.hex])
                .flatMap { VersionVector(compactText: $0) }
        }
    }

    /// The replicas bundles were imported from, by id.
    public func bundlePeers() throws -> [ReplicaID] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT replica_id FROM bundle_peers ORDER BY replica_id").compactMap { ReplicaID($0) }
        }
    }
}

extension ApplyContext {
    /// Joins `knowledge` into what `exporter` is known to hold, in the transaction that applies
    /// its bundle.
    public func recordBundlePeer(_ exporter: ReplicaID, knowledge: VersionVector, at milliseconds: UInt64) throws {
        let held = try String.fetchOne(db, sql: "SELECT knowledge FROM bundle_peers WHERE replica_id = ?", arguments: [exporter.hex])
            .flatMap { VersionVector(compactText: $0) } ?? VersionVector()
        try db.execute(
            sql: "INSERT OR REPLACE INTO bundle_peers (replica_id, knowledge, imported_at) VALUES (?, ?, ?)",
            arguments: [exporter.hex, held.merged(with: knowledge).compactText, Int64(clamping: milliseconds)])
    }
}
