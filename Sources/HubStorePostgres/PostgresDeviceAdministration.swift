public import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// What the hub's operator commands do to the device registry on PostgreSQL, with the semantics
/// of ``SQLiteDeviceAdministration``: codes given out and cancelled, revocations and grant changes
/// are audited (``PostgresAuditLog``) in the transaction that makes them, with the SQLite hub's entries.
public struct PostgresDeviceAdministration: DeviceAdministrationStorage {
    public let tables: PostgresDeviceTables
    private let audit: PostgresAuditLog

    public init(tables: PostgresDeviceTables) {
        self.tables = tables
        audit = PostgresAuditLog(tables: tables)
    }

    private var logger: Logger { tables.logger }
    private func table(_ name: String) -> String { tables.table(name) }

    public func now() async throws -> UInt64 { tables.clock() }

    public func addEnrollmentCode(
        hash: Data, deviceName: String, grants: AccessGrants, expiresAt: UInt64, actor: String
    ) async throws -> Bool {
        let now = tables.now
        return try await tables.transaction { connection in
            let active = try await connection.query(
                "SELECT 1 FROM \(unescaped: table("devices")) WHERE name = \(deviceName) AND status = 'active'",
                logger: logger
            ).collect()
            guard active.isEmpty else { return false }
            try await tables.rememberGrants(grants, on: connection)
            try await connection.execute(
                """
                INSERT INTO \(unescaped: table("enrollment_codes")) (
                    code_hash, device_name, created_at, expires_at, read_scope, write_scope)
                VALUES (
                    \(hash.bytea), \(deviceName), \(now), \(Int64(clamping: expiresAt)), \(grants.read.text),
                    \(grants.write.text))
                """, logger: logger)
            try await audit.append(
                [
                    AuditEvent(
                        actor: actor, action: .codeIssued, subject: deviceName,
                        detail: ["expiresAt": "\(expiresAt)", "read": grants.read.text, "write": grants.write.text])
                ], on: connection)
            logger.info(
                "enrollment code given out", metadata: ["hub.device": "\(deviceName)", "hub.actor": "\(actor)"])
            return true
        }
    }

    public func unusedEnrollmentCodes() async throws -> [EnrollmentCodeRecord] {
        let now = tables.now
        return try await tables.snapshot { connection in
            try await unusedCodes(now: now, locking: false, on: connection).map(\.record)
        }
    }

    public func cancelEnrollmentCodes(_ nameOrPrefix: String) async throws -> CodeCancellation {
        let now = tables.now
        return try await tables.transaction { connection in
            let codes = try await unusedCodes(now: now, locking: true, on: connection)
            let prefix = nameOrPrefix.lowercased()
            let isHashPrefix = (6...64).contains(prefix.count) && prefix.allSatisfy(\.isHexDigit)
            let byHash = isHashPrefix ? codes.filter { $0.hex.hasPrefix(prefix) } : []
            if byHash.count > 1 { return .ambiguous(byHash.map(\.record)) }
            let chosen = byHash.isEmpty ? codes.filter { $0.record.deviceName == nameOrPrefix } : byHash
            guard !chosen.isEmpty else { return .notFound }
            for code in chosen {
                try await connection.execute(
                    """
                    UPDATE \(unescaped: table("enrollment_codes")) SET expires_at = LEAST(expires_at, \(now - 1))
                    WHERE code_hash = \(code.hash.bytea)
                    """, logger: logger)
            }
            try await audit.append(
                chosen.map { code in
                    AuditEvent(
                        actor: AuditEntry.operatorActor, action: .codeCancelled, subject: code.record.deviceName,
                        detail: ["code": code.record.hashPrefix])
                }, on: connection)
            logger.info(
                "enrollment codes cancelled",
                metadata: ["hub.codes": "\(chosen.map(\.record.hashPrefix).joined(separator: ","))"])
            return .cancelled(chosen.map(\.record))
        }
    }

    /// The codes not used and not expired at `now`, oldest first; locked until the transaction
    /// ends when `locking`.
    private func unusedCodes(now: Int64, locking: Bool, on connection: PostgresConnection) async throws
        -> [(hash: Data, hex: String, record: EnrollmentCodeRecord)]
    {
        let rows = try await connection.query(
            """
            SELECT code_hash, device_name, created_at, expires_at, read_scope, write_scope
            FROM \(unescaped: table("enrollment_codes"))
            WHERE used_at IS NULL AND expires_at >= \(now) ORDER BY created_at, device_name
            \(unescaped: locking ? "FOR UPDATE" : "")
            """, logger: logger)
        var codes: [(hash: Data, hex: String, record: EnrollmentCodeRecord)] = []
        for try await (hash, name, createdAt, expiresAt, read, write) in rows.decode(
            (Data, String, Int64, Int64, String, String).self)
        {
            let hex = hash.map { String(format: "%02x", $0) }.joined()
            let record = EnrollmentCodeRecord(
                hashPrefix: String(hex.prefix(EnrollmentCodeRecord.hashPrefixLength)), deviceName: name,
                createdAt: UInt64(max(0, createdAt)), expiresAt: UInt64(max(0, expiresAt)),
                grants: PostgresDeviceTables.grants(read: read, write: write))
            codes.append((hash, hex, record))
        }
        return codes
    }

    public func devices() async throws -> [DeviceRecord] {
        try await tables.snapshot { connection in
            let records = try await tables.devices(
                """
                SELECT \(unescaped: PostgresDeviceTables.deviceColumns) FROM \(unescaped: table("devices"))
                ORDER BY name, enrolled_at, replica_id
                """, on: connection)
            return try await tables.withIncarnations(records, on: connection)
        }
    }

    public func fleetPage(after position: FleetPage.Position?, limit: Int) async throws -> FleetPage {
        let limit = max(1, min(limit, FleetPage.maximumSize))
        let name = position?.name ?? ""
        let enrolled = position.map { Int64(clamping: $0.enrolledAt) } ?? -1
        return try await tables.snapshot { connection in
            // Names in byte order, as SQLite compares them (and the console pages them), whatever
            // the database's collation: the order of `devices_by_name_bytes`.
            let records = try await tables.devices(
                """
                SELECT \(unescaped: PostgresDeviceTables.deviceColumns) FROM \(unescaped: table("devices"))
                WHERE (name COLLATE "C", enrolled_at) > (\(name), \(enrolled))
                ORDER BY name COLLATE "C", enrolled_at LIMIT \(limit + 1)
                """, on: connection)
            let devices = try await tables.withIncarnations(Array(records.prefix(limit)), on: connection)
            let counts = try await setAsideCounts(of: devices, on: connection)
            return FleetPage(devices: devices, more: records.count > limit, setAside: counts)
        }
    }

    /// What the hub set aside of the pushes of each of `devices` under any of their replica ids, by
    /// enrolled id, as `ReplicaStore.setAsideCounts(of:)` counts it on SQLite, in one statement:
    /// set-aside versions by `received_from` (rejected when their code refuses what they say,
    /// else quarantined) and foreign quarantine rows by `pushed_by`. It reads set-aside rows only
    /// (`versions_set_aside`) and the devices' quarantine rows (`foreign_quarantine_by_pusher`).
    func setAsideCounts(of devices: [DeviceRecord], on connection: PostgresConnection) async throws
        -> [ReplicaID: SetAsideCounts]
    {
        var owner: [String: ReplicaID] = [:]
        for device in devices {
            for id in [device.replicaID] + device.incarnations where owner[id.hex] == nil { owner[id.hex] = device.replicaID }
        }
        guard !owner.isEmpty else { return [:] }
        let pushers = Array(owner.keys)
        let enrolled = pushers.map { owner[$0]?.hex ?? $0 }
        let refusals = SetAsideReason.Code.allCases.filter(\.isRefusalOfContent).map(\.rawValue)
        let rows = try await connection.query(
            """
            WITH pushers (id, device) AS (SELECT * FROM unnest(\(pushers)::text[], \(enrolled)::text[])),
            aside AS (
                SELECT p.device, count(*) AS total, count(*) FILTER (WHERE v.set_aside_code = ANY(\(refusals)::text[])) AS refused
                FROM \(unescaped: table("versions")) v JOIN pushers p ON p.id = v.received_from
                WHERE v.set_aside_reason IS NOT NULL GROUP BY p.device),
            apart AS (
                SELECT p.device, count(*) AS total FROM \(unescaped: table("foreign_quarantine")) q
                JOIN pushers p ON p.id = q.pushed_by GROUP BY p.device)
            SELECT coalesce(a.device, f.device), coalesce(a.refused, 0),
                coalesce(a.total, 0) - coalesce(a.refused, 0) + coalesce(f.total, 0)
            FROM aside a FULL JOIN apart f ON f.device = a.device
            """, logger: logger)
        var counts: [ReplicaID: SetAsideCounts] = [:]
        for try await (device, rejected, quarantined) in rows.decode((String, Int64, Int64).self) {
            guard let id = ReplicaID(device) else { continue }
            counts[id] = SetAsideCounts(rejected: Int(rejected), quarantined: Int(quarantined))
        }
        return counts
    }

    public func revokeDevice(_ nameOrID: String, actor: String) async throws -> RevocationOutcome {
        let now = tables.now
        let schema = tables.schema.name
        return try await tables.transaction { connection in
            let records = try await tables.activeDevices(nameOrID, on: connection)
            guard var record = records.first else { return .notFound }
            guard records.count == 1 else {
                return .ambiguous(try await tables.withIncarnations(records, on: connection))
            }
            record = try await tables.withIncarnations([record], on: connection).first ?? record
            // The guards of the device's ids (PostgresGuards: after its row, before the audit's
            // head): no push of them is between reading what it decides and committing while the
            // horizons are read, so they are what the hub holds, committed; and a push of them
            // taken after this commits reads the horizons.
            let guarded = Set(([record.replicaID] + record.incarnations).map(\.hex))
            try await PostgresGuards.take(
                PostgresGuards.keys(.origin, guarded, schema: schema), on: connection, logger: logger)
            try await connection.execute(
                """
                UPDATE \(unescaped: table("devices")) SET status = 'revoked', revoked_at = \(now)
                WHERE replica_id = \(record.replicaID.hex)
                """, logger: logger)
            record.status = .revoked
            record.revokedAt = UInt64(max(0, now))
            // Each id's horizon: the highest counter held of it, every one below held too.
            let ids = ([record.replicaID] + record.incarnations).map(\.hex)
            let held = try await connection.query(
                "SELECT origin, counter FROM \(unescaped: table("knowledge")) WHERE origin = ANY(\(ids))",
                logger: logger)
            var horizons: [String: Int64] = [:]
            for try await (origin, counter) in held.decode((String, Int64).self) { horizons[origin] = counter }
            for id in ids {
                try await connection.execute(
                    """
                    INSERT INTO \(unescaped: table("revocations")) (replica_id, horizon, revoked_at, device_id)
                    VALUES (\(id), \(horizons[id] ?? 0), \(now), \(record.replicaID.hex))
                    ON CONFLICT (replica_id) DO NOTHING
                    """, logger: logger)
            }
            // Codes given out for the device's name and not used yet would enroll a new key under it.
            let cancelled = try await connection.query(
                """
                UPDATE \(unescaped: table("enrollment_codes")) SET expires_at = LEAST(expires_at, \(now - 1))
                WHERE device_name = \(record.name) AND used_at IS NULL
                RETURNING code_hash
                """, logger: logger
            ).collect()
            try await audit.append(
                [
                    AuditEvent(
                        actor: actor, action: .revoked, subject: record.name,
                        detail: [
                            "replica": record.replicaID.hex, "codesCancelled": "\(cancelled.count)",
                            "horizons": ids.map { "\($0)=\(horizons[$0] ?? 0)" }.sorted().joined(separator: ","),
                        ])
                ], on: connection)
            logger.notice(
                "device revoked",
                metadata: [
                    "hub.device": "\(record.name)", "hub.replica": "\(record.replicaID.hex)", "hub.actor": "\(actor)",
                ])
            return .revoked(record)
        }
    }

    public func setGrants(read: Scope?, write: Scope?, ofDevice nameOrID: String, actor: String) async throws
        -> GrantChangeOutcome
    {
        try await tables.transaction { connection in
            let records = try await tables.activeDevices(nameOrID, on: connection)
            guard var record = records.first else { return .notFound }
            guard records.count == 1 else {
                return .ambiguous(try await tables.withIncarnations(records, on: connection))
            }
            let previous = record.grants
            let grants = AccessGrants(read: read ?? previous.read, write: write ?? previous.write)
            try await tables.rememberGrants(previous, on: connection)
            try await tables.rememberGrants(grants, on: connection)
            try await connection.execute(
                """
                UPDATE \(unescaped: table("devices")) SET read_scope = \(grants.read.text), write_scope = \(grants.write.text)
                WHERE replica_id = \(record.replicaID.hex)
                """, logger: logger)
            record.grants = grants
            try await audit.append(
                [
                    AuditEvent(
                        actor: actor, action: .scopesChanged, subject: record.name,
                        detail: [
                            "replica": record.replicaID.hex, "readBefore": previous.read.text,
                            "writeBefore": previous.write.text, "read": grants.read.text, "write": grants.write.text,
                        ])
                ], on: connection)
            logger.info(
                "device grants changed",
                metadata: ["hub.device": "\(record.name)", "hub.grants": "\(grants)", "hub.actor": "\(actor)"])
            return .changed(
                try await tables.withIncarnations([record], on: connection).first ?? record, previous: previous)
        }
    }

    public func setMediaPolicy(_ policy: MediaPolicy, ofCode codeHash: Data) async throws {
        try await tables.transaction { connection in
            try await connection.execute(
                """
                UPDATE \(unescaped: table("enrollment_codes")) SET media = \(policy.rawValue)
                WHERE code_hash = \(codeHash.bytea)
                """, logger: logger)
        }
    }

    @discardableResult
    public func setMediaPolicy(_ policy: MediaPolicy, of device: ReplicaID) async throws -> Bool {
        try await tables.transaction { connection in
            let changed = try await connection.query(
                """
                UPDATE \(unescaped: table("devices")) SET media = \(policy.rawValue) WHERE replica_id = \(device.hex)
                RETURNING replica_id
                """, logger: logger
            ).collect()
            return !changed.isEmpty
        }
    }

    public func mediaPolicy(of device: ReplicaID) async throws -> MediaPolicy? {
        try await tables.snapshot { connection in
            let rows = try await connection.query(
                """
                SELECT coalesce(d.media, (
                    SELECT c.media FROM \(unescaped: table("enrollment_codes")) c
                    WHERE c.used_by = d.replica_id AND c.media IS NOT NULL ORDER BY c.used_at DESC LIMIT 1))
                FROM \(unescaped: table("devices")) d WHERE d.replica_id = \(device.hex)
                """, logger: logger)
            var policy: MediaPolicy?
            for try await text in rows.decode(String?.self) { policy = text.flatMap(MediaPolicy.init(rawValue:)) }
            return policy
        }
    }
}
