import Crypto
public import Foundation

/// Computes an attachment's SHA-256 from its bytes, fed in chunks by whoever reads the file.
public struct AttachmentHasher: Sendable {
    private var hasher = SHA256()

    public init() {}

    /// Adds the next chunk of the file.
    public mutating func update(_ chunk: Data) { hasher.update(data: chunk) }

    /// The digest as 64 lowercase hexadecimal digits, as attachments reference it.
    public func hexDigest() -> String {
        hasher.finalize().map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}
