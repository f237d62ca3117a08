import Crypto
import Foundation
@testable import SyncEngine
import Testing

@Suite("Admission receipt key")
struct AdmissionReceiptKeyTests {
    static let hubKey = Data((0..<32).map { UInt8($0) })
    let receipts = AdmissionReceiptKey(signingKey: hubKey)
    let author = DeviceKey()

    func signed(_ counter: UInt64 = 3) throws -> Version {
        try author.sign(Fixtures.version(Fixtures.replica(1), counter, context: [Fixtures.replica(2): 4]))
    }

    @Test func aReceiptVouchesForItsVersionOnly() throws {
        var version = try signed()
        version.receipt = receipts.receipt(for: version)
        #expect(version.receipt?.bytes.count == AdmissionReceipt.byteCount)
        #expect(receipts.vouches(for: version))
        #expect(receipts.vouches(for: receipts.withReceipt(version.withoutReceipt)), "the same receipt each time")

        var otherDot = try signed(4)
        otherDot.receipt = version.receipt
        #expect(!receipts.vouches(for: otherDot), "another version's receipt")
        var otherSignature = version
        otherSignature.signature[0] ^= 1
        #expect(!receipts.vouches(for: otherSignature), "another content at the same dot")
        #expect(!receipts.vouches(for: version.withoutReceipt), "no receipt")
        var flipped = version
        flipped.receipt = AdmissionReceipt(bytes: Data(try #require(version.receipt).bytes.map { $0 ^ 0x80 }))
        #expect(!receipts.vouches(for: flipped))
    }

    @Test func eachReceiptIsTheHMACOfItsVersionKeyedOnce() throws {
        // The key's HMAC is keyed once and copied for each receipt: every receipt, the first and
        // the later ones, must be the HMAC a hub restored from a backup computes for that version
        // (receipts it gave before still vouch), nothing of one receipt leaking into the next.
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Self.hubKey), salt: Data("vigil".utf8),
            info: Data("vigil.admission-receipt.1".utf8), outputByteCount: 32)
        for counter in [3, 4, 3, 5] as [UInt64] {
            let version = try signed(counter)
            let expected = HMAC<SHA256>.authenticationCode(for: AdmissionReceiptKey.message(version), using: key)
            #expect(receipts.receipt(for: version)?.bytes == Data(expected.prefix(AdmissionReceipt.byteCount)))
        }
    }

    @Test func anotherHubsReceiptDoesNotVouch() throws {
        var version = try signed()
        version.receipt = AdmissionReceiptKey(signingKey: Data(repeating: 7, count: 32)).receipt(for: version)
        #expect(!receipts.vouches(for: version))
    }

    @Test func theReceiptIsNotPartOfTheVersion() throws {
        let version = try signed()
        let receipted = receipts.withReceipt(version)
        #expect(receipted == version && receipted.hashValue == version.hashValue)
        #expect(receipted.canonicalEncoding == version.canonicalEncoding, "not signed")
    }

    @Test func receiptsTravelAsBase64AndOtherLengthsAreRefused() throws {
        let receipted = receipts.withReceipt(try signed())
        let decoded = try JSONDecoder().decode(Version.self, from: try JSONEncoder().encode(receipted))
        #expect(decoded.receipt == receipted.receipt)
        let plain = try JSONDecoder().decode(Version.self, from: try JSONEncoder().encode(receipted.withoutReceipt))
        #expect(plain.receipt == nil)
        for bad in ["", "AAAA", Data(count: 16).base64EncodedString(), "not base64!"] {
            var object = try #require(try JSONSerialization.jsonObject(with: try JSONEncoder().encode(receipted)) as? [String: Any])
            object["receipt"] = bad
            #expect(throws: DecodingError.self) {
                try JSONDecoder().decode(Version.self, from: try JSONSerialization.data(withJSONObject: object))
            }
        }
        #expect(AdmissionReceipt(bytes: Data(count: 11)) == nil && AdmissionReceipt(bytes: Data(count: 13)) == nil)
    }
}
