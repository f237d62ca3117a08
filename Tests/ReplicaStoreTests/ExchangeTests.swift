import Foundation
import ReplicaStore
import SyncEngine
import Testing
import TestSupport

@Suite("Versions to send")
struct ExchangeTests {
    /// Two origins with 5 and 3 versions, all held by `hub`.
    static func twoOrigins(_ stores: [ReplicaStore]) throws -> (hub: ReplicaStore, first: [Version], second: [Version])
    {
        let first = try (1...5).map {
            try stores[0].write(StoreFixtures.put("a\($0)", String(repeating: "x", count: 100)))
        }
        let second = try (1...3).map { try stores[1].write(StoreFixtures.put("b\($0)", "y")) }
        // Delivered interleaved and out of order: the answer is ordered anyway.
        try stores[2].apply(
            [second[2], first[4], first[0], second[0], first[2], first[1], second[1], first[3]], from: nil)
        return (stores[2], first, second)
    }

    @Test func missingVersionsAreOrderedByOriginThenCounter() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (hub, first, second) = try Self.twoOrigins(stores)
            let all = try hub.versions(missingFrom: VersionVector(), limit: 100, maxBytes: .max)
            let origins = [stores[0].replicaID, stores[1].replicaID].sorted()
            let expected = origins.flatMap { $0 == stores[0].replicaID ? first : second }
            #expect(all.versions == expected)
            #expect(!all.hasMore)

            let partial = try hub.versions(
                missingFrom: [stores[0].replicaID: 3, stores[1].replicaID: 3], limit: 100, maxBytes: .max)
            #expect(partial.versions == Array(first[3...]))
            #expect(try hub.versions(missingFrom: try hub.knowledge(), limit: 100, maxBytes: .max).versions.isEmpty)
        }
    }

    @Test func missingVersionsAreBoundedByCountAndBytes() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (hub, _, _) = try Self.twoOrigins(stores)
            let everything = try hub.versions(missingFrom: VersionVector(), limit: 100, maxBytes: .max).versions

            var received: [Version] = []
            var knowledge = VersionVector()
            var pages = 0
            repeat {
                let page = try hub.versions(missingFrom: knowledge, limit: 3, maxBytes: .max)
                #expect(page.versions.count <= 3)
                received += page.versions
                for version in page.versions { knowledge.add(version.dot) }
                pages += 1
                if !page.hasMore { break }
            } while pages < 10
            #expect(received == everything, "paging by count loses and repeats nothing")
            #expect(pages == 3)

            let small = try hub.versions(missingFrom: VersionVector(), limit: 100, maxBytes: 1)
            #expect(small.versions.count == 1, "at least one version even when it exceeds the byte bound")
            #expect(small.hasMore)
            let bytes = everything.prefix(2).reduce(0) { $0 + ($1.body?.count ?? 0) + 200 }
            let bounded = try hub.versions(missingFrom: VersionVector(), limit: 100, maxBytes: bytes)
            #expect(bounded.versions == Array(everything.prefix(2)))
            #expect(bounded.hasMore)
        }
    }

    @Test func theFeedFollowsArrivalOrderWithFilterAndPosition() async throws {
        try await TemporaryReplica.withReplicas(3) { stores in
            let (hub, first, second) = try Self.twoOrigins(stores)
            let own = try hub.write(StoreFixtures.put("h", "hub"))
            let arrival = [second[2], first[4], first[0], second[0], first[2], first[1], second[1], first[3], own]

            let all = try hub.feedPage(after: .start, limit: 100, maxBytes: .max)
            #expect(all.versions == arrival)
            #expect(!all.hasMore && !all.restarted)

            var collected: [Version] = []
            var position = FeedPosition.start
            for _ in 0..<10 {
                let page = try hub.feedPage(after: position, limit: 4, maxBytes: .max)
                collected += page.versions
                #expect(page.end.sequence > position.sequence || page.versions.isEmpty)
                position = page.end
                if !page.hasMore { break }
            }
            #expect(collected == arrival)
            #expect(try hub.feedPage(after: position, limit: 4, maxBytes: .max).versions.isEmpty)

            let secondOrigin = stores[1].replicaID
            let filtered = try hub.feedPage(after: .start, limit: 2, maxBytes: .max) { version, _ in
                version.dot.replica == secondOrigin
            }
            #expect(filtered.versions == [second[2], second[0]])
            #expect(filtered.hasMore)
            let rest = try hub.feedPage(after: filtered.end, limit: 10, maxBytes: .max) { version, _ in
                version.dot.replica == secondOrigin
            }
            #expect(rest.versions == [second[1]])
            #expect(!rest.hasMore)
            let ownSequence = try #require(try hub.history(of: own.key).first?.sequence)
            #expect(rest.end.sequence == ownSequence, "versions filtered out are scanned past")

            let notOwn = try hub.feedPage(after: .start, limit: 100, maxBytes: .max) { _, receivedFrom in
                receivedFrom != nil
            }
            #expect(notOwn.versions.isEmpty, "versions applied without a peer count as local")
            let local = try hub.feedPage(after: .start, limit: 100, maxBytes: .max) { version, receivedFrom in
                receivedFrom == nil && version.dot.replica == hub.replicaID
            }
            #expect(local.versions == [own])

            let foreign = FeedPosition(sequence: ownSequence, dot: first[0].dot)
            #expect(try hub.feedPage(after: foreign, limit: 100, maxBytes: .max).restarted)
        }
    }
}
