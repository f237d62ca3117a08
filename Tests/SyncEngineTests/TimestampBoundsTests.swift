import Foundation
import SyncEngine
import Testing

/// A hybrid timestamp's wall time must fit the signed 64-bit integer replicas store it in (issue 10
/// §4): a larger one was clamped on storage, which broke the version's signature for every reader.
@Suite("Timestamp bounds")
struct TimestampBoundsTests {
    static func decode(_ json: String) throws -> HybridTimestamp {
        try JSONDecoder().decode(HybridTimestamp.self, from: Data(json.utf8))
    }

    @Test("a wall time above Int64.max is refused when decoded; Int64.max itself is kept exactly")
    func wallAboveStorage() throws {
        for wall in ["9223372036854775808", "18446744073709551615"] {
            #expect(throws: DecodingError.self) { try Self.decode(#"{"wall":\#(wall),"logical":0}"#) }
        }
        let edge = try Self.decode(#"{"wall":9223372036854775807,"logical":4294967295}"#)
        #expect(edge == HybridTimestamp(wallMilliseconds: UInt64(Int64.max), logical: .max))
        let again = try JSONDecoder().decode(HybridTimestamp.self, from: try JSONEncoder().encode(edge))
        #expect(again == edge)
        #expect(throws: DecodingError.self) { try Self.decode(#"{"wall":1,"logical":4294967296}"#) }
        #expect(throws: DecodingError.self) { try Self.decode(#"{"wall":-1,"logical":0}"#) }
    }
}
