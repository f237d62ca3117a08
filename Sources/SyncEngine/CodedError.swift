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

/// A library's error: a code for the edges and one sentence for people saying what happened (never
/// record contents or secrets). What to do next, when it names a command or a flag, is the
/// executable's to add: a library does not know which program called it.
public protocol CodedError: Error, Sendable, Hashable, CustomStringConvertible {
    var code: ErrorCode<Self> { get }
    var message: String { get }
}

extension CodedError {
    public var description: String { message }
}

/// What a failure is about, for an executable that words advice with it (``CodedFailure/facts``):
/// `fieldcli conflicts resolve` needs the document's collection and id.
public enum FailureFact: String, Sendable, Hashable {
    /// The collection of the document the failure is about.
    case collection
    /// The id of the document the failure is about.
    case documentID
}

/// The error of one library's domain, a code, one sentence and the facts advice needs:
/// `StoreError`, `SyncEngineError` and the others are this with a domain of their own (an empty
/// enum), and each declares its codes in an extension `where Domain == ItsError`. An error that
/// carries more (``SyncClientError``'s HTTP status) is a type of its own.
public struct CodedFailure<Domain>: CodedError {
    public typealias Code = ErrorCode<CodedFailure<Domain>>

    public let code: Code
    public let message: String
    /// What the failure is about, beyond its sentence (empty for most).
    public let facts: [FailureFact: String]

    public init(_ code: Code, _ message: String, facts: [FailureFact: String] = [:]) {
        self.code = code
        self.message = message
        self.facts = facts
    }
}
