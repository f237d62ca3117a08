/// The hub's answer to an attachment offered for upload (`PUT /v1/attachments/{sha256}`): the
/// indexes of the chunks it still lacks, in order (empty when it holds the whole file).
public struct AttachmentOfferResponse: Sendable, Hashable, Codable {
    public var missing: [Int]

    public init(missing: [Int]) { self.missing = missing }
}

/// The hub's answer to one chunk uploaded (`PUT /v1/attachments/{sha256}/chunks/{index}`).
public struct ChunkReceipt: Sendable, Hashable, Codable {
    /// Whether the hub now holds the whole file, checked against its SHA-256.
    public var complete: Bool
    /// How many chunks of the file the hub still lacks.
    public var missing: Int

    public init(complete: Bool, missing: Int) {
        self.complete = complete
        self.missing = missing
    }
}

/// `POST /v1/attachments/manifests`: the manifests of attachments the device lacks.
public struct ManifestsRequest: Sendable, Hashable, Codable {
    /// The most hashes one request may name.
    public static let maximumCount = 100

    /// The attachments' SHA-256 digests.
    public var attachments: [String]
    /// true: the user asked for these (`fieldcli attachments fetch`), so the device's media policy
    /// does not hold them back; false or absent: a sync's automatic pull, within the policy.
    public var onDemand: Bool?

    public init(attachments: [String], onDemand: Bool? = nil) {
        self.attachments = attachments
        self.onDemand = onDemand
    }
}

/// The answer to ``ManifestsRequest``.
public struct ManifestsResponse: Sendable, Hashable, Codable {
    /// Why an attachment asked for has no manifest in the answer.
    public struct Unavailable: Sendable, Hashable, Codable {
        public var sha256: String
        /// `not-held`: the hub holds no whole file of it that the device may read (outside its read
        /// scope looks the same); `withheld`: the device's media policy leaves it to be fetched on demand.
        public var reason: String

        public init(sha256: String, reason: String) {
            self.sha256 = sha256
            self.reason = reason
        }
    }

    public var manifests: [AttachmentManifest]
    public var unavailable: [Unavailable]

    public init(manifests: [AttachmentManifest], unavailable: [Unavailable]) {
        self.manifests = manifests
        self.unavailable = unavailable
    }
}
