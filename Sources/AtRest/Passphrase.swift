public import Foundation

/// A passphrase, as the bytes typed (UTF-8). It never prints: its description is redacted, so
/// that it cannot reach a log or an error message by accident.
public struct Passphrase: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible,
    CustomReflectable
{
    /// The longest passphrase accepted, in bytes.
    public static let maximumLength = 1024

    let bytes: Data

    /// Throws ``AtRestError/Code/emptyPassphrase`` for an empty passphrase, and
    /// ``AtRestError/Code/parametersOutOfBounds`` for one longer than ``maximumLength`` bytes.
    public init(bytes: Data) throws {
        guard !bytes.isEmpty else { throw AtRestError(.emptyPassphrase, "The passphrase is empty.") }
        guard bytes.count <= Self.maximumLength else {
            throw AtRestError(.parametersOutOfBounds, "The passphrase is longer than \(Self.maximumLength) bytes.")
        }
        self.bytes = bytes
    }

    public init(_ text: String) throws { try self.init(bytes: Data(text.utf8)) }

    public var description: String { "Passphrase(redacted)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: [:]) }
}
