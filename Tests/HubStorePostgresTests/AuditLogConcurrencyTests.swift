import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// Two hub processes (audit logs with connection pools of their own) append to one schema's audit
/// log at once, each transaction pausing a random moment before it commits so they interleave.
/// With the chain head's lock: every append succeeds and the log is one chain, no fork, no gap.
/// The negative control appends without the lock and shows the proof can fail.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct AuditLogConcurrencyTests {
    struct Figures: CustomStringConvertible {
        var appended = 0
        var failed = 0
        var entries = 0
        var intact = false

        var description: String { "\(appended) appends succeeded, \(failed) failed, \(entries) entries, intact \(intact)" }
    }

    /// Appends per process; each append writes 1 to 3 entries.
    static let appendsPerProcess = 24

    @Test func twoHubProcessesAppendOneChain() async throws {
        let figures = try await appendAtOnce(locking: .chainHead, maxPauseMilliseconds: 3)
        print("audit appends, two hub processes (chain head locked): \(figures)")
        #expect(figures.failed == 0)
        #expect(figures.appended == 2 * Self.appendsPerProcess)
        #expect(figures.intact)
    }

    @Test func withoutTheHeadsLockAppendsCollide() async throws {
        var attempts: [Figures] = []
        for _ in 0..<3 {
            let figures = try await appendAtOnce(locking: .none, maxPauseMilliseconds: 8)
            print("audit appends, two hub processes (no lock, negative control): \(figures)")
            attempts.append(figures)
            if figures.failed > 0 { break }
        }
        // Two appends read the same head and write the same next sequence: one of them fails (or,
        // without the primary key, the chain would fork).
        #expect(attempts.contains { $0.failed > 0 }, "\(attempts)")
    }

    /// Both processes append ``appendsPerProcess`` times at once; then the log is read and verified.
    private func appendAtOnce(locking: PostgresAuditLog.Locking, maxPauseMilliseconds: Int) async throws -> Figures {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
            let pause: @Sendable () async throws -> Void = {
                try await Task.sleep(for: .microseconds(Int.random(in: 0...(maxPauseMilliseconds * 1_000))))
            }
            let logs = try clients.map { client in
                PostgresAuditLog(
                    tables: try PostgresDeviceTables(
                        client: client, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet),
                    locking: locking, beforeCommit: pause)
            }
            var figures = Figures()
            var expected = 0
            let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
                for index in 0..<(2 * Self.appendsPerProcess) {
                    let log = logs[index % 2]
                    let count = 1 + index % 3
                    let events = (0..<count).map { part in
                        AuditEvent(actor: "hub", action: .authenticationFailed, subject: "192.0.2.\(index)", detail: ["part": "\(part)"])
                    }
                    group.addTask {
                        do {
                            try await log.append(events)
                            return (count, true)
                        } catch {
                            return (count, false)
                        }
                    }
                }
                var all: [(Int, Bool)] = []
                for await outcome in group { all.append(outcome) }
                return all
            }
            for (count, succeeded) in outcomes {
                if succeeded {
                    figures.appended += 1
                    expected += count
                } else {
                    figures.failed += 1
                }
            }
            let entries = try await logs[1].entries(after: 0, limit: 10_000)
            figures.entries = entries.count
            let verified = try await logs[0].verify(head: nil)
            if case .intact(let position) = verified.verdict {
                figures.intact = position.count == expected && entries.map(\.sequence) == Array(1...Int64(max(1, expected)))
            }
            return figures
        }
    }
}
