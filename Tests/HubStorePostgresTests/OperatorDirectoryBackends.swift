import Foundation
import HubStore
import HubStoreSQLite
@testable import HubStorePostgres
import ReplicaStore
import SyncEngine
import Testing

/// One hub's operator directory as a backend gives it, with a second one over the same database
/// (another hub process), the audit log both write to, and the hub's public key. The directory's
/// conformance suite runs over it on every backend in ``RegistryBackend/enabled``.
struct OperatorDirectoryUnderTest: Sendable {
    let directory: any OperatorDirectory
    /// The same operators through connections of their own (another hub process).
    let other: any OperatorDirectory
    let auditLog: any HubAuditLog
    /// What the informant key's statement must be signed with.
    let hubKey: PublicDeviceKey
    let hubID: ReplicaID
    let clock: AuditTestClock

    /// Runs `body` with a fresh hub on `backend`, removed afterwards.
    static func with<Result>(_ backend: RegistryBackend, _ body: (OperatorDirectoryUnderTest) async throws -> Result)
        async throws -> Result
    {
        let clock = AuditTestClock()
        switch backend {
        case .sqlite:
            return try await clock.withHubFile("operators") { store, other in
                try await body(
                    OperatorDirectoryUnderTest(
                        directory: SQLiteOperatorDirectory(store: store), other: SQLiteOperatorDirectory(store: other),
                        auditLog: SQLiteHubAuditLog(store: store), hubKey: store.publicKey, hubID: store.replicaID,
                        clock: clock))
            }
        case .postgres:
            return try await PostgresTestDatabase.withClients(2) { clients, schema in
                let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
                let tables = try clients.map { client in
                    try PostgresDeviceTables(
                        client: client, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet,
                        clock: clock.now)
                }
                return try await body(
                    OperatorDirectoryUnderTest(
                        directory: PostgresOperatorDirectory(tables: tables[0]),
                        other: PostgresOperatorDirectory(tables: tables[1]), auditLog: PostgresAuditLog(tables: tables[0]),
                        hubKey: hubKey.publicKey, hubID: hubID, clock: clock))
            }
        }
    }

    /// Every audit entry of `action`, oldest first.
    func audited(_ action: AuditAction) async throws -> [AuditEntry] {
        try await auditLog.entries(after: 0, limit: 10_000).filter { $0.action == action }
    }

    /// Adds `name` with a setup link (its token's hash returned) valid for an hour.
    @discardableResult
    func add(_ name: String, role: OperatorRole) async throws -> Data {
        let hash = Data((0..<32).map { _ in UInt8.random(in: .min ... .max) })
        let added = try await directory.addOperator(
            name: name, role: role, setupHash: hash, setupExpiresAt: clock.now() + 3_600_000)
        #expect(added == .added)
        return hash
    }

    /// Adds `name` and sets their password hash with the setup link.
    func addWithPassword(_ name: String, role: OperatorRole, passwordHash: String = "hash-of-secret") async throws {
        let hash = try await add(name, role: role)
        #expect(try await directory.completeOperatorSetup(hash: hash, passwordHash: passwordHash) == name)
    }
}
