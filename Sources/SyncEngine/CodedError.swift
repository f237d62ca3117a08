/// The code of one library's error: a name the edges turn into an exit code, an HTTP status or a
/// log field, never shown to people. `Domain` is the error's type, so that the codes of two
/// libraries never compare equal; each library declares its codes in an extension
/// `where Domain == ItsError`.
public struct ErrorCode<Domain>: Hashable, Sendable, CustomStringConvertible {
    /// The code's name, as logged (`invalidBody`, `replicaMissing`).
    public let name: String

    package init(_ name: String) { self.name = name }

    public var description: String { name }
}

/// A library's error: a code for the edges and one sentence for people (what happened and what to
/// do; never record contents or secrets).
public protocol CodedError: Error, Sendable, Hashable, CustomStringConvertible {
    var code: ErrorCode<Self> { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { message }
}
