import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
@testable import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// Pipelined pulls (issue 14): the client asks for page N+1 while it verifies and applies page N,
/// and drops that page, applying nothing of it, when applying N fails or the sync stops. Real
/// in-process hubs, real replicas, a link that shows when each request went and can hold one.
@Suite("Pipelined pull")
struct PipelinedPullTests {
    /// A link that records the requests it carries (by their checkpoint) and the answers it gave,
    /// and holds one request (1-based) until it is cancelled or 20 s have passed.
    final class AheadLink: SyncTransport {
        struct Seen: Sendable {
            /// The checkpoint of each request, in the order they reached the link.
            var asked: [String?] = []
            /// The checkpoint of each request answered, in the order the answers left.
            var answered: [String?] = []
            /// The requests (1-based) cancelled while held.
            var cancelled: [Int] = []

            /// The checkpoint request `number` (1-based) carried; nil when it carried none or did not come.
            func checkpoint(ofRequest number: Int) -> String? {
                asked.indices.contains(number - 1) ? asked[number - 1] : nil
            }
        }

        let base: any SyncTransport
        let hold: Int?
        private let seen = Mutex(Seen())

        init(_ base: any SyncTransport, hold: Int? = nil) {
            self.base = base
            self.hold = hold
        }

        var snapshot: Seen { seen.withLock { $0 } }

        func exchange(_ request: SyncRequest) async throws -> TransportReply {
            let call = seen.withLock {
                $0.asked.append(request.checkpoint)
                return $0.asked.count
            }
            if call == hold {
                do {
                    try await Task.sleep(for: .seconds(20))
                } catch {
                    seen.withLock { $0.cancelled.append(call) }
                    throw error
                }
            }
            // As the HTTP transport does: a cancelled request is not answered.
            try Task.checkCancellation()
            let reply = try await base.exchange(request)
            seen.withLock { $0.answered.append(request.checkpoint) }
            return reply
        }

        func incarnate(_ request: IncarnationRequest) async throws -> IncarnationResponse {
            try await base.incarnate(request)
        }

        /// Waits up to 5 s for `condition` to hold of what the link saw; whether it did.
        func wait(until condition: (Seen) -> Bool) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(5)
            while ContinuousClock.now < deadline {
                if condition(snapshot) { return true }
                try? await Task.sleep(for: .milliseconds(5))
            }
            return condition(snapshot)
        }
    }

    struct ApplyFailed: Error {}

    /// A hub holding `count` versions of a writer (in the feed in the order written), and an
    /// enrolled empty reader.
    static func withPages(
        _ count: Int, _ body: (HubSlot, FaultDevice, [Version]) async throws -> Void
    ) async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try HubSlot(path: folder.path("hub"), options: folder.options)
            let writer = try await FaultDevice.enroll("writer", write: "*", in: folder, at: hub)
            let written = try (0..<count).map { try ScopeTests.write(writer.store, "n\($0)", in: "SD-DN") }
            #expect(try await writer.sync(hub).versionsPushed == count)
            let reader = try await FaultDevice.enroll("reader", write: "*", in: folder, at: hub)
            try await body(hub, reader, written)
        }
    }

    /// A reader's sync over `link`, three versions a page.
    static func synchronizer(_ reader: FaultDevice, _ link: AheadLink, prefetch: Bool = true) -> Synchronizer {
        var configuration = Synchronizer.Configuration(pageLimits: PageLimits(versions: 3), retry: .never)
        configuration.prefetchPages = prefetch
        return Synchronizer(store: reader.store, transport: link, peer: FaultSchedule.peer, configuration: configuration, logger: silentLogger)
    }

    /// Which of `written` the replica holds.
    static func held(_ store: ReplicaStore, of written: [Version]) throws -> Set<Dot> {
        Set(try store.versions(at: written.map(\.dot)).map(\.dot))
    }

    static func checkpoint(_ store: ReplicaStore) throws -> String? {
        try store.exchangeBase(peer: store.peerName(forHubAt: FaultSchedule.peer)).peer.checkpoint
    }

    @Test("the next page is asked for before the page in hand is applied, from the checkpoint its answer gives")
    func asksAheadWhileApplying() async throws {
        try await Self.withPages(8) { hub, reader, written in
            let link = AheadLink(FaultLink(hub: hub, credential: reader.credential))
            var sync = Self.synchronizer(reader, link)
            let askedBeforeApply = Mutex<[Bool]>([])
            sync.beforeApplying = { response in
                guard response.more else { return }
                let asked = await link.wait { $0.asked.contains(response.checkpoint) }
                askedBeforeApply.withLock { $0.append(asked) }
            }
            let summary = try await sync.run()
            // Pages of 3, 3 and 2: the first two each had the next asked for before they were applied.
            #expect(askedBeforeApply.withLock { $0 } == [true, true])
            #expect(summary.versionsPulled == 8 && summary.roundTrips == 3)
            #expect(link.snapshot.asked.count == 3, "one request a page, none dropped")
            #expect(try Self.held(reader.store, of: written) == Set(written.map(\.dot)))
        }
    }

    /// Replays: applying page 2 fails while page 3 was asked for (held at the link, or already
    /// answered): page 3's request is cancelled or its answer dropped, nothing of pages 2 and 3 is
    /// applied, and the checkpoint stays where page 1 ended.
    @Test("a failure applying a page drops the page in flight: none of its versions, the checkpoint stays at the page before", arguments: [true, false])
    func failedApplyDropsThePageInFlight(holdThePageInFlight: Bool) async throws {
        try await Self.withPages(8) { hub, reader, written in
            let link = AheadLink(FaultLink(hub: hub, credential: reader.credential), hold: holdThePageInFlight ? 3 : nil)
            var sync = Self.synchronizer(reader, link)
            let pages = Mutex(0)
            let askedAhead = Mutex(false)
            sync.beforeApplying = { _ in
                guard pages.withLock({ $0 += 1; return $0 }) == 2 else { return }
                let ahead = await link.wait { holdThePageInFlight ? $0.asked.count == 3 : $0.answered.count == 3 }
                askedAhead.withLock { $0 = ahead }
                throw ApplyFailed()
            }
            let started = ContinuousClock.now
            await #expect(throws: ApplyFailed.self) { try await sync.run() }
            #expect(ContinuousClock.now - started < .seconds(15), "the sync does not wait for the page in flight")
            #expect(askedAhead.withLock { $0 }, "page 3 was asked for while page 2 was applied")
            let seen = link.snapshot
            #expect(seen.cancelled == (holdThePageInFlight ? [3] : []))
            let held = try Self.held(reader.store, of: written)
            let checkpoint = try Self.checkpoint(reader.store)
            let versions = try reader.store.status().versions
            #expect(held == Set(written[0..<3].map(\.dot)))
            // Request 2 carried the checkpoint page 1's answer gave.
            #expect(checkpoint != nil && checkpoint == seen.checkpoint(ofRequest: 2))
            #expect(versions == 3)
        }
    }

    /// Replays: the sync is cancelled while page 2 is applied, with page 3 asked for (held at the
    /// link, or already answered). Page 3 is never applied and its request is cancelled.
    @Test("a cancelled sync applies nothing of the page in flight", arguments: [true, false])
    func cancelledSyncDropsThePageInFlight(holdThePageInFlight: Bool) async throws {
        try await Self.withPages(8) { hub, reader, written in
            let link = AheadLink(FaultLink(hub: hub, credential: reader.credential), hold: holdThePageInFlight ? 3 : nil)
            var sync = Self.synchronizer(reader, link)
            let pages = Mutex(0)
            let askedAhead = Mutex(false)
            sync.beforeApplying = { _ in
                guard pages.withLock({ $0 += 1; return $0 }) == 2 else { return }
                let ahead = await link.wait { holdThePageInFlight ? $0.asked.count == 3 : $0.answered.count == 3 }
                askedAhead.withLock { $0 = ahead }
                withUnsafeCurrentTask { $0?.cancel() }
            }
            let started = ContinuousClock.now
            let configured = sync
            let outcome = await Task { try await configured.run() }.result
            #expect(ContinuousClock.now - started < .seconds(15), "the sync does not wait for the page in flight")
            #expect(throws: (any Error).self) { try outcome.get() }
            #expect(askedAhead.withLock { $0 }, "page 3 was asked for while page 2 was applied")
            let seen = link.snapshot
            #expect(seen.cancelled == (holdThePageInFlight ? [3] : []))
            // Page 2 may or may not be committed (the cancellation came during its apply); page 3 never is.
            let held = try Self.held(reader.store, of: written)
            let checkpoint = try Self.checkpoint(reader.store)
            if held.count == 6 {
                #expect(held == Set(written[0..<6].map(\.dot)))
                #expect(checkpoint != nil && checkpoint == seen.checkpoint(ofRequest: 3))
            } else {
                #expect(held == Set(written[0..<3].map(\.dot)))
                #expect(checkpoint != nil && checkpoint == seen.checkpoint(ofRequest: 2))
            }
        }
    }

    /// Replays: page 1 holds a version that fails verification. Page 2 was asked for while page 1
    /// was checked, but the round after page 1 must report the failure: the page in flight is
    /// dropped (its request cancelled at the link), page 2 is asked for again with the report, and
    /// the hub hears of the failure once.
    @Test("a page asked ahead is dropped when the round after the apply must ask something else")
    func dropsThePageInFlightForAReport() async throws {
        try await TrustTests.withForgeryAtHub { hub, forged, reader in
            let link = AheadLink(InProcessTransport(hub: hub), hold: 2)
            let started = ContinuousClock.now
            let summary = try await Synchronizer(
                store: reader, transport: link, peer: "hub",
                configuration: .init(pageLimits: PageLimits(versions: 1), retry: .never), logger: silentLogger
            ).run()
            #expect(ContinuousClock.now - started < .seconds(15), "the sync does not wait for the page it drops")
            let seen = link.snapshot
            #expect(seen.cancelled == [2])
            #expect(seen.asked.count >= 3 && seen.checkpoint(ofRequest: 3) == seen.checkpoint(ofRequest: 2), "page 2 is asked for again")
            #expect(summary.versionsPulled == 2 && summary.unverified == 1)
            #expect(try reader.unreportedVerificationFailures(limit: 10).isEmpty)
            let hubStore = try #require((hub.storage as? SQLiteHubStorage)?.store)
            let reports = try hubStore.auditEntries(after: 0, limit: 100).filter { $0.action == .verificationFailed }
            #expect(reports.map(\.subject) == [forged.dot.description])
            #expect(try reader.history(of: forged.key).isEmpty)
        }
    }

    /// Replays: a version written here while page 1 was applied makes the round after it push, so
    /// the page asked ahead is dropped; the pull goes on asking ahead (a dropped page must not leave
    /// later pages asked ahead cancelled at birth, as a cancelled task group would).
    @Test("after a page in flight is dropped, later pages are still asked ahead and the pull ends whole")
    func asksAheadAfterADroppedPage() async throws {
        try await Self.withPages(8) { hub, reader, written in
            let link = AheadLink(FaultLink(hub: hub, credential: reader.credential), hold: 2)
            var sync = Self.synchronizer(reader, link)
            let pages = Mutex(0)
            let store = reader.store
            sync.beforeApplying = { _ in
                guard pages.withLock({ $0 += 1; return $0 }) == 1 else { return }
                _ = try ScopeTests.write(store, "written-meanwhile", in: "SD-DN")
            }
            let summary = try await sync.run()
            let seen = link.snapshot
            #expect(seen.cancelled == [2])
            // Page 1; page 2 asked ahead and dropped; page 2 again with the push; page 3 asked ahead and taken.
            #expect(seen.asked.count == 4 && seen.answered.count == 3)
            #expect(summary.versionsPulled == 8 && summary.versionsPushed == 1 && summary.roundTrips == 3)
            #expect(try Self.held(reader.store, of: written) == Set(written.map(\.dot)))
        }
    }

    @Test("a multi-page pull from a hub over HTTP converges to the same replica with and without pages asked ahead")
    func convergesAsBefore() async throws {
        try await TemporaryReplica.withFolder { folder in
            try await HubFixture.withHub { hub in
                let (first, second) = (try folder.create("first"), try folder.create("second"))
                let writers = [(first, try await hub.enroll(first)), (second, try await hub.enroll(second))]
                func sync(_ store: ReplicaStore, _ token: String, prefetch: Bool = true) async throws -> SyncSummary {
                    var configuration = Synchronizer.Configuration(
                        pageLimits: PageLimits(versions: 4, bytes: 1 << 20), pushVersions: 7, retry: .never)
                    configuration.prefetchPages = prefetch
                    return try await Synchronizer(
                        store: store, transport: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 30)),
                        peer: hub.url.absoluteString, configuration: configuration, logger: silentLogger
                    ).run()
                }
                // Documents, edits, concurrent edits (conflicts) and deletes from two writers.
                var keys: Set<DocumentKey> = []
                for index in 0..<30 { keys.insert(try ScopeTests.write(first, "d\(index)", in: "SD-DN").key) }
                _ = try await sync(first, writers[0].1)
                _ = try await sync(second, writers[1].1)
                for index in 0..<10 { _ = try ScopeTests.write(second, "d\(index)", in: "SD-DN", text: "second's edit") }
                for index in 5..<15 { _ = try ScopeTests.write(first, "d\(index)", in: "SD-DN", text: "first's edit") }
                for index in 30..<36 { keys.insert(try ScopeTests.write(second, "d\(index)", in: "SD-DN").key) }
                let deleted = try #require(keys.first { $0.id == DocumentID("d20") })
                _ = try first.write(WriteIntent(key: deleted, body: nil))
                _ = try await sync(first, writers[0].1)
                _ = try await sync(second, writers[1].1)

                let ahead = try folder.create("ahead")
                let serial = try folder.create("serial")
                let pipelined = try await sync(ahead, try await hub.enroll(ahead))
                let oneByOne = try await sync(serial, try await hub.enroll(serial), prefetch: false)
                #expect(pipelined.versionsPulled == oneByOne.versionsPulled)
                #expect(pipelined.roundTrips == oneByOne.roundTrips && pipelined.roundTrips > 10)
                #expect(pipelined.unverified == 0 && oneByOne.unverified == 0)
                #expect(try ahead.status().versions == hub.store.status().versions)
                #expect(try serial.status().versions == hub.store.status().versions)
                var conflicts = 0
                for key in keys {
                    let expected = try hub.store.document(key)
                    for replica in [ahead, serial] {
                        let actual = try replica.document(key)
                        #expect(actual?.state == expected?.state, "\(key)")
                        #expect(actual?.siblings == expected?.siblings, "\(key)")
                    }
                    if (expected?.siblings.count ?? 0) > 1 { conflicts += 1 }
                }
                #expect(conflicts == 5, "d5 to d9 were edited on both sides")
                #expect(try Self.checkpoint(ahead, hub: hub) == Self.checkpoint(serial, hub: hub))
                #expect(try ahead.integrityProblems().isEmpty)
            }
        }
    }

    static func checkpoint(_ store: ReplicaStore, hub: HubFixture) throws -> String? {
        try store.exchangeBase(peer: store.peerName(forHubAt: hub.url.absoluteString)).peer.checkpoint
    }
}
