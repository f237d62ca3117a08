/// A map from replica to the highest counter seen of it; absent replicas count as 0.
///
/// Vectors form a join-semilattice under ``merge(_:)``: the pointwise maximum.
public struct VersionVector: Hashable, Sendable {
    /// The non-zero entries.
    public private(set) var entries: [ReplicaID: UInt64]

    public init() { entries = [:] }

    public init(_ entries: [ReplicaID: UInt64]) {
        self.entries = entries.filter { $0.value > 0 }
    }

    /// The vector that has seen exactly the given dots' counters (their maximum per replica).
    public init(dots: some Sequence<Dot>) {
        self.init()
        for dot in dots { add(dot) }
    }

    /// The counter seen of `replica`, 0 when none.
    public subscript(replica: ReplicaID) -> UInt64 {
        get { entries[replica] ?? 0 }
        set { entries[replica] = newValue == 0 ? nil : newValue }
    }

    public var isEmpty: Bool { entries.isEmpty }

    /// Entries ordered by replica id: the canonical order.
    public var sortedEntries: [(replica: ReplicaID, counter: UInt64)] {
        entries.sorted { $0.key < $1.key }.map { (replica: $0.key, counter: $0.value) }
    }

    /// Whether the vector has seen `dot`.
    public func contains(_ dot: Dot) -> Bool { self[dot.replica] >= dot.counter }

    /// Raises the entry of `dot`'s replica to at least its counter.
    public mutating func add(_ dot: Dot) {
        if self[dot.replica] < dot.counter { entries[dot.replica] = dot.counter }
    }

    /// Joins `other` into this vector (pointwise maximum).
    public mutating func merge(_ other: VersionVector) {
        for (replica, counter) in other.entries where self[replica] < counter {
            entries[replica] = counter
        }
    }

    /// The join of this vector and `other`.
    public func merged(with other: VersionVector) -> VersionVector {
        var copy = self
        copy.merge(other)
        return copy
    }

    /// Whether this vector has seen at least everything `other` has.
    public func dominates(_ other: VersionVector) -> Bool {
        other.entries.allSatisfy { self[$0.key] >= $0.value }
    }

    /// How this vector's history relates to `other`'s.
    public func compare(_ other: VersionVector) -> CausalOrder {
        let covers = dominates(other)
        let covered = other.dominates(self)
        switch (covers, covered) {
        case (true, true): return .equal
        case (true, false): return .after
        case (false, true): return .before
        case (false, false): return .concurrent
        }
    }

    /// The entries of this vector that are higher than in `base`: what a peer that knows `base`
    /// needs to learn. Applying the delta to `base` with ``merge(_:)`` gives back this vector's join.
    public func delta(since base: VersionVector) -> VersionVector {
        VersionVector(entries.filter { base[$0.key] < $0.value })
    }
}

extension VersionVector: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (ReplicaID, UInt64)...) {
        self.init(Dictionary(elements, uniquingKeysWith: max))
    }
}

extension VersionVector: CustomStringConvertible {
    /// `{abcd1234:3, …}` with short ids, for people.
    public var description: String {
        "{" + sortedEntries.map { "\($0.replica.short):\($0.counter)" }.joined(separator: ", ") + "}"
    }
}

extension VersionVector: Codable {
    /// Encoded as a JSON object from replica id to counter.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode([String: UInt64].self)
        var entries = [ReplicaID: UInt64](minimumCapacity: raw.count)
        for (key, counter) in raw {
            guard let replica = ReplicaID(key) else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "Version vector key '\(key.prefix(40))' is not a replica id.")
            }
            guard counter <= Dot.maxCounter else {
                throw DecodingError.dataCorruptedError(
                    in: container, debugDescription: "Version vector counter \(counter) is above the limit \(Dot.maxCounter).")
            }
            entries[replica] = counter
        }
        self.init(entries)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(Dictionary(uniqueKeysWithValues: entries.map { ($0.key.hex, $0.value) }))
    }
}

extension VersionVector {
    /// A compact text form for storage: `hex=counter` pairs joined by `,`, in canonical order.
    public var compactText: String {
        if entries.count == 1, let (replica, counter) = entries.first { return replica.hex + "=" + String(counter) }
        return sortedEntries.map { "\($0.replica.hex)=\($0.counter)" }.joined(separator: ",")
    }

    /// Parses ``compactText``; nil when it is malformed or a counter is above ``Dot/maxCounter``.
    public init?(compactText: String) {
        self.init()
        if compactText.isEmpty { return }
        for pair in compactText.split(separator: ",") {
            let parts = pair.split(separator: "=")
            guard parts.count == 2, let replica = ReplicaID(parts[0]), let counter = UInt64(parts[1]),
                counter <= Dot.maxCounter
            else { return nil }
            self[replica] = Swift.max(self[replica], counter)
        }
    }
}
