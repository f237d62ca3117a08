import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// Attachments follow their documents' scopes, the devices' media policies and the hub's limits.
@Suite("Attachment scopes, policies and limits", .serialized, .timeLimit(.minutes(10)))
struct AttachmentScopeTests {
    typealias F = AttachmentFixtures

    /// Replays a device asking for a photo of a region outside its read scope (by its hash, which
    /// it may have learnt elsewhere): the hub answers as if it held nothing, in the pull, on demand,
    /// and chunk by chunk, while a device whose scope covers the region receives it.
    @Test("a photo outside the read scope is never delivered; inside it is")
    func photoOutsideReadScope() async throws {
        let photo = F.bytes(300_000, seed: 5)
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(3) { replicas in
                let (writer, outsider, insider) = (replicas[0], replicas[1], replicas[2])
                let writerToken = try await hub.enroll(writer, grants: F.grants(read: "*", write: "observations/SD-DN"))
                let outsiderToken = try await hub.enroll(outsider, grants: F.grants(read: "observations/ML-*"))
                let insiderToken = try await hub.enroll(insider, grants: F.grants(read: "observations/SD-*"))
                for device in [outsider, insider] { try hub.store.setMediaPolicy(.all, of: device.replicaID) }
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b81")
                try await F.synchronizer(writer, hub.url, writerToken).run()
                #expect(try F.held(manifest.sha256, in: hub.store) == photo)

                try await F.synchronizer(outsider, hub.url, outsiderToken).run()
                try await F.synchronizer(insider, hub.url, insiderToken).run()
                #expect(try F.held(manifest.sha256, in: insider) == photo)
                #expect(try outsider.attachmentHoldings([manifest.sha256])[manifest.sha256] == .missing)

                let link = F.transport(hub.url, outsiderToken)
                let asked = try await link.attachmentManifests(ManifestsRequest(attachments: [manifest.sha256], onDemand: true))
                #expect(asked.value.manifests.isEmpty)
                #expect(asked.value.unavailable == [.init(sha256: manifest.sha256, reason: "not-held")])
                let refused = await #expect(throws: SyncClientError.self) {
                    _ = try await link.downloadChunk(0, of: manifest.sha256)
                }
                #expect(refused?.httpStatus == 404)
                let fetched = try await AttachmentTransfer(store: outsider, transport: link, logger: silentLogger)
                    .fetch([manifest.sha256])
                #expect(fetched.downloaded == 0 && fetched.notOnHub == [manifest.sha256])
                #expect(try outsider.chunk(manifest.chunks[0]) == nil)
            }
        }
    }

    /// Replays a review's finding: a device reading only Mali names, in an observation of its own
    /// region, the hash of a photo of a Darfur report (learnt before its scope was narrowed, or
    /// elsewhere), then asks for it on demand. Before, any naming within the reader's scope
    /// opened the photo, its own too: knowing a hash was enough. Now the device's own naming opens
    /// only what it sent itself.
    @Test("a device naming a photo outside its read scope in its own observation does not get it")
    func namingAPhotoOutsideTheScopeDoesNotOpenIt() async throws {
        let photo = F.bytes(300_000, seed: 11)
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (writer, outsider) = (replicas[0], replicas[1])
                let writerToken = try await hub.enroll(writer, grants: F.grants(read: "*", write: "observations/SD-DN"))
                let outsiderToken = try await hub.enroll(
                    outsider, grants: F.grants(read: "observations/ML-*", write: "observations/ML-*"))
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b82")
                try await F.synchronizer(writer, hub.url, writerToken).run()
                let body = F.observation(naming: manifest.sha256, size: photo.count, region: "ML-BK")
                try outsider.write(
                    WriteIntent(
                        key: DocumentKey(collection: F.observations, id: try #require(DocumentID("0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b83"))),
                        partition: Partition("ML-BK"), body: Data(body.utf8)))
                try await F.synchronizer(outsider, hub.url, outsiderToken).run()
                #expect(try hub.store.document(DocumentKey(collection: F.observations, id: try #require(DocumentID("0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b83")))) != nil)

                let link = F.transport(hub.url, outsiderToken)
                let asked = try await link.attachmentManifests(ManifestsRequest(attachments: [manifest.sha256], onDemand: true))
                #expect(asked.value.manifests.isEmpty)
                let refused = await #expect(throws: SyncClientError.self) {
                    _ = try await link.downloadChunk(0, of: manifest.sha256)
                }
                #expect(refused?.httpStatus == 404)
            }
        }
    }

    /// A field phone (policy own, the default) receives its own media but only the documents of
    /// others' photos, shown as not on this device; fetched on demand they arrive. Policy none
    /// receives nothing at sync.
    @Test("media policy own (the default) and none hold others' attachments back until fetched on demand")
    func mediaPolicies() async throws {
        let photo = F.bytes(300_000, seed: 6)
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (writer, phone) = (replicas[0], replicas[1])
                let writerToken = try await hub.enroll(writer)
                let phoneToken = try await hub.enroll(phone)
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b82")
                try await F.synchronizer(writer, hub.url, writerToken).run()
                try await F.synchronizer(phone, hub.url, phoneToken).run()
                #expect(try phone.attachmentHoldings([manifest.sha256])[manifest.sha256] == .missing)
                try hub.store.setMediaPolicy(.none, of: phone.replicaID)
                let link = F.transport(hub.url, phoneToken)
                let automatic = try await AttachmentTransfer(store: phone, transport: link, logger: silentLogger).run()
                #expect(automatic.withheld == 1 && automatic.downloaded == 0)
                let onDemand = try await AttachmentTransfer(store: phone, transport: link, logger: silentLogger)
                    .fetch([manifest.sha256])
                #expect(onDemand.downloaded == 1)
                #expect(try F.held(manifest.sha256, in: phone) == photo)
            }
        }
    }

    /// Replays a device sending a video above the hub's size limit, then more than its quota: the
    /// hub answers 413 with the limit in problem+json before any chunk travels, the device keeps
    /// the file and records which limit, and the other files still go.
    @Test("the size limit and the per-device quota refuse with 413 and the limit; other files still go")
    func sizeAndQuotaLimits() async throws {
        try await HubFixture.withHub(configure: { configuration in
            configuration.limits.maxAttachmentBytes = 500_000
            configuration.limits.deviceMediaQuotaBytes = 800_000
        }) { hub in
            try await TemporaryReplica.withReplica { writer in
                let token = try await hub.enroll(writer)
                let big = try F.attach(F.bytes(600_000, seed: 1), to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b83")
                try await F.documentsOnly(writer, hub.url, token).run()
                let link = F.transport(hub.url, token)
                let tooLarge = await #expect(throws: AttachmentTransferError.self) {
                    _ = try await link.offerAttachment(big)
                }
                #expect(tooLarge?.code == .tooLarge && tooLarge?.limit == 500_000)

                let first = try F.attach(F.bytes(400_000, seed: 2), to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b84")
                let second = try F.attach(F.bytes(500_000, seed: 3), to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b85")
                try await F.synchronizer(writer, hub.url, token).run()
                #expect(try hub.store.attachmentManifest(big.sha256) == nil)
                // Together they pass the quota: whichever went second is refused.
                let taken = try [first, second].filter { try hub.store.attachmentManifest($0.sha256)?.complete == true }
                #expect(taken.count == 1)
                let refused = try writer.refusedAttachments()
                #expect(refused.count == 2)
                #expect(refused.contains { $0.sha256 == big.sha256 && $0.problem == "attachment-too-large" && $0.limit == 500_000 })
                #expect(refused.contains { $0.sha256 != big.sha256 && $0.problem == "quota-exceeded" && $0.limit == 800_000 })
                #expect(try writer.attachmentHoldings([big.sha256, first.sha256, second.sha256]).values.allSatisfy { $0 == .held })
            }
        }
    }
}

extension AttachmentScopeTests {
    /// Replays an operator narrowing a device's read scope after it received a photo: the
    /// documents it may no longer hold are forgotten, and the photo they named is erased with
    /// them (no chunk left), while its own attached files stay.
    @Test("a narrowed read scope erases the attachments of the forgotten documents")
    func narrowedScopeErasesAttachments() async throws {
        let photo = F.bytes(300_000, seed: 8)
        try await HubFixture.withHub { hub in
            try await F.withWriterAndReader(hub, readerGrants: F.grants(read: "observations/SD-*")) { pair in
                let (writer, reader, writerToken, readerToken) = (pair.writer, pair.reader, pair.writerToken, pair.readerToken)
                let manifest = try F.attach(photo, to: writer, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b86")
                let own = try F.attach(F.bytes(1_000, seed: 9), to: reader, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b87", region: "ML-1")
                try await F.synchronizer(writer, hub.url, writerToken).run()
                try await F.synchronizer(reader, hub.url, readerToken).run()
                #expect(try F.held(manifest.sha256, in: reader) == photo)

                _ = try await DeviceAdministration(store: hub.store).setScopes(
                    read: Scope(text: "observations/ML-*"), write: nil, of: reader.replicaID.hex)
                try await F.synchronizer(reader, hub.url, readerToken).run()
                #expect(try reader.attachmentHoldings([manifest.sha256])[manifest.sha256] == .missing)
                #expect(try manifest.chunks.allSatisfy { try reader.chunk($0) == nil })
                #expect(try reader.attachmentHoldings([own.sha256])[own.sha256] == .held)
            }
        }
    }
}

extension AttachmentScopeTests {
    /// The same photo named by two documents and attached by two devices travels to the hub once:
    /// the second device's offer finds it whole, sends no chunk and costs no quota.
    @Test("a photo named by several documents and devices is sent and stored once")
    func storedOnce() async throws {
        let photo = F.bytes(600_000, seed: 10)
        try await HubFixture.withHub { hub in
            try await TemporaryReplica.withReplicas(2) { replicas in
                let (first, second) = (replicas[0], replicas[1])
                let firstToken = try await hub.enroll(first)
                let secondToken = try await hub.enroll(second)
                let manifest = try F.attach(photo, to: first, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b88")
                try F.attach(photo, to: first, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b89")
                try F.attach(photo, to: second, id: "0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b8a")
                try await F.documentsOnly(first, hub.url, firstToken).run()
                let sent = try await AttachmentTransfer(
                    store: first, transport: F.transport(hub.url, firstToken), logger: silentLogger
                ).run()
                #expect(sent.uploaded == 1 && sent.chunksSent == manifest.chunks.count)
                try await F.documentsOnly(second, hub.url, secondToken).run()
                let again = try await AttachmentTransfer(
                    store: second, transport: F.transport(hub.url, secondToken), logger: silentLogger
                ).run()
                #expect(again.uploaded == 1 && again.chunksSent == 0)
                #expect(try hub.store.uploadedBytes(by: second.replicaID) == 0)
                #expect(try hub.store.uploadedBytes(by: first.replicaID) == photo.count)
                #expect(try F.held(manifest.sha256, in: hub.store) == photo)
            }
        }
    }
}
