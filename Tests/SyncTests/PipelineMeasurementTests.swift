import Foundation
#if canImport(Glibc)
import Glibc
#endif
import ReplicaStore
@testable import SyncClient
import SyncEngine
import Synchronization
import Testing
import TestSupport

/// What pipelined pages gain (issue 14), measured in one run: an initial pull of
/// `VIGIL_PIPELINE_MEASURE` versions (e.g. 20000) from an in-process hub over loopback HTTP, with
/// and without the next page asked for while one is applied, three times each in alternating
/// order; prints the medians and their ratio. Skipped unless the variable is set: it is a
/// measurement, not a check, and takes about a minute in a debug build.
/// `VIGIL_PIPELINE_LATENCY_MS` adds that many milliseconds before each exchange (a slow link's
/// round trip; loopback has none).
@Suite("Pipeline measurement")
struct PipelineMeasurementTests {
    static let count = ProcessInfo.processInfo.environment["VIGIL_PIPELINE_MEASURE"].flatMap { Int($0) }
    static let latency = ProcessInfo.processInfo.environment["VIGIL_PIPELINE_LATENCY_MS"].flatMap { Int($0) } ?? 0

    /// A link that waits `latency` before each exchange.
    struct SlowLink: SyncTransport {
        let base: any SyncTransport
        let latency: Duration

        func exchange(_ request: SyncRequest) async throws -> TransportReply {
            try await Task.sleep(for: latency)
            return try await base.exchange(request)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// CPU time of this process (user and system), in seconds.
    static func cpuSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    @Test("an initial pull with and without pages asked ahead", .enabled(if: count != nil))
    func initialPull() async throws {
        let count = try #require(Self.count)
        try await TemporaryReplica.withFolder { folder in
            try await HubFixture.withHub { hub in
                let notes = try #require(CollectionName("notes"))
                var versions: [Version] = []
                for index in 0..<count {
                    let body = #"{"title":"report \#(index)","text":"\#(String(repeating: "observed movement near the crossing; ", count: 4))"}"#
                    versions.append(
                        try hub.deviceKey.sign(
                            Version(
                                dot: Dot(replica: hub.deviceID, counter: UInt64(index + 1)), collection: notes,
                                documentID: try #require(DocumentID("n\(index)")), partition: .default, context: VersionVector(),
                                body: Data(body.utf8), timestamp: HybridTimestamp(wallMilliseconds: 1_741_000_000_000 + UInt64(index)))))
                    if versions.count == 1_000 || index == count - 1 {
                        try hub.store.apply(versions, from: hub.deviceID)
                        versions = []
                    }
                }
                var seconds: [Bool: [Double]] = [true: [], false: []]
                var waits: [Bool: [Double]] = [true: [], false: []]
                for round in 0..<3 {
                    for prefetch in round.isMultiple(of: 2) ? [true, false] : [false, true] {
                        let replica = try folder.create("pull-\(round)-\(prefetch)")
                        let token = try await hub.enroll(replica)
                        var configuration = Synchronizer.Configuration(retry: .never)
                        configuration.prefetchPages = prefetch
                        var sync = Synchronizer(
                            store: replica,
                            transport: SlowLink(
                                base: HTTPSyncTransport(configuration: .init(hub: hub.url, token: token, timeoutSeconds: 60)),
                                latency: .milliseconds(Self.latency)),
                            peer: hub.url.absoluteString, configuration: configuration, logger: silentLogger)
                        // When each answer is in hand and when each page is committed: the time from a
                        // commit to the next answer in hand is what the client waits for the hub.
                        let marks = Mutex<(answered: [ContinuousClock.Instant], applied: [ContinuousClock.Instant])>(([], []))
                        sync.beforeApplying = { _ in marks.withLock { $0.answered.append(.now) } }
                        let cpuBefore = Self.cpuSeconds()
                        let started = ContinuousClock.now
                        let summary = try await sync.run { _ in marks.withLock { $0.applied.append(.now) } }
                        let elapsed = ContinuousClock.now - started
                        let cpu = Self.cpuSeconds() - cpuBefore
                        let waited = marks.withLock { marks in
                            zip(marks.answered.dropFirst(), marks.applied).reduce(0.0) { $0 + Self.seconds($1.0 - $1.1) }
                        }
                        waits[prefetch, default: []].append(waited)
                        #expect(summary.versionsPulled == count && summary.unverified == 0)
                        let taken = Self.seconds(elapsed)
                        seconds[prefetch, default: []].append(taken)
                        print("pipeline-measure round \(round + 1) prefetch=\(prefetch): \(String(format: "%.2f", taken)) s (waiting for pages after the first \(String(format: "%.2f", waited)) s), \(summary.roundTrips) round trips, \(String(format: "%.2f", cpu / taken)) cores busy (hub and client)")
                    }
                }
                func median(_ values: [Double]) -> Double { values.sorted()[values.count / 2] }
                let on = median(seconds[true] ?? [0])
                let off = median(seconds[false] ?? [0])
                print(
                    "pipeline-measure \(count) versions, \(Self.latency) ms added a round trip, median of 3: with pages asked ahead \(String(format: "%.2f", on)) s, one by one \(String(format: "%.2f", off)) s, ratio \(String(format: "%.2f", on / off)); waiting for pages \(String(format: "%.2f", median(waits[true] ?? [0]))) s and \(String(format: "%.2f", median(waits[false] ?? [0]))) s")
            }
        }
    }
}
