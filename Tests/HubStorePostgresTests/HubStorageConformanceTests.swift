import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The hub storage's contract (``HubStorage``: take, page, versions, counts), written once over
/// `any HubStorage` and run on every backend in ``StorageBackend/enabled``.
@Suite(.serialized)
struct HubStorageConformanceTests {
    private static let fieldScope = Scope(text: "observations/SD-DN") ?? .nothing

    // MARK: Taking pushes

    @Test(arguments: StorageBackend.enabled)
    func aPushIsStoredAndPagedBackInOrder(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let pushed = try PushFixtures.versions(device, 1...5)
            let report = try await hub.push(pushed)
            #expect(report.applied.stored == 5)
            #expect(report.applied.refused.isEmpty && report.applied.forks.isEmpty && report.applied.setAside.isEmpty)
            #expect(report.heldAside.isEmpty)
            // Pages of 3: the first says more wait, the second ends the feed.
            let paged = try await hub.pageAll(limit: 3)
            #expect(paged == pushed)
            // Its own pushes are not sent back to the pusher; another reader gets them.
            let own = FeedFilter(readScope: .everything, reader: device, readerCounter: 5)
            #expect(try await hub.pageAll(own).isEmpty)
            let other = FeedFilter(readScope: .everything, reader: ReplicaID.random())
            #expect(try await hub.pageAll(other).map(\.dot) == pushed.map(\.dot))
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func theSamePushAgainIsAlreadyHeld(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let pushed = try PushFixtures.versions(ReplicaID.random(), 1...3)
            _ = try await hub.push(pushed)
            let again = try await hub.push(pushed)
            #expect(again.applied.stored == 0)
            #expect(again.applied.alreadyHeld == 3)
            #expect(again.applied.refused.isEmpty && again.applied.forks.isEmpty)
            #expect(again.heldAside.isEmpty)
            #expect(try await hub.pageAll().map(\.dot) == pushed.map(\.dot))
            // A dot twice in one push: stored once, then held.
            let twice = try PushFixtures.version(ReplicaID.random(), 1)
            let report = try await hub.push([twice, twice])
            #expect(report.applied.stored == 1)
            #expect(report.applied.alreadyHeld == 1)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aForkIsReportedAndTheOriginsLaterVersionsRefused(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let first = try PushFixtures.versions(device, 1...2)
            _ = try await hub.push(first)
            // A copy of the device wrote its own 2 and 3: the hub holds another 2.
            let copy = try PushFixtures.versions(device, 1...3).enumerated().map { index, version in
                index == 0 ? first[0] : version
            }
            let report = try await hub.push(copy)
            #expect(report.applied.alreadyHeld == 1)
            #expect(report.applied.forks == [copy[1].dot])
            #expect(report.applied.refused == [copy[2].dot])
            #expect(report.applied.stored == 0)
            let held = try await hub.storage.versions(at: [copy[1].dot, copy[2].dot])
            #expect(held.map(\.signature) == [first[1].signature])
            #expect(try await hub.pageAll().map(\.signature) == first.map(\.signature))
            #expect(try await hub.knowledge(of: [device])[device] == 2)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aGapIsRefusedByThePolicy(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let policy = AdmissionPolicy(writeScopes: [device: Self.fieldScope])
            _ = try await hub.push([try PushFixtures.version(device, 1)], policy: policy)
            let gap = [try PushFixtures.version(device, 3), try PushFixtures.version(device, 4)]
            let report = try await hub.push(gap, policy: policy)
            #expect(report.applied.refused == gap.map(\.dot))
            #expect(report.applied.stored == 0)
            #expect(report.applied.implausible.isEmpty)
            #expect(try await hub.storage.versions(at: gap.map(\.dot)).isEmpty)
            #expect(try await hub.knowledge(of: [device])[device] == 1)
            // What fills the gap comes in with what follows, in one push.
            let filled = try await hub.push(try PushFixtures.versions(device, 2...4), policy: policy)
            #expect(filled.applied.stored == 3)
            #expect(try await hub.knowledge(of: [device])[device] == 4)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func anImplausibleContextIsRefusedAndKeptApart(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let unknown = ReplicaID.random()
            var claims = VersionVector()
            claims[unknown] = 5
            let plausible = try PushFixtures.version(device, 1)
            let implausible = try PushFixtures.version(device, 2, context: claims)
            let report = try await hub.push([plausible, implausible])
            #expect(report.applied.stored == 1)
            #expect(report.applied.refused == [implausible.dot])
            #expect(report.applied.implausible[implausible.dot]?.code == .implausibleContext)
            #expect(report.applied.implausible[plausible.dot] == nil)
            #expect(try await hub.storage.versions(at: [implausible.dot]).isEmpty)
            #expect(try await hub.pageAll().map(\.dot) == [plausible.dot])
            #expect(try await hub.foreignQuarantineCount() == 1)
            #expect(try await hub.knowledge(of: [device])[device] == 1)
            // A context that claims only what arrives in the same push is plausible.
            let named = try PushFixtures.version(unknown, 1)
            var covered = VersionVector()
            covered[unknown] = 1
            let report2 = try await hub.push(
                [named, try PushFixtures.version(device, 2, context: covered)], by: device)
            #expect(report2.applied.stored == 2)
            #expect(report2.applied.implausible.isEmpty)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aPolicySetAsideStaysOutOfPagesAndIsToldAgain(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let policy = AdmissionPolicy(writeScopes: [device: Self.fieldScope])
            let outside = try PushFixtures.version(device, 1, partition: "SD-KH")
            let inside = try PushFixtures.version(device, 2)
            let report = try await hub.push([outside, inside], policy: policy)
            #expect(report.applied.stored == 2)
            #expect(report.applied.setAside.keys.sorted() == [outside.dot])
            #expect(report.applied.setAside[outside.dot]?.code == .outOfScope)
            #expect(try await hub.pageAll().map(\.dot) == [inside.dot])
            // Held (set aside), so the next counter is no gap.
            #expect(try await hub.knowledge(of: [device])[device] == 2)
            #expect(try await hub.storage.versions(at: [outside.dot]).map(\.signature) == [outside.signature])
            // The answer was lost: the device pushes both again and is told again.
            let again = try await hub.push([outside, inside], policy: policy)
            #expect(again.applied.stored == 0)
            #expect(again.applied.alreadyHeld == 2)
            #expect(again.heldAside.keys.sorted() == [outside.dot])
            #expect(again.heldAside[outside.dot]?.code == .outOfScope)
            #expect(again.heldAside[outside.dot] == report.applied.setAside[outside.dot])
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aBadSignatureFromThePolicyIsSetAside(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let version = try PushFixtures.version(device, 1)
            let reason = SetAsideReason(.badSignature, "its signature does not verify")
            let report = try await hub.push([version], policy: AdmissionPolicy(badSignatures: [version.dot: reason]))
            #expect(report.applied.setAside == [version.dot: reason])
            #expect(try await hub.pageAll().isEmpty)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aForgedVersionIsKeptApartAndNotAtItsDot(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let pusher = ReplicaID.random()
            let victim = ReplicaID.random()
            let forged = try PushFixtures.version(victim, 1)
            let reason = SetAsideReason(.badSignature, "its signature does not verify against its origin's key")
            let own = try PushFixtures.version(pusher, 1)
            let report = try await hub.push([own], by: pusher, forged: [(forged, reason)])
            #expect(report.applied.stored == 1)
            #expect(try await hub.storage.versions(at: [forged.dot]).isEmpty)
            #expect(try await hub.pageAll().map(\.dot) == [own.dot])
            #expect(try await hub.foreignQuarantineCount() == 1)
            #expect(try await hub.knowledge(of: [victim])[victim] == 0)
            // Pushed again: still one row kept apart; the victim's own version 1 is then stored.
            _ = try await hub.push([own], by: pusher, forged: [(forged, reason)])
            #expect(try await hub.foreignQuarantineCount() == 1)
            let genuine = try PushFixtures.version(victim, 1)
            #expect(try await hub.push([genuine]).applied.stored == 1)
            #expect(try await hub.storage.versions(at: [forged.dot]).map(\.signature) == [genuine.signature])
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aVersionMovingItsDocumentToAnotherPartitionIsSetAside(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let first = try PushFixtures.version(device, 1, document: "well-7")
            var context = VersionVector()
            context[device] = 1
            let moved = try PushFixtures.version(device, 2, document: "well-7", partition: "SD-KH", context: context)
            let report = try await hub.push([first, moved])
            #expect(report.applied.stored == 2)
            #expect(report.applied.setAside.keys.sorted() == [moved.dot])
            #expect(report.applied.setAside[moved.dot]?.code == .partitionMove)
            #expect(try await hub.pageAll().map(\.dot) == [first.dot])
            // In another push too: the partition is the one the hub holds the document in.
            var later = VersionVector()
            later[device] = 2
            let movedAgain = try PushFixtures.version(device, 3, document: "well-7", partition: "SD-KH", context: later)
            #expect(try await hub.push([movedAgain]).applied.setAside[movedAgain.dot]?.code == .partitionMove)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func knowledgeRisesWithAPush(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let (one, two, absent) = (ReplicaID.random(), ReplicaID.random(), ReplicaID.random())
            _ = try await hub.push(try PushFixtures.versions(one, 1...4))
            _ = try await hub.push(try PushFixtures.versions(two, 1...2))
            let knowledge = try await hub.knowledge(of: [one, two, absent])
            #expect(knowledge[one] == 4)
            #expect(knowledge[two] == 2)
            #expect(knowledge[absent] == 0)
            _ = try await hub.push(try PushFixtures.versions(two, 3...6))
            #expect(try await hub.knowledge(of: [two])[two] == 6)
        }
    }

    // MARK: Reading

    @Test(arguments: StorageBackend.enabled)
    func versionsAtDotsAreThoseHeld(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let pushed = try PushFixtures.versions(device, 1...3)
            _ = try await hub.push(pushed)
            let asked = [
                pushed[2].dot, Dot(replica: device, counter: 9), pushed[0].dot, Dot(replica: .random(), counter: 1),
            ]
            let found = try await hub.storage.versions(at: asked)
            #expect(found == [pushed[2], pushed[0]])
            #expect(try await hub.storage.versions(at: []).isEmpty)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func versionsMatchingReissueProbes(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let (old, other) = (ReplicaID.random(), ReplicaID.random())
            let earlier = try PushFixtures.version(old, 1, document: "tent-4", wall: 1_700_000_123_000)
            let unrelated = try PushFixtures.version(other, 1, document: "tent-4", wall: 1_700_000_123_000)
            _ = try await hub.push([earlier])
            _ = try await hub.push([unrelated])
            let probe = ReissueProbe(earlier)
            #expect(try await hub.storage.versions(from: [old], matching: [probe]) == [earlier])
            #expect(try await hub.storage.versions(from: [old, other], matching: [probe]).count == 2)
            let elsewhen = ReissueProbe(
                collection: earlier.collection, id: earlier.documentID,
                timestamp: HybridTimestamp(wallMilliseconds: 1_700_000_999_000))
            #expect(try await hub.storage.versions(from: [old], matching: [elsewhen]).isEmpty)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aPageEndsThroughItsBoundAndAfterScanningItsMaximum(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let (reader, writer) = (ReplicaID.random(), ReplicaID.random())
            _ = try await hub.push(try PushFixtures.versions(reader, 1...4))
            let others = try PushFixtures.versions(writer, 1...3)
            _ = try await hub.push(others)
            let everything = try await hub.storage.page(
                PageQuery(after: .start, limit: 100, maxBytes: 1 << 20, knowledgeOf: [], filter: .everything))
            #expect(everything.versions.count == 7)
            let ends = try await hub.pageAll(limit: 1)
            #expect(ends.count == 7)
            // Through the position of the reader's last version: nothing of the writer's.
            let positions = try await positions(hub)
            let bounded = try await hub.storage.page(
                PageQuery(
                    after: .start, through: positions[3], limit: 100, maxBytes: 1 << 20, knowledgeOf: [],
                    filter: .everything))
            #expect(bounded.versions.count == 4)
            #expect(!bounded.hasMore)
            #expect(bounded.end == positions[3])
            // The reader's own four are passed over; scanning at most three ends the page there.
            let own = FeedFilter(readScope: .everything, reader: reader, readerCounter: 4)
            let scanned = try await hub.storage.page(
                PageQuery(after: .start, limit: 100, maxBytes: 1 << 20, maxScanned: 3, knowledgeOf: [], filter: own))
            #expect(scanned.versions.isEmpty)
            #expect(scanned.hasMore)
            #expect(scanned.end == positions[2])
            let next = try await hub.storage.page(
                PageQuery(after: scanned.end, limit: 100, maxBytes: 1 << 20, knowledgeOf: [], filter: own))
            #expect(next.versions.map(\.dot) == others.map(\.dot))
            #expect(!next.hasMore)
            // A bound this hub never gave out restarts the page.
            let stranger = FeedPosition(sequence: 2, dot: Dot(replica: .random(), counter: 1), tag: nil)
            let restarted = try await hub.storage.page(
                PageQuery(
                    after: positions[0], through: stranger, limit: 100, maxBytes: 1 << 20, knowledgeOf: [],
                    filter: .everything))
            #expect(restarted.restarted)
            #expect(restarted.versions.count == 7)
        }
    }

    /// Every position of the feed, by pages of one.
    private func positions(_ hub: StorageUnderTest) async throws -> [FeedPosition] {
        var positions: [FeedPosition] = []
        var position = FeedPosition.start
        for _ in 0..<100 {
            let page = try await hub.storage.page(
                PageQuery(after: position, limit: 1, maxBytes: 1 << 20, knowledgeOf: [], filter: .everything))
            guard !page.versions.isEmpty else { break }
            positions.append(page.end)
            position = page.end
        }
        return positions
    }

    @Test(arguments: StorageBackend.enabled)
    func countsTellTheFeedAndWhatIsHeldApart(_ backend: StorageBackend) async throws {
        try await StorageUnderTest.with(backend) { hub in
            let device = ReplicaID.random()
            let policy = AdmissionPolicy(writeScopes: [device: Self.fieldScope])
            _ = try await hub.push(
                [try PushFixtures.version(device, 1), try PushFixtures.version(device, 2, partition: "SD-KH")],
                policy: policy,
                forged: [(try PushFixtures.version(.random(), 1), SetAsideReason(.badSignature, "forged"))])
            let counts = try #require(try await hub.storage.counts())
            #expect(counts.feedPosition >= 2)
            #expect(counts.quarantined == 2)
            #expect(counts.activeDevices == 0)
        }
    }
}
