public import Foundation
import GRDB
public import HubStore
public import ReplicaStore
public import SyncEngine

extension ReplicaStore {
    /// The store's clock in milliseconds since 1970 (``Options/now``; tests pin it).
    public func now() -> UInt64 { options.now() }

    /// Records a one-time enrollment code (by its hash) for a device to be called `name`, with the
    /// grants it will have; returns false, recording nothing, when an active device already has that name.
    public func addEnrollmentCode(
        hash: Data, deviceName: String, grants: AccessGrants = .everything, expiresAt: UInt64,
        actor: String = AuditEntry.operatorActor
    ) throws -> Bool {
        let now = options.now()
        return try write { db in
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM devices WHERE name = ? AND status = 'active'", arguments: [deviceName]) ?? 0 > 0 {
                return false
            }
            try Self.rememberGrants(db, grants)
            try db.execute(
                sql: """
                    INSERT INTO enrollment_codes (code_hash, device_name, created_at, expires_at, read_scope, write_scope)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    hash, deviceName, Int64(clamping: now), Int64(clamping: expiresAt), grants.read.text, grants.write.text,
                ])
            try Self.appendAudit(
                db, actor: actor, action: .codeIssued, subject: deviceName,
                detail: ["expiresAt": "\(expiresAt)", "read": grants.read.text, "write": grants.write.text], at: now)
            return true
        }
    }

    /// Enrolls a device with a code, in one transaction: the code is used up, and the device's
    /// replica id, public key and credential hash are recorded under the code's name.
    public func enrollDevice(
        codeHash: Data, replica: ReplicaID, publicKey: PublicDeviceKey, credentialHash: Data
    ) throws -> EnrollmentOutcome {
        let now = Int64(clamping: options.now())
        return try write { db in
            guard let code = try Row.fetchOne(
                db, sql: "SELECT device_name, expires_at, used_at, read_scope, write_scope FROM enrollment_codes WHERE code_hash = ?",
                arguments: [codeHash])
            else { return .unknownCode }
            if (code["used_at"] as Int64?) != nil { return .used }
            if (code["expires_at"] as Int64) < now { return .expired }
            if try Int.fetchOne(db, sql: "SELECT count(*) FROM devices WHERE replica_id = ?", arguments: [replica.hex]) ?? 0 > 0
                || Int.fetchOne(db, sql: "SELECT count(*) FROM device_incarnations WHERE replica_id = ?", arguments: [replica.hex]) ?? 0 > 0
            {
                return .alreadyEnrolled
            }
            let writer = try Int.fetchOne(db, sql: "SELECT count(*) FROM hub_writers WHERE replica_id = ?", arguments: [replica.hex]) ?? 0
            if replica == replicaID || writer > 0 { return .idInUse }
            let name: String = code["device_name"]
            try db.execute(
                sql: """
                    INSERT INTO devices (replica_id, name, public_key, credential_hash, status, enrolled_at, read_scope, write_scope)
                    VALUES (?, ?, ?, ?, 'active', ?, ?, ?)
                    """,
                arguments: [
                    replica.hex, name, publicKey.rawRepresentation, credentialHash, now,
                    code["read_scope"] as String, code["write_scope"] as String,
                ])
            try db.execute(
                sql: "UPDATE enrollment_codes SET used_at = ?, used_by = ? WHERE code_hash = ?",
                arguments: [now, replica.hex, codeHash])
            try Self.appendAudit(
                db, actor: replica.hex, action: .enrolled, subject: name,
                detail: ["replica": replica.hex, "code": String(Array(codeHash.prefix(6)).hexString)], at: UInt64(now))
            return .enrolled(name: name)
        }
    }

    /// The device whose credential has this hash when the hash recorded for it, read again by its
    /// id, equals `credentialHash` in constant time; nil otherwise. One read: every exchange starts
    /// with it, so its statements are cached.
    public func device(presenting credentialHash: Data) throws -> DeviceRecord? {
        try read { db in
            guard let device = try Self.device(db, credentialHash: credentialHash),
                let stored = try Data.fetchOne(
                    db.cachedStatement(sql: "SELECT credential_hash FROM devices WHERE replica_id = ?"),
                    arguments: [device.replicaID.hex]),
                DeviceCredential.constantTimeEqual(stored, credentialHash)
            else { return nil }
            return device
        }
    }

    /// The device whose credential has this hash, if any (active or revoked).
    private static func device(_ db: Database, credentialHash: Data) throws -> DeviceRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT \(Self.deviceColumns) FROM devices WHERE credential_hash = ?"),
            arguments: [credentialHash]
        ).flatMap(Self.deviceRecord).map { try Self.withIncarnations(db, $0) }
    }

    /// Every enrolled device, active and revoked, by name.
    public func devices() throws -> [DeviceRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.deviceColumns) FROM devices ORDER BY name, enrolled_at")
                .compactMap(Self.deviceRecord).map { try Self.withIncarnations(db, $0) }
        }
    }

    /// Revokes the active device with this replica id (hex) or, failing that, this name.
    /// `actor` is who the audit entry names (an operator of the console, by name).
    public func revokeDevice(_ nameOrID: String, actor: String = AuditEntry.operatorActor) throws -> RevocationOutcome {
        let now = Int64(clamping: options.now())
        return try write { db in
            let records = try Self.activeDevices(db, nameOrID)
            guard var record = records.first else { return .notFound }
            guard records.count == 1 else { return .ambiguous(records) }
            try db.execute(
                sql: "UPDATE devices SET status = 'revoked', revoked_at = ? WHERE replica_id = ?",
                arguments: [now, record.replicaID.hex])
            record.status = .revoked
            record.revokedAt = UInt64(now)
            let horizons = try Self.recordRevocationHorizons(db, of: try Self.withIncarnations(db, record), at: now)
            // Codes given out for the device's name and not used yet would enroll a new key under it.
            try db.execute(
                sql: "UPDATE enrollment_codes SET expires_at = min(expires_at, ?) WHERE device_name = ? AND used_at IS NULL",
                arguments: [now - 1, record.name])
            let cancelled = db.changesCount
            try Self.appendAudit(
                db, actor: actor, action: .revoked, subject: record.name,
                detail: [
                    "replica": record.replicaID.hex, "codesCancelled": "\(cancelled)",
                    "horizons": horizons.map { "\($0.key.hex)=\($0.value)" }.sorted().joined(separator: ","),
                ], at: UInt64(now))
            return .revoked(record)
        }
    }

    /// Records, for the device's enrolled id and each incarnation, the highest counter this hub
    /// has admitted of it: the revocation horizon above which its versions are refused everywhere.
    static func recordRevocationHorizons(_ db: Database, of record: DeviceRecord, at now: Int64) throws -> [ReplicaID: UInt64] {
        let ids = [record.replicaID] + record.incarnations
        let held = try Knowledge.load(db, origins: Set(ids))
        var horizons: [ReplicaID: UInt64] = [:]
        for id in ids {
            horizons[id] = held[id]
            try db.execute(
                sql: """
                    INSERT INTO revocations (replica_id, horizon, revoked_at, device_id) VALUES (?, ?, ?, ?)
                    ON CONFLICT (replica_id) DO NOTHING
                    """,
                arguments: [id.hex, Int64(held[id]), now, record.replicaID.hex])
        }
        return horizons
    }

    /// The hub's certificates of the keys of `origins` (enrolled ids and incarnations of devices,
    /// active or revoked, the hub itself and its writer ids), signed with this replica's key.
    public func deviceCertificates(of origins: Set<ReplicaID>) throws -> [DeviceCertificate] {
        let hub = replicaID
        let hubKey = key
        let created = try read { db in try Int64.fetchOne(db, sql: "SELECT created_at FROM replica") ?? 0 }
        let subjects: [(ReplicaID, PublicDeviceKey, String, UInt64)] = try read { db in
            let device = try db.cachedStatement(sql: "SELECT public_key, name, enrolled_at FROM devices WHERE replica_id = ?")
            let incarnation = try db.cachedStatement(sql: """
                SELECT d.public_key, d.name, i.created_at FROM device_incarnations i JOIN devices d ON d.replica_id = i.device_id
                WHERE i.replica_id = ?
                """)
            let writers = try Self.writers(db, among: origins)
            return try origins.sorted().compactMap { origin in
                if origin == hub { return (origin, hubKey.publicKey, "hub", UInt64(max(0, created))) }
                if let started = writers[origin] { return (origin, hubKey.publicKey, "hub", started) }
                guard let row = try Row.fetchOne(device, arguments: [origin.hex]) ?? Row.fetchOne(incarnation, arguments: [origin.hex]),
                    let key = try? PublicDeviceKey(rawRepresentation: row[0])
                else { return nil }
                return (origin, key, row[1] as String, UInt64(max(0, row[2] as Int64)))
            }
        }
        return try subjects.map { origin, key, name, issuedAt in
            try DeviceCertificate(hub: hub, replica: origin, publicKey: key, name: name, issuedAt: issuedAt, signedWith: hubKey)
        }
    }

    /// Every revocation this hub made, as notices signed with its key.
    public func revocationNotices() throws -> [RevocationNotice] {
        let hub = replicaID
        let hubKey = key
        let revoked: [(ReplicaID, UInt64, UInt64)] = try read { db in
            try Row.fetchAll(db, sql: "SELECT replica_id, horizon, revoked_at FROM revocations WHERE device_id IS NOT NULL ORDER BY replica_id")
                .compactMap { row in
                    ReplicaID(row[0] as String).map { ($0, UInt64(max(0, row[1] as Int64)), UInt64(max(0, row[2] as Int64))) }
                }
        }
        return try revoked.map { id, horizon, revokedAt in
            try RevocationNotice(hub: hub, replica: id, horizon: horizon, revokedAt: revokedAt, signedWith: hubKey)
        }
    }

    /// The enrolled public keys of `origins` (of active and revoked devices: versions written
    /// before a revocation stay verifiable), and this replica's own key for its id and its writer ids.
    public func enrolledKeys(of origins: Set<ReplicaID>) throws -> [ReplicaID: PublicDeviceKey] {
        let own = (replicaID, publicKey)
        return try read { db in
            var keys: [ReplicaID: PublicDeviceKey] = [:]
            let statement = try db.cachedStatement(sql: "SELECT public_key FROM devices WHERE replica_id = ?")
            // A device's later incarnations sign with its enrolled key.
            let incarnation = try db.cachedStatement(sql: """
                SELECT d.public_key FROM device_incarnations i JOIN devices d ON d.replica_id = i.device_id
                WHERE i.replica_id = ?
                """)
            let writers = try Self.writers(db, among: origins)
            for origin in origins {
                if origin == own.0 || writers[origin] != nil {
                    keys[origin] = own.1
                } else if let data = try Data.fetchOne(statement, arguments: [origin.hex])
                    ?? Data.fetchOne(incarnation, arguments: [origin.hex]),
                    let key = try? PublicDeviceKey(rawRepresentation: data)
                {
                    keys[origin] = key
                }
            }
            return keys
        }
    }

    /// Records a device's exchange: when, how many versions of the feed lay beyond `sequence`
    /// (its checkpoint's position) when it pulled, and the clock skew seen.
    public func recordExchange(of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int? = nil) throws {
        let now = Int64(clamping: options.now())
        try write { db in
            // Feed positions past the device's, read from the primary key's end: counting the rows
            // scanned the whole feed behind a device far behind, inside the write transaction.
            let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(seq) FROM versions")) ?? 0
            let lag = Int(clamping: max(0, last - max(0, sequence)))
            try db.cachedStatement(
                sql: """
                    UPDATE devices SET last_seen_at = ?, last_lag = ?, last_skew_ms = coalesce(?, last_skew_ms),
                        last_pending = coalesce(?, last_pending)
                    WHERE replica_id = ?
                    """
            ).execute(arguments: [now, lag, skewMilliseconds, pending, replica.hex])
        }
    }

    /// Keeps pushed versions that fail their origin's signature check outside the versions table
    /// (so that they never take their origin's dot), with the reason and who pushed them, within
    /// the pusher's hourly `limit` of rows (0: none): beyond it a version is counted, not kept.
    /// Returns how many were not kept for the limit.
    @discardableResult
    public func quarantineForeign(
        _ items: [(version: Version, reason: SetAsideReason)], pushedBy: ReplicaID, limit: Int
    ) throws -> Int {
        guard !items.isEmpty else { return 0 }
        let encoded = try Self.encodeForQuarantine(items)
        let now = options.now()
        return try write { db in try Self.quarantineForeign(db, encoded, pushedBy: pushedBy, now: now, limit: limit) }
    }

    /// ``quarantineForeign(_:pushedBy:limit:)`` in the transaction of `context` (a hub's push).
    @discardableResult
    public func quarantineForeign(
        in context: ApplyContext, _ items: [(version: Version, reason: SetAsideReason)], pushedBy: ReplicaID,
        limit: Int
    ) throws -> Int {
        guard !items.isEmpty else { return 0 }
        return try Self.quarantineForeign(
            context.db, try Self.encodeForQuarantine(items), pushedBy: pushedBy, now: options.now(), limit: limit)
    }

    private static func encodeForQuarantine(
        _ items: [(version: Version, reason: SetAsideReason)]
    ) throws -> [(version: Version, reason: SetAsideReason, json: String)] {
        try items.map { item in
            (item.version, item.reason, String(decoding: try JSONEncoder().encode(item.version), as: UTF8.self))
        }
    }

    private static func quarantineForeign(
        _ db: Database, _ items: [(version: Version, reason: SetAsideReason, json: String)], pushedBy: ReplicaID,
        now: UInt64, limit: Int
    ) throws -> Int {
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO foreign_quarantine (origin, counter, signature, version, pushed_by, reason, code, received_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """)
        var dropped = 0
        for (version, reason, json) in items {
            // Pushed again after a lost answer: already quarantined, already audited.
            guard try !isForeignQuarantined(db, version) else { continue }
            guard try isWithinForeignQuarantineLimit(db, pushedBy: pushedBy, at: now, limit: limit) else {
                dropped += 1
                continue
            }
            try statement.execute(arguments: [
                version.dot.replica.hex, Int64(version.dot.counter), version.signature, json, pushedBy.hex,
                reason.detail, reason.code.rawValue, Int64(clamping: now),
            ])
            try appendDeviceAudit(
                db, device: pushedBy.hex, action: .quarantined, subject: version.dot.description,
                detail: AuditEvent.quarantineDetail(version, reason: reason), at: now, limit: limit)
        }
        return dropped
    }

    /// How many versions are held in the foreign quarantine.
    public func foreignQuarantineCount() throws -> Int {
        try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM foreign_quarantine") ?? 0 }
    }

    /// The active devices with this replica id (hex) or, failing that, this name.
    static func activeDevices(_ db: Database, _ nameOrID: String) throws -> [DeviceRecord] {
        let byID = try Row.fetchAll(
            db, sql: "SELECT \(deviceColumns) FROM devices WHERE status = 'active' AND replica_id = ?",
            arguments: [nameOrID.lowercased()])
        let rows = byID.isEmpty
            ? try Row.fetchAll(
                db, sql: "SELECT \(deviceColumns) FROM devices WHERE status = 'active' AND name = ?", arguments: [nameOrID])
            : byID
        return rows.compactMap(deviceRecord)
    }

    static let deviceColumns =
        "replica_id, name, public_key, status, enrolled_at, revoked_at, last_seen_at, last_lag, last_skew_ms, read_scope, write_scope, last_pending"

    static func deviceRecord(_ row: Row) -> DeviceRecord? {
        guard let id = ReplicaID(row[0] as String), let key = try? PublicDeviceKey(rawRepresentation: row[2]),
            let status = DeviceRecord.Status(rawValue: row[3])
        else { return nil }
        var record = DeviceRecord(
            replicaID: id, name: row[1], publicKey: key, status: status, enrolledAt: UInt64(max(0, row[4] as Int64)),
            revokedAt: (row[5] as Int64?).map { UInt64(max(0, $0)) }, lastSeenAt: (row[6] as Int64?).map { UInt64(max(0, $0)) },
            lastLag: row[7], lastSkewMilliseconds: row[8],
            grants: AccessGrants(
                read: Scope(text: row[9]) ?? .nothing, write: Scope(text: row[10]) ?? .nothing))
        record.lastPending = row[11]
        return record
    }
}

extension ReplicaStore {
    /// Binds `newID` to the device enrolled as `device`, as a new incarnation (same key and
    /// credential), in one transaction; binding an id already bound to that device is a no-op.
    public func bindIncarnation(of device: ReplicaID, as newID: ReplicaID, forkedAt: Dot?) throws -> IncarnationOutcome {
        let now = Int64(clamping: options.now())
        return try write { db in
            guard let row = try Row.fetchOne(
                db, sql: "SELECT \(Self.deviceColumns) FROM devices WHERE replica_id = ? AND status = 'active'",
                arguments: [device.hex]),
                let record = Self.deviceRecord(row)
            else { return .unknownDevice }
            let bound = try String.fetchOne(
                db, sql: "SELECT device_id FROM device_incarnations WHERE replica_id = ?", arguments: [newID.hex])
            if bound == device.hex { return .bound(name: record.name, incarnations: [device] + (try Self.incarnations(db, of: device))) }
            let enrolled = try Int.fetchOne(db, sql: "SELECT count(*) FROM devices WHERE replica_id = ?", arguments: [newID.hex]) ?? 0
            let known = try Int.fetchOne(db, sql: "SELECT count(*) FROM knowledge WHERE origin = ?", arguments: [newID.hex]) ?? 0
            if bound != nil || newID == replicaID || enrolled > 0 || known > 0 {
                return .taken
            }
            let held = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM device_incarnations WHERE device_id = ?", arguments: [device.hex]) ?? 0
            if held >= IncarnationRequest.maxIncarnationsPerDevice {
                return .tooMany(limit: IncarnationRequest.maxIncarnationsPerDevice)
            }
            try db.execute(
                sql: "INSERT INTO device_incarnations (replica_id, device_id, forked_at, created_at) VALUES (?, ?, ?, ?)",
                arguments: [newID.hex, device.hex, forkedAt?.description, now])
            try Self.appendAudit(
                db, actor: device.hex, action: .incarnated, subject: record.name,
                detail: ["replica": newID.hex, "enrolled": device.hex, "forkedAt": forkedAt?.description ?? "-"],
                at: UInt64(now))
            return .bound(name: record.name, incarnations: [device] + (try Self.incarnations(db, of: device)))
        }
    }

    static func incarnations(_ db: Database, of device: ReplicaID) throws -> [ReplicaID] {
        try String.fetchAll(
            db.cachedStatement(sql: "SELECT replica_id FROM device_incarnations WHERE device_id = ? ORDER BY created_at, replica_id"),
            arguments: [device.hex]
        ).compactMap { ReplicaID($0) }
    }

    static func withIncarnations(_ db: Database, _ record: DeviceRecord) throws -> DeviceRecord {
        var record = record
        record.incarnations = try incarnations(db, of: record.replicaID)
        return record
    }
}
