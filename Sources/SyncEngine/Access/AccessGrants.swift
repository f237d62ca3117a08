import Crypto
import Foundation

/// What one enrolled device may read and write at its hub. The hub filters the device's pulls by
/// ``read`` and quarantines its versions outside ``write``.
public struct AccessGrants: Hashable, Sendable, Codable, CustomStringConvertible {
    /// What the device receives.
    public var read: Scope
    /// What the versions the device writes may touch.
    public var write: Scope

    /// Read and write everything (devices enrolled before scopes existed have these).
    public static let everything = AccessGrants(read: .everything, write: .everything)

    public init(read: Scope, write: Scope) {
        self.read = read
        self.write = write
    }

    /// A short digest of both scopes' canonical text (16 hex digits): a pull checkpoint carries it,
    /// so that the hub sees when the grants it was made under have changed.
    public var fingerprint: String {
        let digest = SHA256.hash(data: Data("vigil.grants.1\n\(read.text)\n\(write.text)".utf8))
        return digest.prefix(8).map { String(format: "%02x", $0) }.joined()
    }

    public var description: String { "read \(read.text); write \(write.text)" }
}
