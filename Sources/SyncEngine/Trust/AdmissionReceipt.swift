public import Foundation
import Crypto

/// A hub's note that it admitted one version: a MAC, under a key only that hub can derive, over the
/// version's dot and signature (which covers its content). Devices keep the receipts of what they
/// pulled and wrote and send them back with the versions they push again; a hub restored from a
/// backup, whose grants are older than the ones the version was admitted under, admits again what
/// it had admitted before instead of quarantining it under the older grants (while readers that
/// pulled it before the restore keep showing it). A receipt stands in for the writer's write scope
/// only: signature, causal plausibility, revocation and record checks still apply.
///
/// Only the hub that made a receipt can check it, so nothing else reads one: a field replica stores
/// it as bytes. Twelve bytes (96 bits) make forging one by trial hopeless against a hub that
/// answers each try over the network.
public struct AdmissionReceipt: Hashable, Sendable, Codable {
    /// The length of a receipt in bytes.
    public static let byteCount = 12

    public let bytes: Data

    /// A receipt of exactly ``byteCount`` bytes, nil for any other length.
    public init?(bytes: Data) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        guard let data = Data(base64Encoded: try container.decode(String.self)), let receipt = Self(bytes: data) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "An admission receipt is \(Self.byteCount) bytes in base64.")
        }
        self = receipt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(bytes.base64EncodedString())
    }
}

/// The key a hub makes and checks its admission receipts with, derived from its signing key, so
/// that a hub restored from a backup (which keeps its key) checks the receipts it gave before.
public struct AdmissionReceiptKey: Sendable {
    /// The HMAC keyed once (its padded keys hashed in), copied for each receipt, so that the
    /// versions of a page are not each keyed again (2.7% of a hub's CPU under a scoped load).
    private let keyed: HMAC<SHA256>

    /// The receipt key of the hub whose 32-byte private signing key is `signingKey`.
    public init(signingKey: Data) {
        let key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: signingKey), salt: Data("vigil".utf8),
            info: Data("vigil.admission-receipt.1".utf8), outputByteCount: 32)
        keyed = HMAC<SHA256>(key: key)
    }

    /// The receipt of `version`.
    public func receipt(for version: Version) -> AdmissionReceipt? {
        var mac = keyed
        mac.update(data: Self.message(version))
        return AdmissionReceipt(bytes: Data(mac.finalize().prefix(AdmissionReceipt.byteCount)))
    }

    /// `version` carrying this hub's receipt.
    public func withReceipt(_ version: Version) -> Version {
        var version = version
        version.receipt = receipt(for: version)
        return version
    }

    /// The receipts of `versions` by counter in decimal (``SyncResponse/receipts``: the versions
    /// are one origin's).
    public func receipts(of versions: [Version]) -> [String: AdmissionReceipt] {
        var receipts: [String: AdmissionReceipt] = [:]
        for version in versions { receipts[String(version.dot.counter)] = receipt(for: version) }
        return receipts
    }

    /// Whether `version` carries this hub's receipt of it (compared in constant time).
    public func vouches(for version: Version) -> Bool {
        guard let given = version.receipt, let expected = receipt(for: version) else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(given.bytes, expected.bytes) { difference |= left ^ right }
        return difference == 0
    }

    /// The bytes a receipt covers: a domain tag, the dot, and the origin's signature.
    static func message(_ version: Version) -> Data {
        var bytes = SignedBytes(domain: "vigil.admission-receipt.1")
        bytes.append(version.dot.replica)
        bytes.append(version.dot.counter)
        var data = bytes.data
        data.append(version.signature)
        return data
    }
}

extension Version {
    /// The version without the receipt it carries.
    public var withoutReceipt: Version {
        var version = self
        version.receipt = nil
        return version
    }
}
