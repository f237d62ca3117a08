import Foundation
import Hummingbird
import NIOCore
import ReplicaStore
import ServiceLifecycle
import SyncClient
import SyncEngine
import Testing
import TestSupport

/// `syncd run --budget-per-day`: a daemon on a link paid per megabyte (issue 13, Budgets).
@Suite("Daily byte budget")
struct DailyBudgetTests {
    @Test("the tally counts one UTC day, starts again the next, and survives a restart")
    func tally() async throws {
        var tally = DailyByteTally(day: 100)
        tally.record(700, on: 100)
        #expect(tally.remaining(of: 1_000, on: 100) == 300)
        tally.record(700, on: 100)
        #expect(tally.remaining(of: 1_000, on: 100) == 0, "never below zero")
        #expect(tally.remaining(of: 1_000, on: 101) == 1_000, "a new day has its whole budget")
        tally.record(10, on: 101)
        #expect(tally == DailyByteTally(day: 101, spent: 10))
        tally.record(Int.max, on: 101)
        #expect(tally.spent == Int.max, "no overflow")
        #expect(DailyByteTally.day(of: Date(timeIntervalSince1970: 86_400 * 3 + 5)) == 3)
        try await TemporaryReplica.withFolder { folder in
            let path = DailyByteTally.path(forReplicaAt: folder.path("field"))
            #expect(DailyByteTally.load(from: path) == nil)
            try tally.save(to: path)
            #expect(DailyByteTally.load(from: path) == tally)
            try Data("not json".utf8).write(to: URL(fileURLWithPath: path))
            #expect(DailyByteTally.load(from: path) == nil, "a damaged tally starts the day from zero")
        }
    }

    /// Schedule: a field daemon with 60 reports waiting (about 1.5 KB each) and a budget of 30 KB
    /// a day syncs, is restarted the same day, and syncs again.
    @Test("a daemon with a daily budget stops once it is spent, and a restarted one goes on counting the same day")
    func daemonKeepsToItsBudget() async throws {
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(1) { replicas in
                let device = replicas[0]
                let token = try await hub.enroll(device)
                for index in 0..<60 {
                    try device.write(WriteIntent(key: SyncBudgetTests.key("n\(index)"), body: SyncBudgetTests.body(index)))
                }
                let day = DailyByteTally.day(of: Date())
                let path = DailyByteTally.path(forReplicaAt: device.path)
                // Until the day's budget is spent (within a minute: the suite runs in parallel).
                try await Self.runDaemon(device, hub, token, tally: path) {
                    (DailyByteTally.load(from: path)?.spent ?? 0) >= 30_000 - Synchronizer.smallestRound
                }
                let spent = try #require(DailyByteTally.load(from: path)).spent
                #expect(spent > 0 && spent <= 30_000 + 4_096, "\(spent) bytes")
                let held = try hub.store.status().versions
                #expect(held > 0 && held < 60, "\(held) versions at the hub")

                let restarted = ContinuousClock.now
                try await Self.runDaemon(device, hub, token, tally: path) { ContinuousClock.now - restarted > .seconds(2) }
                if DailyByteTally.day(of: Date()) == day {
                    #expect(try hub.store.status().versions == held, "the restarted daemon moved nothing more today")
                    #expect(DailyByteTally.load(from: path)?.spent == spent)
                }
            }
        }
    }

    /// Replays a review's finding: a hub that fails every exchange after reading it (500), a
    /// daemon with a daily budget and reports waiting. Its tally counted only the pages it
    /// applied, so the failed tries (each sending the push) cost the link and counted nothing:
    /// with a link cut every few minutes, the budget never stopped a day's traffic.
    @Test("failed exchanges count against the day's budget")
    func failedExchangesAreCounted() async throws {
        try await TemporaryReplica.withReplicas(1) { replicas in
            let device = replicas[0]
            for index in 0..<20 {
                try device.write(WriteIntent(key: SyncBudgetTests.key("n\(index)"), body: SyncBudgetTests.body(index)))
            }
            let path = DailyByteTally.path(forReplicaAt: device.path)
            let problem = #"{"type":"storage","title":"Storage failure","status":500}"#
            try await ClientHostileHubTests.withFakeHub({
                Response(
                    status: .internalServerError, headers: [.contentType: "application/problem+json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(string: problem)))
            }) { hub in
                try await Self.runDaemon(device, url: hub.url, token: "device-token", tally: path) {
                    hub.requests >= 2
                }
                #expect(hub.requests >= 2)
            }
            let spent = try #require(DailyByteTally.load(from: path)).spent
            #expect(spent > 2 * 20 * 100, "\(spent) bytes counted for the failed tries")
        }
    }

    /// Runs a daemon with a budget of 30 KB a day until `done` holds (polled every 50 ms, for at
    /// most a minute), then stops it.
    static func runDaemon(
        _ store: ReplicaStore, _ hub: HubFixture, _ token: String, tally: String, until done: () throws -> Bool
    ) async throws {
        try await runDaemon(store, url: hub.url, token: token, tally: tally, until: done)
    }

    static func runDaemon(
        _ store: ReplicaStore, url: URL, token: String, tally: String, until done: () throws -> Bool
    ) async throws {
        let daemon = SyncDaemon(
            synchronizer: Synchronizer(
                store: store, transport: HTTPSyncTransport(configuration: .init(hub: url, token: token, timeoutSeconds: 30)),
                peer: HubCredentials.peerName(for: url),
                configuration: .init(pageLimits: PageLimits(versions: 20), pushVersions: 20, retry: .never), logger: silentLogger),
            configuration: .init(
                schedule: .init(interval: .milliseconds(300)), pollInterval: .milliseconds(50), bytesPerDay: 30_000,
                tallyPath: tally),
            logger: silentLogger)
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [.init(service: daemon, successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [], logger: silentLogger))
        let running = Task { try await group.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while try !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        await group.triggerGracefulShutdown()
        try await running.value
    }
}
