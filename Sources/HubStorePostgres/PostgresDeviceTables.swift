import Foundation
public import HubStore
import Logging
public import PostgresNIO
public import SyncEngine

/// The hub's device tables in one schema (migration `v2-devices`), and what both
/// ``PostgresDeviceRegistry`` and ``PostgresDeviceAdministration`` need of them: the hub's
/// identity (its id and signing key, for certificates and revocation notices), the clock, and the
/// reads they share.
public struct PostgresDeviceTables: Sendable {
    public let client: PostgresClient
    let schema: PostgresSchemaName
    let logger: Logger
    /// The hub's replica id: certificates and notices name it as their issuer.
    public let hubID: ReplicaID
    /// The hub's signing key: certificates and revocation notices are signed with it; the hub's
    /// own id and its writer ids verify against its public half.
    let hubKey: DeviceKey
    /// When the hub's own certificate says it was issued (milliseconds since 1970).
    let hubIssuedAt: UInt64
    /// Milliseconds since 1970 (tests pin it).
    let clock: @Sendable () -> UInt64
    /// How many audit entries one device's syncs may cause per hour (its verification reports,
    /// the versions it pushes that are set aside), as the SQLite hub's `deviceEntriesPerHour`;
    /// beyond it they are counted, not written (``PostgresAuditLog``). 0 for no limit.
    let deviceEntriesPerHour: Int
    /// Whether the exchange's statements are prepared (``PostgresStatementMode``).
    let statementMode = PostgresStatementMode()

    /// The device tables in `schema` of the database `client` reaches (``PostgresMigrations``
    /// creates them), for the hub `hubID` whose signing key is `hubKey`.
    public init(
        client: PostgresClient, schema: String = "public", hubID: ReplicaID, hubKey: DeviceKey, hubIssuedAt: UInt64 = 0,
        deviceEntriesPerHour: Int = DeviceEntryLimit.perHourByDefault, logger: Logger,
        clock: @escaping @Sendable () -> UInt64 = PostgresDeviceTables.wallClock
    ) throws {
        self.client = client
        self.schema = try PostgresSchemaName(schema)
        self.logger = logger
        self.hubID = hubID
        self.hubKey = hubKey
        self.hubIssuedAt = hubIssuedAt
        self.clock = clock
        self.deviceEntriesPerHour = max(0, deviceEntriesPerHour)
    }

    /// The system clock in milliseconds since 1970.
    @Sendable public static func wallClock() -> UInt64 {
        UInt64(max(0, (Date().timeIntervalSince1970 * 1000).rounded()))
    }

    var now: Int64 { Int64(clamping: clock()) }

    /// Runs the exchange's statements of this schema (``PostgresSchemaStatement``).
    var statements: PostgresStatements { PostgresStatements(schema: schema, mode: statementMode, logger: logger) }

    /// The table's name qualified by the schema, for SQL.
    func table(_ name: String) -> String { "\(schema.name).\(name)" }

    /// Runs `body` in one read-committed transaction on a leased connection.
    func transaction<Result>(_ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .readWrite, logger: logger, body)
        }
    }

    /// Runs `body` in one read-only snapshot on a leased connection.
    func snapshot<Result>(_ body: @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await client.withConnection { connection in
            try await PostgresTransaction.run(on: connection, mode: .snapshotReadOnly, logger: logger, body)
        }
    }

    // MARK: Devices

    /// The columns ``device(_:)`` decodes, in its order.
    static let deviceColumns = """
        replica_id, name, public_key, status, enrolled_at, revoked_at, last_seen_at, last_lag, last_skew_ms, read_scope,
        write_scope, last_pending
        """

    typealias DeviceRow = (
        String, String, Data, String, Int64, Int64?, Int64?, Int64?, Int64?, String, String, Int64?
    )

    /// The devices a query of ``deviceColumns`` reads, without their incarnations.
    func devices(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> [DeviceRecord] {
        var records: [DeviceRecord] = []
        let rows = try await connection.query(query, logger: logger)
        for try await row in rows.decode(DeviceRow.self) {
            records.append(try device(row))
        }
        return records
    }

    /// A row of ``deviceColumns`` followed by the device's credential hash and its incarnations
    /// (an array of replica ids, oldest first).
    func device(withCredentialAndIncarnations row: PostgresRow) throws -> (DeviceRecord, Data, [ReplicaID]) {
        let (id, name, key, status, enrolledAt, revokedAt, lastSeenAt, lastLag, skew, read, write, pending, hash, later) =
            try row.decode(
                (String, String, Data, String, Int64, Int64?, Int64?, Int64?, Int64?, String, String, Int64?, Data, [String])
                    .self)
        let record = try device((id, name, key, status, enrolledAt, revokedAt, lastSeenAt, lastLag, skew, read, write, pending))
        let incarnations = try later.map { text in
            guard let id = ReplicaID(text) else {
                throw PostgresStoreError(
                    .malformedRow, "An incarnation row in \(table("device_incarnations")) names no replica id.")
            }
            return id
        }
        return (record, hash, incarnations)
    }

    private func device(_ row: DeviceRow) throws -> DeviceRecord {
        let (id, name, key, status, enrolledAt, revokedAt, lastSeenAt, lastLag, skew, read, write, pending) = row
        guard let replica = ReplicaID(id), let publicKey = try? PublicDeviceKey(rawRepresentation: key),
            let status = DeviceRecord.Status(rawValue: status)
        else {
            throw PostgresStoreError(.malformedRow, "A device row in \(table("devices")) is malformed.")
        }
        var record = DeviceRecord(
            replicaID: replica, name: name, publicKey: publicKey, status: status,
            enrolledAt: UInt64(max(0, enrolledAt)), revokedAt: revokedAt.map { UInt64(max(0, $0)) },
            lastSeenAt: lastSeenAt.map { UInt64(max(0, $0)) }, lastLag: lastLag.map { Int(clamping: $0) },
            lastSkewMilliseconds: skew, grants: Self.grants(read: read, write: write))
        record.lastPending = pending.map { Int(clamping: $0) }
        return record
    }

    /// Grants from their scopes' text; a text that does not parse grants nothing (as in SQLite).
    static func grants(read: String, write: String) -> AccessGrants {
        AccessGrants(read: Scope(text: read) ?? .nothing, write: Scope(text: write) ?? .nothing)
    }

    /// `records` with their incarnations, oldest first.
    func withIncarnations(_ records: [DeviceRecord], on connection: PostgresConnection) async throws -> [DeviceRecord] {
        guard !records.isEmpty else { return records }
        let rows = try await connection.query(
            """
            SELECT device_id, replica_id FROM \(unescaped: table("device_incarnations"))
            WHERE device_id = ANY(\(records.map(\.replicaID.hex))) ORDER BY created_at, replica_id
            """, logger: logger)
        var incarnations: [String: [ReplicaID]] = [:]
        for try await (device, text) in rows.decode((String, String).self) {
            guard let id = ReplicaID(text) else {
                throw PostgresStoreError(
                    .malformedRow, "An incarnation row in \(table("device_incarnations")) names no replica id.")
            }
            incarnations[device, default: []].append(id)
        }
        return records.map { record in
            var record = record
            record.incarnations = incarnations[record.replicaID.hex] ?? []
            return record
        }
    }

    /// The active devices with this replica id (hex) or, failing that, this name, locked until the
    /// transaction ends.
    func activeDevices(_ nameOrID: String, on connection: PostgresConnection) async throws -> [DeviceRecord] {
        let columns = Self.deviceColumns
        let byID = try await devices(
            """
            SELECT \(unescaped: columns) FROM \(unescaped: table("devices"))
            WHERE status = 'active' AND replica_id = \(nameOrID.lowercased()) FOR UPDATE
            """, on: connection)
        if !byID.isEmpty { return byID }
        return try await devices(
            """
            SELECT \(unescaped: columns) FROM \(unescaped: table("devices"))
            WHERE status = 'active' AND name = \(nameOrID) ORDER BY enrolled_at, replica_id FOR UPDATE
            """, on: connection)
    }

    /// Remembers `grants` under their fingerprint (idempotent), so a checkpoint carrying it can be
    /// read back as the grants it was made under.
    func rememberGrants(_ grants: AccessGrants, on connection: PostgresConnection) async throws {
        try await connection.execute(
            """
            INSERT INTO \(unescaped: table("grant_sets")) (fingerprint, read_scope, write_scope)
            VALUES (\(grants.fingerprint), \(grants.read.text), \(grants.write.text))
            ON CONFLICT (fingerprint) DO NOTHING
            """, logger: logger)
    }

    /// The hub's writer ids among `origins`, with when each was first written under.
    func writers(among origins: [String], on connection: PostgresConnection) async throws -> [ReplicaID: UInt64] {
        guard !origins.isEmpty else { return [:] }
        var found: [ReplicaID: UInt64] = [:]
        for (text, started) in try await statements.rows(HubWritersStatement(replicas: origins), on: connection) {
            if let id = ReplicaID(text) { found[id] = UInt64(max(0, started)) }
        }
        return found
    }
}

extension Data {
    /// The bytes as a `bytea` parameter.
    var bytea: ByteBuffer { ByteBuffer(bytes: self) }
}
