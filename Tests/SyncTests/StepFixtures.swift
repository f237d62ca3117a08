import Foundation
import SyncEngine

/// Fixed replica ids and unsigned versions for the tests that drive the pure steps
/// (``SyncLoopTests``, ``ExchangeAnswerTests``): the steps never check signatures.
enum StepFixtures {
    static let a = replica("a")
    static let b = replica("b")
    static let c = replica("c")
    static let d = replica("d")

    /// The id written with 32 of `digit`.
    static func replica(_ digit: Character) -> ReplicaID {
        ReplicaID(String(repeating: digit, count: 32))!
    }

    /// An unsigned note at `origin`'s `counter`, with `context`.
    static func version(_ origin: ReplicaID, _ counter: UInt64, context: VersionVector = VersionVector()) -> Version {
        Version(
            dot: Dot(replica: origin, counter: counter), collection: CollectionName("notes")!,
            documentID: DocumentID("d\(counter)")!, partition: .default, context: context,
            body: Data("{}".utf8), timestamp: HybridTimestamp(wallMilliseconds: counter))
    }
}
