import Foundation
public import SyncEngine
import GRDB

/// A device's trust in what it pulls: the hub keys it pinned at enrollment, the author keys those
/// hubs certified, the revocations they signed, and the pulled versions that failed these checks,
/// kept apart from the versions table.
extension ReplicaStore {
    /// Pins `hub`'s key (at enrollment). Pinning the key already pinned changes nothing; another
    /// key for a hub already pinned throws `hubKeyChanged` and changes nothing.
    public func pinHub(_ hub: ReplicaID, key: PublicDeviceKey) throws {
        let now = Int64(clamping: options.now())
        try write { db in
            if let held = try Data.fetchOne(db, sql: "SELECT public_key FROM trusted_hubs WHERE hub_id = ?", arguments: [hub.hex]) {
                guard held == key.rawRepresentation else {
                    throw StoreError(
                        .hubKeyChanged,
                        "The hub \(hub.short) presents the key \(key.fingerprint), but this replica pinned another key for it.")
                }
                return
            }
            try db.execute(
                sql: "INSERT INTO trusted_hubs (hub_id, public_key, pinned_at) VALUES (?, ?, ?)",
                arguments: [hub.hex, key.rawRepresentation, now])
            // The hub's own versions (merges, resolutions) are verified against the pinned key.
            try db.execute(
                sql: "INSERT OR REPLACE INTO device_keys (replica_id, public_key, certificate) VALUES (?, ?, NULL)",
                arguments: [hub.hex, key.rawRepresentation])
        }
    }

    /// The hub keys this replica pinned, by hub id.
    public func trustedHubs() throws -> [ReplicaID: PublicDeviceKey] {
        try read { db in
            var hubs: [ReplicaID: PublicDeviceKey] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT hub_id, public_key FROM trusted_hubs") {
                if let id = ReplicaID(row[0] as String), let key = try? PublicDeviceKey(rawRepresentation: row[1]) {
                    hubs[id] = key
                }
            }
            return hubs
        }
    }

    /// Saves the keys of `certificates` (already checked against a pinned hub key) for the ids
    /// that hold no key yet; a held key is never replaced.
    public func saveCertifiedKeys(_ certificates: [DeviceCertificate]) throws {
        guard !certificates.isEmpty else { return }
        let encoded = try certificates.map { ($0, String(decoding: try JSONEncoder().encode($0), as: UTF8.self)) }
        try write { db in
            let statement = try db.cachedStatement(
                sql: "INSERT OR IGNORE INTO device_keys (replica_id, public_key, certificate) VALUES (?, ?, ?)")
            for (certificate, json) in encoded {
                try statement.execute(arguments: [certificate.replica.hex, certificate.publicKey.rawRepresentation, json])
            }
        }
    }

    /// Saves revocation notices (already checked against a pinned hub key); a later notice for
    /// the same id replaces an earlier one only to lower its horizon.
    public func saveRevocations(_ notices: [RevocationNotice]) throws {
        guard !notices.isEmpty else { return }
        try write { db in
            let statement = try db.cachedStatement(sql: """
                INSERT INTO revocations (replica_id, horizon, revoked_at, hub_id, signature) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (replica_id) DO UPDATE SET horizon = excluded.horizon, revoked_at = excluded.revoked_at,
                    hub_id = excluded.hub_id, signature = excluded.signature
                WHERE excluded.horizon < horizon
                """)
            for notice in notices {
                try statement.execute(arguments: [
                    notice.replica.hex, Int64(notice.horizon), Int64(notice.revokedAt), notice.hub.hex, notice.signature,
                ])
            }
        }
    }

    /// The revoked ids this replica knows of, with their horizons.
    public func revocationHorizons() throws -> [ReplicaID: UInt64] {
        try read { db in try Self.revocationHorizons(db) }
    }

    static func revocationHorizons(_ db: Database) throws -> [ReplicaID: UInt64] {
        var horizons: [ReplicaID: UInt64] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT replica_id, horizon FROM revocations") {
            if let id = ReplicaID(row[0] as String) { horizons[id] = UInt64(max(0, row[1] as Int64)) }
        }
        return horizons
    }

    /// Pulled versions this replica keeps apart because they failed verification, newest first;
    /// only those of `key` when given.
    public func unverifiedVersions(of key: DocumentKey? = nil, limit: Int = 1_000) throws -> [UnverifiedVersion] {
        try read { db in
            let filter = key == nil ? "version IS NOT NULL" : "version IS NOT NULL AND collection = ? AND document_id = ?"
            let arguments: StatementArguments = key.map { [$0.collection.rawValue, $0.id.rawValue] } ?? []
            return try Row.fetchAll(
                db,
                sql: "SELECT vigil_open_text(version, 'verification_failures', origin, counter), reason, found_at FROM verification_failures WHERE \(filter) ORDER BY found_at DESC LIMIT \(max(1, limit))",
                arguments: arguments
            ).compactMap { row in
                guard let json = row[0] as String?,
                    let version = try? JSONDecoder().decode(Version.self, from: Data(json.utf8))
                else { return nil }
                return UnverifiedVersion(
                    version: version, reason: VerificationReport.Reason(rawValue: row[1]),
                    foundAt: UInt64(max(0, row[2] as Int64)))
            }
        }
    }
}

/// A pulled version kept apart because it failed verification: shown, reported, never applied.
public struct UnverifiedVersion: Sendable, Hashable {
    public var version: Version
    public var reason: VerificationReport.Reason
    /// When it arrived, in milliseconds since 1970.
    public var foundAt: UInt64
}

extension ApplyContext {
    /// Keeps pulled versions that failed verification whole, apart from the versions table, to
    /// show and to report to the hub; a version already kept is left as it is.
    public func keepUnverified(_ items: [(version: Version, reason: VerificationReport.Reason)], at milliseconds: UInt64) throws {
        guard !items.isEmpty else { return }
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO verification_failures (origin, counter, reason, found_at, collection, document_id, version)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, vigil_seal(?7, 'verification_failures', ?1, ?2))
            """)
        let encoder = JSONEncoder()
        for (version, reason) in items {
            try statement.execute(arguments: [
                version.dot.replica.hex, Int64(version.dot.counter), reason.rawValue, Int64(clamping: milliseconds),
                version.collection.rawValue, version.documentID.rawValue,
                String(decoding: try encoder.encode(version), as: UTF8.self),
            ])
        }
    }
}

extension ReplicaStore {
    /// The request enrolling this replica's device with `code`, signed with its key (the proof
    /// that it holds the key it enrolls).
    public func enrollmentRequest(code: String, name: String? = nil) throws -> EnrollmentRequest {
        try EnrollmentRequest(code: code, replica: replicaID, key: key, name: name)
    }
}
