import Foundation
public import HubStore
import Logging
import PostgresNIO
public import SyncEngine

/// The hub's registry of enrolled devices on PostgreSQL: the same operations and semantics as
/// ``SQLiteDeviceRegistry`` over the tables of migration `v2-devices`, shared by every hub process.
///
/// A code works once and only until it expires: enrolling locks the code's row (`FOR UPDATE`), so
/// of concurrent enrollments with one code exactly one finds it unused. Credentials and codes are
/// kept only as their SHA-256. Certificates and revocation notices are signed with the hub's key.
///
/// Enrollments, incarnations and devices' reports of versions failing verification are audited
/// (``PostgresAuditLog``) in their transactions, with the SQLite hub's entries; reports within the
/// device's hourly limit of audit entries.
public struct PostgresDeviceRegistry: DeviceRegistry {
    public let tables: PostgresDeviceTables
    /// Certificates already signed: a certified key never changes, so each is signed once per process.
    private let certified = CertificateCache()
    private let audit: PostgresAuditLog

    public init(tables: PostgresDeviceTables) {
        self.tables = tables
        audit = PostgresAuditLog(tables: tables)
    }

    private var logger: Logger { tables.logger }
    private func table(_ name: String) -> String { tables.table(name) }

    /// The device `credential` is the credential of, with its incarnations, read in one statement
    /// (every exchange asks this first).
    public func device(presenting credential: DeviceCredential) async throws -> DeviceRecord? {
        let hash = credential.hash
        let rows = try await tables.statements.rows(DeviceByCredentialStatement(hash: hash), client: tables.client)
        var found: DeviceRecord?
        for row in rows {
            let (record, stored, incarnations) = try tables.device(withCredentialAndIncarnations: row)
            // The index found it by its hash; compare the stored bytes in constant time all the same.
            guard DeviceCredential.constantTimeEqual(stored, hash) else { continue }
            found = record
            found?.incarnations = incarnations
        }
        return found
    }

    public func enroll(_ request: EnrollmentRequest, credential: DeviceCredential) async throws -> EnrollmentOutcome {
        guard let codeHash = EnrollmentCode.hash(request.code) else { return .unknownCode }
        let now = tables.now
        let replica = request.replica.hex
        return try await tables.transaction { connection in
            // The code's row stays locked until this transaction ends: a concurrent enrollment with
            // the same code waits here, then reads it used.
            let codes = try await connection.query(
                """
                SELECT device_name, expires_at, used_at, read_scope, write_scope FROM \(unescaped: table("enrollment_codes"))
                WHERE code_hash = \(codeHash.bytea) FOR UPDATE
                """, logger: logger)
            var code: (name: String, expiresAt: Int64, usedAt: Int64?, read: String, write: String)?
            for try await row in codes.decode((String, Int64, Int64?, String, String).self) { code = row }
            guard let code else { return .unknownCode }
            if code.usedAt != nil { return .used }
            if code.expiresAt < now { return .expired }
            let taken = try await connection.query(
                """
                SELECT 1 FROM \(unescaped: table("devices")) WHERE replica_id = \(replica)
                UNION ALL SELECT 1 FROM \(unescaped: table("device_incarnations")) WHERE replica_id = \(replica)
                """, logger: logger
            ).collect()
            if !taken.isEmpty { return .alreadyEnrolled }
            let writer = try await connection.query(
                "SELECT 1 FROM \(unescaped: table("hub_writers")) WHERE replica_id = \(replica)", logger: logger
            ).collect()
            if request.replica == tables.hubID || !writer.isEmpty { return .idInUse }
            // Another code enrolling the same replica id at once: the later insert finds its row.
            let inserted = try await connection.query(
                """
                INSERT INTO \(unescaped: table("devices")) (
                    replica_id, name, public_key, credential_hash, status, enrolled_at, read_scope, write_scope)
                VALUES (
                    \(replica), \(code.name), \(request.publicKey.rawRepresentation.bytea), \(credential.hash.bytea), 'active',
                    \(now), \(code.read), \(code.write))
                ON CONFLICT (replica_id) DO NOTHING
                RETURNING replica_id
                """, logger: logger
            ).collect()
            if inserted.isEmpty { return .alreadyEnrolled }
            try await connection.execute(
                """
                UPDATE \(unescaped: table("enrollment_codes")) SET used_at = \(now), used_by = \(replica)
                WHERE code_hash = \(codeHash.bytea)
                """, logger: logger)
            try await audit.append(
                [
                    AuditEvent(
                        actor: replica, action: .enrolled, subject: code.name,
                        detail: ["replica": replica, "code": String(Array(codeHash.prefix(6)).hexString)])
                ], on: connection)
            logger.info("device enrolled", metadata: ["hub.device": "\(code.name)", "hub.replica": "\(replica)"])
            return .enrolled(name: code.name)
        }
    }

    public func keys(of origins: Set<ReplicaID>) async throws -> [ReplicaID: PublicDeviceKey] {
        guard !origins.isEmpty else { return [:] }
        // One statement: the hub's writer ids (no key of their own: the hub's) and the enrolled keys.
        let rows = try await tables.statements.rows(DeviceKeysStatement(replicas: origins.map(\.hex)), client: tables.client)
        return keys(of: origins, rows: rows)
    }

    /// The keys of `origins` from rows of (replica id, enrolled key): a row without a key is one of
    /// the hub's writer ids, which signs with the hub's key; a device's later incarnations sign with
    /// its enrolled key.
    private func keys(of origins: Set<ReplicaID>, rows: [(String, Data?)]) -> [ReplicaID: PublicDeviceKey] {
        let hubKey = tables.hubKey.publicKey
        var keys: [ReplicaID: PublicDeviceKey] = [:]
        if origins.contains(tables.hubID) { keys[tables.hubID] = hubKey }
        for case (let text, nil) in rows {
            if let writer = ReplicaID(text) { keys[writer] = hubKey }
        }
        for case (let text, let bytes?) in rows {
            guard let id = ReplicaID(text), keys[id] == nil, let key = try? PublicDeviceKey(rawRepresentation: bytes)
            else { continue }
            keys[id] = key
        }
        return keys
    }

    /// ``keys(of:)``, ``grants(of:)`` and ``revocationHorizons()`` in one statement, one round trip.
    public func pushOrigins(of origins: Set<ReplicaID>) async throws -> PushOrigins {
        let rows = try await tables.statements.rows(PushOriginsStatement(replicas: origins.map(\.hex)), client: tables.client)
        var keyRows: [(String, Data?)] = []
        var grants: [ReplicaID: AccessGrants] = [:]
        var horizons: [ReplicaID: UInt64] = [:]
        for (kind, text, key, read, write, horizon) in rows {
            switch kind {
            case "w": keyRows.append((text, nil))
            case "d":
                keyRows.append((text, key))
                if let id = ReplicaID(text), grants[id] == nil, let read, let write {
                    grants[id] = PostgresDeviceTables.grants(read: read, write: write)
                }
            default:
                guard let id = ReplicaID(text) else {
                    throw PostgresStoreError(.malformedRow, "A revocation row in \(table("revocations")) names no replica id.")
                }
                if horizons[id] == nil { horizons[id] = UInt64(max(0, horizon ?? 0)) }
            }
        }
        return PushOrigins(horizons: horizons, keys: keys(of: origins, rows: keyRows), grants: grants)
    }

    public func recordExchange(
        of replica: ReplicaID, pulledAfter sequence: Int64, skewMilliseconds: Int64?, pending: Int?
    ) async throws {
        let now = tables.now
        let position = max(0, sequence)
        let pending = pending.map { Int64($0) }
        // One statement, its own transaction. What a device last showed is telemetry: a crash may
        // lose the last few of these, so its commit does not wait for the disk (`set_config` local
        // to the statement's transaction; every exchange makes one, pushes still wait).
        // The feed's last position is read from its primary key's end.
        let statement = RecordExchangeStatement(
            now: now, position: position, skewMilliseconds: skewMilliseconds, pending: pending, replica: replica.hex)
        _ = try await tables.statements.rows(statement, client: tables.client)
    }

    public func incarnate(_ device: DeviceRecord, as newID: ReplicaID, forkedAt: Dot?) async throws
        -> IncarnationOutcome
    {
        let now = tables.now
        let enrolled = device.replicaID.hex
        let hubID = tables.hubID
        return try await tables.transaction { connection in
            guard
                let record = try await tables.devices(
                    """
                    SELECT \(unescaped: PostgresDeviceTables.deviceColumns) FROM \(unescaped: table("devices"))
                    WHERE replica_id = \(enrolled) AND status = 'active' FOR UPDATE
                    """, on: connection
                ).first
            else { return .unknownDevice }
            let bound = try await connection.query(
                "SELECT device_id FROM \(unescaped: table("device_incarnations")) WHERE replica_id = \(newID.hex)",
                logger: logger)
            var boundTo: String?
            for try await id in bound.decode(String.self) { boundTo = id }
            if boundTo == enrolled {
                let current = try await tables.withIncarnations([record], on: connection)
                return .bound(name: record.name, incarnations: [device.replicaID] + (current.first?.incarnations ?? []))
            }
            let used = try await connection.query(
                """
                SELECT 1 FROM \(unescaped: table("devices")) WHERE replica_id = \(newID.hex)
                UNION ALL SELECT 1 FROM \(unescaped: table("knowledge")) WHERE origin = \(newID.hex)
                """, logger: logger
            ).collect()
            if boundTo != nil || newID == hubID || !used.isEmpty { return .taken }
            // Under the device's row lock: two requests of one device count one after the other.
            var held: Int64 = 0
            let counted = try await connection.query(
                "SELECT count(*) FROM \(unescaped: table("device_incarnations")) WHERE device_id = \(enrolled)", logger: logger)
            for try await count in counted.decode(Int64.self) { held = count }
            if held >= IncarnationRequest.maxIncarnationsPerDevice {
                return .tooMany(limit: IncarnationRequest.maxIncarnationsPerDevice)
            }
            let inserted = try await connection.query(
                """
                INSERT INTO \(unescaped: table("device_incarnations")) (replica_id, device_id, forked_at, created_at)
                VALUES (\(newID.hex), \(enrolled), \(forkedAt?.description), \(now))
                ON CONFLICT (replica_id) DO NOTHING
                RETURNING replica_id
                """, logger: logger
            ).collect()
            // Bound at the same moment by another request: to this device or another.
            if inserted.isEmpty { return .taken }
            try await audit.append(
                [
                    AuditEvent(
                        actor: enrolled, action: .incarnated, subject: record.name,
                        detail: ["replica": newID.hex, "enrolled": enrolled, "forkedAt": forkedAt?.description ?? "-"])
                ], on: connection)
            let current = try await tables.withIncarnations([record], on: connection)
            return .bound(name: record.name, incarnations: [device.replicaID] + (current.first?.incarnations ?? []))
        }
    }

    @discardableResult
    public func recordVerificationReports(
        _ reports: [VerificationReport], reportedBy device: ReplicaID
    ) async throws -> VerificationReportOutcome {
        guard !reports.isEmpty else { return VerificationReportOutcome(accepted: 0, ignored: 0) }
        let outcome = try await tables.transaction { connection in
            let served = try await servedToDevice(Set(reports.map(\.dot)), device: device, on: connection)
            var outcome = VerificationReportOutcome(accepted: 0, ignored: 0)
            for report in reports {
                guard served.contains(report.dot) else {
                    outcome.ignored += 1
                    continue
                }
                outcome.accepted += 1
                try await audit.appendWithinHourlyLimit(
                    AuditEvent(
                        actor: device.hex, action: .verificationFailed, subject: report.dot.description,
                        detail: ["reason": report.reason.rawValue]), on: connection)
            }
            if outcome.ignored > 0 {
                let first = reports.first { !served.contains($0.dot) }.map(\.dot.description) ?? "-"
                try await audit.appendWithinHourlyLimit(
                    AuditEvent(
                        actor: device.hex, action: .reportsIgnored, subject: device.hex,
                        detail: ["count": "\(outcome.ignored)", "first": first]), on: connection)
            }
            return outcome
        }
        if outcome.ignored > 0 {
            logger.notice(
                "verification reports ignored",
                metadata: ["hub.replica": "\(device.hex)", "hub.ignored": "\(outcome.ignored)"])
        }
        return outcome
    }

    /// Which of `dots` the hub could have served `device`: versions it holds that it did not
    /// receive from the device under any of its replica ids.
    private func servedToDevice(_ dots: Set<Dot>, device: ReplicaID, on connection: PostgresConnection) async throws
        -> Set<Dot>
    {
        let bound = try await connection.query(
            "SELECT device_id FROM \(unescaped: table("device_incarnations")) WHERE replica_id = \(device.hex)",
            logger: logger)
        var enrolled = device.hex
        for try await id in bound.decode(String.self) { enrolled = id }
        var own: Set<String> = [enrolled, device.hex]
        let incarnations = try await connection.query(
            "SELECT replica_id FROM \(unescaped: table("device_incarnations")) WHERE device_id = \(enrolled)",
            logger: logger)
        for try await id in incarnations.decode(String.self) { own.insert(id) }
        var served = Set<Dot>()
        for dot in dots where dot.counter <= Dot.maxCounter {
            let rows = try await connection.query(
                """
                SELECT received_from FROM \(unescaped: table("versions"))
                WHERE origin = \(dot.replica.hex) AND counter = \(Int64(dot.counter))
                """, logger: logger)
            var held = false
            var receivedFrom: String?
            for try await from in rows.decode(String?.self) {
                held = true
                receivedFrom = from
            }
            guard held else { continue }
            if let receivedFrom, own.contains(receivedFrom) { continue }
            served.insert(dot)
        }
        return served
    }

    public func grants(of origins: Set<ReplicaID>) async throws -> [ReplicaID: AccessGrants] {
        guard !origins.isEmpty else { return [:] }
        let rows = try await tables.statements.rows(DeviceGrantsStatement(replicas: origins.map(\.hex)), client: tables.client)
        var grants: [ReplicaID: AccessGrants] = [:]
        for (text, read, write) in rows {
            guard let id = ReplicaID(text), grants[id] == nil else { continue }
            grants[id] = PostgresDeviceTables.grants(read: read, write: write)
        }
        return grants
    }

    public func grants(fingerprint: String) async throws -> AccessGrants? {
        if fingerprint == AccessGrants.everything.fingerprint { return .everything }
        return try await tables.snapshot { connection in
            let rows = try await connection.query(
                "SELECT read_scope, write_scope FROM \(unescaped: table("grant_sets")) WHERE fingerprint = \(fingerprint)",
                logger: logger)
            var found: AccessGrants?
            for try await (read, write) in rows.decode((String, String).self) {
                if let read = Scope(text: read), let write = Scope(text: write) {
                    found = AccessGrants(read: read, write: write)
                }
            }
            return found
        }
    }

    public func certificates(of origins: Set<ReplicaID>) async throws -> [DeviceCertificate] {
        guard !origins.isEmpty else { return [] }
        let found = certified.certificates(of: origins)
        let missing = origins.subtracting(found.map(\.replica))
        guard !missing.isEmpty else { return found }
        let signed = try await sign(missing)
        certified.insert(signed)
        return found + signed
    }

    /// Certificates of `origins` signed now with the hub's key.
    private func sign(_ origins: Set<ReplicaID>) async throws -> [DeviceCertificate] {
        let asked = origins.map(\.hex)
        let hubKey = tables.hubKey
        let subjects: [ReplicaID: (key: PublicDeviceKey, name: String, issuedAt: UInt64)] = try await tables.snapshot {
            connection in
            var subjects: [ReplicaID: (key: PublicDeviceKey, name: String, issuedAt: UInt64)] = [:]
            if origins.contains(tables.hubID) { subjects[tables.hubID] = (hubKey.publicKey, "hub", tables.hubIssuedAt) }
            for (writer, started) in try await tables.writers(among: asked, on: connection) {
                subjects[writer] = (hubKey.publicKey, "hub", started)
            }
            let rows = try await connection.query(
                """
                SELECT replica_id, public_key, name, enrolled_at FROM \(unescaped: table("devices"))
                WHERE replica_id = ANY(\(asked))
                UNION ALL
                SELECT i.replica_id, d.public_key, d.name, i.created_at FROM \(unescaped: table("device_incarnations")) i
                JOIN \(unescaped: table("devices")) d ON d.replica_id = i.device_id
                WHERE i.replica_id = ANY(\(asked))
                """, logger: logger)
            for try await (text, bytes, name, issuedAt) in rows.decode((String, Data, String, Int64).self) {
                guard let id = ReplicaID(text), subjects[id] == nil,
                    let key = try? PublicDeviceKey(rawRepresentation: bytes)
                else { continue }
                subjects[id] = (key, name, UInt64(max(0, issuedAt)))
            }
            return subjects
        }
        return try subjects.sorted { $0.key < $1.key }.map { id, subject in
            try DeviceCertificate(
                hub: tables.hubID, replica: id, publicKey: subject.key, name: subject.name, issuedAt: subject.issuedAt,
                signedWith: hubKey)
        }
    }

    public func revocationNotices() async throws -> [RevocationNotice] {
        let revoked = try await revocations()
        return try revoked.map { id, horizon, revokedAt in
            try RevocationNotice(
                hub: tables.hubID, replica: id, horizon: horizon, revokedAt: revokedAt, signedWith: tables.hubKey)
        }
    }

    public func revocationHorizons() async throws -> [ReplicaID: UInt64] {
        Dictionary(try await revocations().map { ($0.id, $0.horizon) }, uniquingKeysWith: { first, _ in first })
    }

    private func revocations() async throws -> [(id: ReplicaID, horizon: UInt64, revokedAt: UInt64)] {
        try await tables.statements.rows(RevocationsStatement(), client: tables.client).map { text, horizon, revokedAt in
            guard let id = ReplicaID(text) else {
                throw PostgresStoreError(.malformedRow, "A revocation row in \(table("revocations")) names no replica id.")
            }
            return (id, UInt64(max(0, horizon)), UInt64(max(0, revokedAt)))
        }
    }

    public func recordHubWriters(_ writers: Set<ReplicaID>) async throws {
        guard !writers.isEmpty else { return }
        let now = min(tables.now, Int64(Dot.maxCounter))
        try await tables.transaction { connection in
            for writer in writers.sorted() {
                try await connection.execute(
                    """
                    INSERT INTO \(unescaped: table("hub_writers")) (replica_id, started_at) VALUES (\(writer.hex), \(now))
                    ON CONFLICT (replica_id) DO NOTHING
                    """, logger: logger)
            }
        }
    }
}
