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

/// The error of one library's domain, a code and one sentence: `StoreError`, `SyncEngineError` and
/// the others are this with a domain of their own (an empty enum), and each declares its codes in
/// an extension `where Domain == ItsError`. An error that carries more (``SyncClientError``'s HTTP
/// status) is a type of its own.
public struct CodedFailure<Domain>: CodedError {
    public typealias Code = ErrorCode<CodedFailure<Domain>>

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }
}
