/// The structural bounds a hub puts on one sync request, checked before anything of it is applied.
///
/// Pure checks, no I/O: the hub turns a ``Violation`` into a 4xx answer. Sizes in bytes and the
/// number of versions per push are checked where the bytes are read; these are the bounds a
/// decoded request (or its raw JSON) can still break.
public struct MessageLimits: Sendable, Hashable {
    /// The most entries one version vector may hold (a version's context, `assumedKnowledge`).
    public var maxVectorEntries: Int
    /// The deepest nesting of arrays and objects in one version's body.
    public var maxBodyDepth: Int
    /// The deepest nesting of arrays and objects in the request itself.
    public var maxRequestDepth: Int
    /// The most verification failures one request may report.
    public var maxVerificationReports: Int
    /// The most distinct replica ids a push's versions and their contexts may name together: the
    /// hub looks up what it holds of each inside the push's write transaction, so a frame naming
    /// half a million random ids held every other push back for seconds.
    public var maxPushOrigins: Int

    public init(
        maxVectorEntries: Int = 4_096, maxBodyDepth: Int = 64, maxRequestDepth: Int = 32, maxVerificationReports: Int = 1_000,
        maxPushOrigins: Int = 16_384
    ) {
        self.maxVectorEntries = maxVectorEntries
        self.maxBodyDepth = maxBodyDepth
        self.maxRequestDepth = maxRequestDepth
        self.maxVerificationReports = maxVerificationReports
        self.maxPushOrigins = maxPushOrigins
    }

    /// A bound a request breaks, said in one sentence for people.
    public struct Violation: Error, Sendable, Hashable, CustomStringConvertible {
        /// Which bound.
        public struct Kind: Hashable, Sendable {
            let name: String
            /// Too many entries in a version vector.
            public static let vectorEntries = Kind(name: "vector-entries")
            /// Arrays and objects nested too deep.
            public static let nestingDepth = Kind(name: "nesting-depth")
            /// A counter above ``Dot/maxCounter``.
            public static let counter = Kind(name: "counter")
            /// Too many verification failures reported at once.
            public static let verificationReports = Kind(name: "verification-reports")
            /// A verification failure reported with a reason that is no reason's name.
            public static let reportReason = Kind(name: "report-reason")
            /// A push naming too many distinct replica ids.
            public static let pushOrigins = Kind(name: "push-origins")
        }

        public let kind: Kind
        public let message: String
        public var description: String { message }
    }

    /// The first bound `request` breaks, or nil.
    public func violation(in request: SyncRequest) -> Violation? {
        if request.counter > Dot.maxCounter {
            return Violation(
                kind: .counter, message: "The request's counter \(request.counter) is above the limit \(Dot.maxCounter).")
        }
        if let reports = request.unverified, reports.count > maxVerificationReports {
            return Violation(
                kind: .verificationReports,
                message: "The request reports \(reports.count) unverified versions; the limit is \(maxVerificationReports). Report them over several exchanges.")
        }
        for report in request.unverified ?? [] {
            if report.counter > Dot.maxCounter || report.counter == 0 {
                return Violation(
                    kind: .counter, message: "A reported version's counter \(report.counter) is not between 1 and \(Dot.maxCounter).")
            }
            let reason = report.reason.rawValue.utf8
            if !(1...32).contains(reason.count) || !reason.allSatisfy({ $0 == UInt8(ascii: "-") || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) }) {
                return Violation(
                    kind: .reportReason, message: "A reported version's reason is not 1 to 32 lowercase letters and '-', such as bad-signature.")
            }
        }
        if let assumed = request.assumedKnowledge, assumed.entries.count > maxVectorEntries {
            return Violation(
                kind: .vectorEntries,
                message: "The assumed knowledge holds \(assumed.entries.count) entries; the limit is \(maxVectorEntries).")
        }
        for version in request.push {
            if version.context.entries.count > maxVectorEntries {
                return Violation(
                    kind: .vectorEntries,
                    message: "The context of version \(version.dot) holds \(version.context.entries.count) entries; the limit is \(maxVectorEntries).")
            }
            if let body = version.body, Self.isNested(body, deeperThan: maxBodyDepth) {
                return Violation(
                    kind: .nestingDepth,
                    message: "The body of version \(version.dot) nests arrays and objects deeper than \(maxBodyDepth) levels, the limit.")
            }
        }
        let origins = CausalPlausibility.origins(of: request.push)
        if origins.count > maxPushOrigins {
            return Violation(
                kind: .pushOrigins,
                message: "The push and its contexts name \(origins.count) replicas; the limit is \(maxPushOrigins). Push in smaller batches.")
        }
        return nil
    }

    /// The violation when the raw JSON of a request nests deeper than ``maxRequestDepth``.
    public func violation(inRequestJSON bytes: some Sequence<UInt8>) -> Violation? {
        guard Self.isNested(bytes, deeperThan: maxRequestDepth) else { return nil }
        return Violation(
            kind: .nestingDepth,
            message: "The request nests arrays and objects deeper than \(maxRequestDepth) levels, the limit.")
    }

    /// Whether the JSON text `bytes` nests arrays and objects deeper than `limit`, counting
    /// brackets outside strings. One pass, constant memory, stops at the first level too deep;
    /// it does not check that the text is valid JSON (the decoder does).
    public static func isNested(_ bytes: some Sequence<UInt8>, deeperThan limit: Int) -> Bool {
        var depth = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > limit { return true }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return false
    }
}
