/// Why a stored version is kept out of its document's state: a code for programs and a sentence
/// for people. Replicas and the hub store both; nothing reads the sentence back.
public struct SetAsideReason: Sendable, Hashable {
    /// The closed set of reasons. The raw values are stored (`set_aside_code`) and must not change.
    public enum Code: String, Sendable, Hashable, CaseIterable {
        /// Its context names versions this replica does not hold and no peer vouched for
        /// (``CausalPlausibility``); a field replica merges it once they arrive.
        case implausibleContext = "implausible-context"
        /// Its document arrived here first in another partition.
        case partitionMove = "partition-move"
        /// An own version of a document this device forgot when its read scope narrowed.
        case outsideReadScope = "outside-read-scope"
        /// The hub holds another version at its dot: its origin forked.
        case forkedOrigin = "forked-origin"
        /// The hub refused or quarantined it (a field replica; the detail names the hub's reason).
        case rejectedByHub = "rejected-by-hub"
        /// The hub: its writer may not write its collection and partition.
        case outOfScope = "out-of-scope"
        /// The hub: its signature does not verify against its origin's enrolled key.
        case badSignature = "bad-signature"
        /// The hub: its body is not a valid record of its collection.
        case invalidRecord = "invalid-record"

        /// Whether the hub holds it back for what it says (its writer's scope, or its record)
        /// rather than for how it came (its signature or context).
        public var isRefusalOfContent: Bool { self == .outOfScope || self == .invalidRecord }
    }

    public var code: Code
    /// One sentence for people.
    public var detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    /// The reason for a version whose context could not be true.
    public static func implausible(_ problem: CausalPlausibility.Problem) -> SetAsideReason {
        SetAsideReason(.implausibleContext, "implausible context: \(problem)")
    }

    /// The reason kept by a field replica for a version the hub refused with `rejection`.
    public static func rejected(_ rejection: Rejection) -> SetAsideReason {
        SetAsideReason(.rejectedByHub, "rejected by the hub (\(rejection.reason.rawValue)): \(rejection.message)")
    }

    /// The reason a pusher is told for a version the hub holds set aside with this reason.
    public var rejection: Rejection.Reason {
        switch code {
        case .badSignature: .badSignature
        case .outOfScope: .outOfScope
        case .implausibleContext: .implausibleContext
        case .forkedOrigin: .fork
        case .invalidRecord, .partitionMove, .outsideReadScope, .rejectedByHub: .invalidRecord
        }
    }
}

extension SetAsideReason {
    /// Why this replica's own versions of a document it forgot are set aside: the hub's read scope
    /// no longer covers the document. They are not rejections, and come back when it does.
    public static let outsideReadScope = SetAsideReason(.outsideReadScope, "outside this device's read scope")
}
