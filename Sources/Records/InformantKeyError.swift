/// Why an informant-key step of the store did not happen; the code says why, never a key.
public struct InformantKeyError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// The network already has an informant key (rotation is not built).
        case exists
        /// This replica holds no informant key.
        case missing
        /// The statement is not signed by the key this replica pinned for its hub.
        case notSigned
        /// No operator has this name.
        case noSuchOperator
        /// The operator's role may not see informant references (viewer).
        case notEligible
        /// The operator has no key pair yet (it is made at their next login).
        case noOperatorKey
        /// The key given is not the network's informant key.
        case wrongKey
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .exists: "This hub already has an informant key."
        case .missing: "This replica holds no informant key."
        case .notSigned: "The informant key statement is not signed by the pinned hub key."
        case .noSuchOperator: "No operator has this name."
        case .notEligible: "This operator's role may not see informant references."
        case .noOperatorKey: "This operator has no key pair yet."
        case .wrongKey: "The key given is not the network's informant key."
        }
    }
}
