import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// What the PostgreSQL push path calls in its transaction to audit what it keeps apart, as the
/// SQLite hub's `take` audits it: the set-aside versions and the foreign quarantine, each within
/// the pusher's hourly limit, in the caller's transaction (rolled back with it).
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct AuditLogPushTests {
    /// A log over a fresh schema whose devices may cause 2 entries (and 2 foreign-quarantine rows)
    /// an hour, on a clock the test moves.
    private func withLog<Result>(
        _ body: (PostgresAuditLog, String, AuditTestClock) async throws -> Result
    ) async throws -> Result {
        try await PostgresTestDatabase.withClients(1) { clients, schema in
            let clock = AuditTestClock()
            let tables = try PostgresDeviceTables(
                client: clients[0], schema: schema, hubID: ReplicaID.random(), hubKey: DeviceKey(), deviceEntriesPerHour: 2,
                logger: PostgresTestDatabase.quiet, clock: clock.now)
            return try await body(PostgresAuditLog(tables: tables), schema, clock)
        }
    }

    @Test func setAsideVersionsAreAuditedWithinThePushersLimit() async throws {
        try await withLog { log, _, _ in
            let pusher = ReplicaID.random()
            let versions = try (1...3).map { try FeedFixtures.version(pusher, $0) }
            let reason = SetAsideReason(.outOfScope, "observations/SD-DN is outside the writer's scope")
            let setAside = Dictionary(uniqueKeysWithValues: versions.map { ($0.dot, reason) })
            // Rolled back with its transaction: nothing written.
            struct Abandoned: Error {}
            await #expect(throws: Abandoned.self) {
                try await log.tables.transaction { connection in
                    try await log.auditSetAside(setAside, of: versions, pushedBy: pusher, on: connection)
                    throw Abandoned()
                }
            }
            #expect(try await log.newest() == nil)

            try await log.tables.transaction { connection in
                try await log.auditSetAside(setAside, of: versions, pushedBy: pusher, on: connection)
            }
            let entries = try await log.entries(after: 0, limit: 100)
            #expect(entries.map(\.action) == [.quarantined, .quarantined, .limitReached])
            #expect(entries.prefix(2).map(\.subject) == versions.prefix(2).map(\.dot.description))
            #expect(entries[0].actor == pusher.hex)
            #expect(entries[0].detail == AuditEvent.quarantineDetail(versions[0], reason: reason))
            #expect(entries[2].detail["counts"] == "audit entries")
            #expect(try await log.pendingSuppressedCounts() == [pusher.hex: ["version.quarantined": 1]])
        }
    }

    @Test func theForeignQuarantineIsCappedPerPusherAndHour() async throws {
        try await withLog { log, schema, clock in
            let pusher = ReplicaID.random()
            let reason = SetAsideReason(.badSignature, "the signature does not verify")
            var kept: [Bool] = []
            for counter in 1...4 {
                let version = try FeedFixtures.version(ReplicaID.random(), UInt64(counter))
                kept.append(
                    try await log.tables.transaction { connection in
                        guard try await log.isWithinForeignQuarantineLimit(pushedBy: pusher, on: connection) else {
                            return false
                        }
                        try await connection.execute(
                            """
                            INSERT INTO \(unescaped: schema).foreign_quarantine (
                                origin, counter, signature, version, pushed_by, reason, code, received_at)
                            VALUES (
                                \(version.dot.replica.hex), \(Int64(counter)), \(version.signature.bytea), '{}',
                                \(pusher.hex), \(reason.detail), \(reason.code.rawValue), \(Int64(clock.now())))
                            """, logger: PostgresTestDatabase.quiet)
                        try await log.auditForeignQuarantine(version, reason: reason, pushedBy: pusher, on: connection)
                        return true
                    })
            }
            #expect(kept == [true, true, false, false])
            var entries = try await log.entries(after: 0, limit: 100)
            #expect(entries.map(\.action) == [.quarantined, .quarantined, .limitReached])
            #expect(entries[2].detail["counts"] == "foreign-quarantine rows")
            #expect(try await log.pendingSuppressedCounts() == [pusher.hex: ["foreign-quarantine": 2]])
            clock.advance(by: 3_600_000)
            let next = try await log.tables.transaction { connection in
                try await log.isWithinForeignQuarantineLimit(pushedBy: pusher, on: connection)
            }
            #expect(next)
            entries = try await log.entries(after: 0, limit: 100)
            #expect(entries.last?.action == .suppressed && entries.last?.detail["foreign-quarantine"] == "2")
            guard case .intact(let position) = try await log.verify(head: nil).verdict else {
                Issue.record("the chain does not verify")
                return
            }
            #expect(position.count == 4)
        }
    }
}
