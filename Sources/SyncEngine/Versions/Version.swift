public import Foundation

/// One immutable write of one document: its content (or a tombstone), what its writer had seen
/// of the document, and its origin's signature over all of that.
///
/// A copy may carry the hub's ``AdmissionReceipt``: it is not part of the version (not signed, not
/// compared: two copies of one version are equal whether or not they carry one).
public struct Version: Hashable, Sendable {
    /// Who wrote it and with which counter.
    public var dot: Dot
    public var collection: CollectionName
    public var documentID: DocumentID
    /// The document's partition, the same in every version of the document.
    public var partition: Partition
    /// What the writer had seen of this document when writing (not including ``dot``).
    public var context: VersionVector
    /// The JSON bytes exactly as written; nil for a tombstone (a delete).
    public var body: Data?
    /// The writer's hybrid-logical-clock reading.
    public var timestamp: HybridTimestamp
    /// Ed25519 signature by the origin's device key over ``canonicalEncoding``; 64 bytes.
    public var signature: Data
    /// The hub's receipt of this version, where it was pulled from or pushed to a hub that gives them.
    public var receipt: AdmissionReceipt?

    public init(
        dot: Dot, collection: CollectionName, documentID: DocumentID, partition: Partition,
        context: VersionVector, body: Data?, timestamp: HybridTimestamp, signature: Data = Data()
    ) {
        self.dot = dot
        self.collection = collection
        self.documentID = documentID
        self.partition = partition
        self.context = context
        self.body = body
        self.timestamp = timestamp
        self.signature = signature
    }

    public var isTombstone: Bool { body == nil }

    /// Equal when everything signed is equal; the receipt is left out.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.dot == rhs.dot && lhs.collection == rhs.collection && lhs.documentID == rhs.documentID
            && lhs.partition == rhs.partition && lhs.context == rhs.context && lhs.body == rhs.body
            && lhs.timestamp == rhs.timestamp && lhs.signature == rhs.signature
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(dot)
        hasher.combine(signature)
    }

    /// The document this version belongs to.
    public var key: DocumentKey { DocumentKey(collection: collection, id: documentID) }

    /// The causal history this version completes: its context plus its own dot.
    public var history: VersionVector {
        var vector = context
        vector.add(dot)
        return vector
    }
}

/// A document's address: its collection and id.
public struct DocumentKey: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public var collection: CollectionName
    public var id: DocumentID

    public init(collection: CollectionName, id: DocumentID) {
        self.collection = collection
        self.id = id
    }

    public var description: String { "\(collection)/\(id)" }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.collection, lhs.id) < (rhs.collection, rhs.id) }

    /// This key as the facts of a failure about its document.
    public var facts: [FailureFact: String] { [.collection: collection.rawValue, .documentID: id.rawValue] }
}

extension Version: Codable {
    enum CodingKeys: String, CodingKey {
        case origin, counter, collection, id, partition, context, body, time, signature, receipt
    }

    /// Decodes the wire form; the body travels as a JSON string holding the exact bytes.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        let origin = try container.decode(ReplicaID.self, forKey: .origin)
        let counter = try container.decode(UInt64.self, forKey: .counter)
        guard (1...Dot.maxCounter).contains(counter) else {
            throw DecodingError.dataCorruptedError(
                forKey: .counter, in: container, debugDescription: "A counter is between 1 and \(Dot.maxCounter).")
        }
        let signature = try container.decode(String.self, forKey: .signature)
        guard let signatureBytes = Data(base64Encoded: signature) else {
            throw DecodingError.dataCorruptedError(
                forKey: .signature, in: container, debugDescription: "A signature is base64.")
        }
        let receipt = try container.decodeIfPresent(AdmissionReceipt.self, forKey: .receipt)
        self.init(
            dot: Dot(replica: origin, counter: counter),
            collection: try container.decode(CollectionName.self, forKey: .collection),
            documentID: try container.decode(DocumentID.self, forKey: .id),
            partition: try container.decode(Partition.self, forKey: .partition),
            context: try container.decode(VersionVector.self, forKey: .context),
            body: try container.decodeIfPresent(String.self, forKey: .body).map { Data($0.utf8) },
            timestamp: try container.decode(HybridTimestamp.self, forKey: .time),
            signature: signatureBytes)
        self.receipt = receipt
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(dot.replica, forKey: .origin)
        try container.encode(dot.counter, forKey: .counter)
        try container.encode(collection, forKey: .collection)
        try container.encode(documentID, forKey: .id)
        try container.encode(partition, forKey: .partition)
        try container.encode(context, forKey: .context)
        if let body {
            try container.encode(String(decoding: body, as: UTF8.self), forKey: .body)
        } else {
            try container.encodeNil(forKey: .body)
        }
        try container.encode(timestamp, forKey: .time)
        try container.encode(signature.base64EncodedString(), forKey: .signature)
        try container.encodeIfPresent(receipt, forKey: .receipt)
    }
}
