import Foundation
import SyncEngine
import Testing

/// The digest a request says of the revocation horizons its client holds (Docs/Protocol.md,
/// "Revocation horizons"): another implementation must compute the same 16 hex digits.
@Suite("Revocation digest")
struct RevocationDigestTests {
    static let first = ReplicaID("0000000000000000000000000000000a")!
    static let second = ReplicaID("f0000000000000000000000000000001")!

    @Test func isTheSpecifiedPrefixOfSHA256OverSortedLines() {
        let lines = "0000000000000000000000000000000a:3\nf0000000000000000000000000000001:0\n"
        let expected = String(AttachmentDigest.hex(of: Data(lines.utf8)).prefix(16))
        #expect(RevocationNotice.digest(of: [Self.second: 0, Self.first: 3]) == expected)
        #expect(expected.count == 16)
    }

    @Test func changesWithAHorizonOrAnId() {
        let held = RevocationNotice.digest(of: [Self.first: 3, Self.second: 0])
        #expect(RevocationNotice.digest(of: [Self.first: 2, Self.second: 0]) != held)
        #expect(RevocationNotice.digest(of: [Self.first: 3]) != held)
        #expect(RevocationNotice.digest(of: [:]) != held)
    }
}
