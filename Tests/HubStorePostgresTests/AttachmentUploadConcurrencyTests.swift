import Foundation
import HubStore
@testable import HubStorePostgres
import PostgresNIO
import SyncEngine
import Testing

/// Two hub processes (attachment storages with connection pools of their own) take uploads of one
/// file and offers of one device at once. Each transaction pauses a random moment before it
/// commits, so they interleave. With the storage's locks: no chunk is lost, the file completes
/// exactly once, and the device's quota is spent once per file and never passed. The negative
/// controls take them without the locks and show the proofs can fail.
@Suite(.enabled(if: PostgresTestDatabase.isEnabled, PostgresTestDatabase.disabledReason), .serialized)
struct AttachmentUploadConcurrencyTests {
    struct ChunkFigures: CustomStringConvertible {
        var completes = 0
        /// The `missing` counts the chunks were answered with, sorted.
        var stillMissing: [Int] = []
        var heldWhole = false
        var lackedAfterwards: [Int] = []

        var description: String {
            "\(completes) complete, missing answered \(stillMissing), held whole \(heldWhole), lacked afterwards \(lackedAfterwards)"
        }
    }

    static let chunkCount = 8

    @Test func twoHubProcessesTakeTheChunksOfOneFile() async throws {
        let figures = try await takeChunks(locking: .serialized, maxPauseMilliseconds: 3)
        print("attachment chunks, two hub processes (serialized): \(figures)")
        // Each chunk was counted after the ones committed before it: the answers count down.
        #expect(figures.completes == 1)
        #expect(figures.stillMissing == Array(1..<Self.chunkCount))
        #expect(figures.heldWhole)
        #expect(figures.lackedAfterwards.isEmpty)
    }

    @Test func withoutTheManifestsLockTheFileIsNeverCompleted() async throws {
        var attempts: [ChunkFigures] = []
        for _ in 0..<3 {
            let figures = try await takeChunks(locking: .none, maxPauseMilliseconds: 8)
            print("attachment chunks, two hub processes (no lock, negative control): \(figures)")
            attempts.append(figures)
            if !figures.heldWhole { break }
        }
        // Every chunk is there, yet no upload saw the others': the file is never held whole.
        #expect(attempts.contains { !$0.heldWhole && $0.completes == 0 && $0.lackedAfterwards.isEmpty }, "\(attempts)")
    }

    struct OfferFigures: CustomStringConvertible {
        var accepted = 0
        var overQuota = 0
        var uploadedBytes = 0
        var repeatedCountedBytes = 0

        var description: String {
            "\(accepted) accepted, \(overQuota) over quota, \(uploadedBytes) bytes counted; one file offered 8 times: \(repeatedCountedBytes) bytes"
        }
    }

    static let files = 12
    static let fileSize = 100
    static let quota = 500

    @Test func twoHubProcessesTakeOneDevicesOffersWithinItsQuota() async throws {
        let figures = try await takeOffers(locking: .serialized, maxPauseMilliseconds: 3)
        print("attachment offers, two hub processes (serialized): \(figures)")
        #expect(figures.accepted == Self.quota / Self.fileSize)
        #expect(figures.overQuota == Self.files - Self.quota / Self.fileSize)
        #expect(figures.uploadedBytes == Self.quota)
        #expect(figures.repeatedCountedBytes == Self.fileSize)
    }

    @Test func withoutTheDevicesLockOffersPassItsQuota() async throws {
        var attempts: [OfferFigures] = []
        for _ in 0..<3 {
            let figures = try await takeOffers(locking: .none, maxPauseMilliseconds: 8)
            print("attachment offers, two hub processes (no lock, negative control): \(figures)")
            attempts.append(figures)
            if figures.uploadedBytes > Self.quota { break }
        }
        #expect(attempts.contains { $0.uploadedBytes > Self.quota }, "\(attempts)")
    }

    // MARK: The proofs

    /// Two storages over one schema, each with a pool of its own; every transaction pauses up to
    /// `maxPauseMilliseconds` before it commits.
    private func withTwoProcesses<Result>(
        locking: PostgresAttachmentStorage.Locking, maxPauseMilliseconds: Int,
        _ body: ([PostgresAttachmentStorage]) async throws -> Result
    ) async throws -> Result {
        try await PostgresTestDatabase.withClients(2) { clients, schema in
            let (hubID, hubKey) = (ReplicaID.random(), DeviceKey())
            let pause: @Sendable () async throws -> Void = {
                try await Task.sleep(for: .microseconds(Int.random(in: 0...(maxPauseMilliseconds * 1_000))))
            }
            let storages = try clients.map { client in
                PostgresAttachmentStorage(
                    tables: try PostgresDeviceTables(
                        client: client, schema: schema, hubID: hubID, hubKey: hubKey, logger: PostgresTestDatabase.quiet
                    ),
                    locking: locking, beforeCommit: pause)
            }
            return try await body(storages)
        }
    }

    /// One file of ``chunkCount`` chunks offered once, then every chunk uploaded at once, the even
    /// ones through one hub process and the odd ones through the other.
    private func takeChunks(locking: PostgresAttachmentStorage.Locking, maxPauseMilliseconds: Int) async throws
        -> ChunkFigures
    {
        let file = AttachmentFile(size: (Self.chunkCount - 1) * AttachmentManifest.chunkSize + 4_000)
        try #require(file.chunks.count == Self.chunkCount)
        return try await withTwoProcesses(locking: locking, maxPauseMilliseconds: maxPauseMilliseconds) { storages in
            let offered = try await storages[0].offer(file.manifest, by: ReplicaID.random(), quota: 0)
            #expect(offered == .missing(Array(0..<Self.chunkCount)))
            let outcomes = try await withThrowingTaskGroup(of: ChunkOutcome.self) { group in
                for index in file.chunks.indices {
                    let storage = storages[index % 2]
                    group.addTask { try await storage.receive(file.chunks[index], index: index, of: file.sha256) }
                }
                var outcomes: [ChunkOutcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            var figures = ChunkFigures()
            for outcome in outcomes {
                switch outcome {
                case .complete: figures.completes += 1
                case .stored(let missing): figures.stillMissing.append(missing)
                default: Issue.record("a chunk was answered \(outcome)")
                }
            }
            figures.stillMissing.sort()
            figures.heldWhole = try await storages[1].manifest(of: file.sha256)?.complete == true
            if case .missing(let lacked) = try await storages[1].offer(file.manifest, by: ReplicaID.random(), quota: 0)
            {
                figures.lackedAfterwards = lacked
            }
            return figures
        }
    }

    /// One device offers ``files`` files of ``fileSize`` bytes at once, half through each hub
    /// process, within a quota of ``quota``; then a file of its own eight times at once.
    private func takeOffers(locking: PostgresAttachmentStorage.Locking, maxPauseMilliseconds: Int) async throws
        -> OfferFigures
    {
        let files = (0..<Self.files).map { _ in AttachmentFile(size: Self.fileSize) }
        let (device, other) = (ReplicaID.random(), ReplicaID.random())
        return try await withTwoProcesses(locking: locking, maxPauseMilliseconds: maxPauseMilliseconds) { storages in
            var figures = OfferFigures()
            let outcomes = try await withThrowingTaskGroup(of: AttachmentOfferOutcome.self) { group in
                for (index, file) in files.enumerated() {
                    let storage = storages[index % 2]
                    group.addTask { try await storage.offer(file.manifest, by: device, quota: Self.quota) }
                }
                var outcomes: [AttachmentOfferOutcome] = []
                for try await outcome in group { outcomes.append(outcome) }
                return outcomes
            }
            for outcome in outcomes {
                if case .overQuota = outcome { figures.overQuota += 1 } else { figures.accepted += 1 }
            }
            figures.uploadedBytes = try await storages[0].uploadedBytes(by: device)
            let repeated = files[0]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<8 {
                    let storage = storages[index % 2]
                    group.addTask {
                        let outcome = try await storage.offer(repeated.manifest, by: other, quota: Self.quota)
                        #expect(outcome == .missing([0]))
                    }
                }
                try await group.waitForAll()
            }
            figures.repeatedCountedBytes = try await storages[1].uploadedBytes(by: other)
            return figures
        }
    }
}
