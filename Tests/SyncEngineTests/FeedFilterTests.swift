import Foundation
import SyncEngine
import Testing

/// The reader's filter of a hub's feed, as a value a storage backend evaluates (issue 12: the
/// read scope crosses the storage seam as data, not as a closure).
@Suite("Feed filter")
struct FeedFilterTests {
    let reader = Fixtures.replica(1)
    let writer = Fixtures.replica(2)

    func filter(
        read: String = "*", alreadyRead: String? = nil, counter: UInt64 = 3, resendsOwn: Bool = false
    ) throws -> FeedFilter {
        FeedFilter(
            readScope: try #require(Scope(text: read)), alreadyRead: try alreadyRead.map { try #require(Scope(text: $0)) },
            reader: reader, readerCounter: counter, resendsOwn: resendsOwn)
    }

    @Test func theReaderNeverGetsBackWhatItPushedNorItsOwnVersionsItHolds() throws {
        let filter = try filter()
        #expect(filter.includes(Fixtures.version(writer, 1), receivedFrom: writer))
        #expect(filter.includes(Fixtures.version(writer, 1), receivedFrom: nil))
        #expect(!filter.includes(Fixtures.version(writer, 1), receivedFrom: reader), "relayed by the reader")
        #expect(!filter.includes(Fixtures.version(reader, 3), receivedFrom: reader))
        #expect(filter.includes(Fixtures.version(reader, 4), receivedFrom: reader), "above its counter: it lost it")
    }

    @Test func scopesDecideBeforeAnythingElse() throws {
        #expect(!(try filter(read: "situations/*").includes(Fixtures.version(writer, 1), receivedFrom: writer)))
        #expect(try filter(read: "observations/region-*").includes(Fixtures.version(writer, 1), receivedFrom: writer))
        let backfill = try filter(read: "*", alreadyRead: "observations/*")
        #expect(!backfill.includes(Fixtures.version(writer, 1), receivedFrom: writer), "read before under earlier grants")
        #expect(!(try filter(read: "situations/*", resendsOwn: true).includes(Fixtures.version(reader, 1), receivedFrom: reader)))
    }

    @Test func aPullThatStartsOverSendsTheReadersOwnToo() throws {
        let filter = try filter(resendsOwn: true)
        #expect(filter.includes(Fixtures.version(reader, 1), receivedFrom: reader))
        #expect(filter.includes(Fixtures.version(writer, 1), receivedFrom: reader))
        #expect(FeedFilter.everything.includes(Fixtures.version(reader, 1), receivedFrom: reader))
    }
}
