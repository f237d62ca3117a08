/// One version that names an attachment: where its document lies and who wrote it.
public struct AttachmentNaming: Sendable, Hashable {
    public var collection: CollectionName
    public var partition: Partition
    public var origin: ReplicaID

    public init(collection: CollectionName, partition: Partition, origin: ReplicaID) {
        self.collection = collection
        self.partition = partition
        self.origin = origin
    }
}
