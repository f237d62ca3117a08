import Foundation
import HubStore
import HubStoreSQLite
import ReplicaStore
import SyncEngine
import Testing

/// The hub's attachment storage's contract (``HubAttachmentStorage``: namings, manifests, offers
/// within a quota, chunks, media policies), written once over `any HubAttachmentStorage` and run on
/// every backend in ``StorageBackend/enabled``: SQLite always, PostgreSQL when its suites run.
@Suite(.serialized)
struct AttachmentStorageConformanceTests {
    private static let fieldScope = Scope(text: "observations/SD-DN") ?? .nothing
    /// Three chunks, the last one short.
    private static let threeChunks = 2 * AttachmentManifest.chunkSize + 1_000

    // MARK: Namings

    @Test(arguments: StorageBackend.enabled)
    func theVersionsAPushStoresNameTheirAttachments(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let (photo, scan, other) = (AttachmentFile(size: 10), AttachmentFile(size: 20), AttachmentFile(size: 30))
            let (amina, jonas) = (ReplicaID.random(), ReplicaID.random())
            #expect(try await hub.attachments.namings(of: photo.sha256).isEmpty)
            try await hub.push([
                try AttachmentFile.naming([photo.sha256, scan.sha256], amina, 1),
                try AttachmentFile.naming([], amina, 2),
            ])
            try await hub.push([try AttachmentFile.naming([photo.sha256], jonas, 1, partition: "SD-KH")])
            let observations = try #require(CollectionName("observations"))
            let expected: Set<AttachmentNaming> = [
                AttachmentNaming(collection: observations, partition: try #require(Partition("SD-DN")), origin: amina),
                AttachmentNaming(collection: observations, partition: try #require(Partition("SD-KH")), origin: jonas),
            ]
            #expect(Set(try await hub.attachments.namings(of: photo.sha256)) == expected)
            #expect(try await hub.attachments.namings(of: scan.sha256).map(\.origin) == [amina])
            #expect(try await hub.attachments.namings(of: other.sha256).isEmpty)
            // A later version of the same document naming it again is the same naming.
            var seen = VersionVector()
            seen[amina] = 2
            try await hub.push([
                try AttachmentFile.naming([photo.sha256], amina, 3, document: "doc-\(amina.short)-1", context: seen)
            ])
            #expect(try await hub.attachments.namings(of: photo.sha256).count == 2)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func setAsideRefusedAndDeletedVersionsNameNothing(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let (outside, refused, tombstoned) = (
                AttachmentFile(size: 10), AttachmentFile(size: 11), AttachmentFile(size: 12)
            )
            let device = ReplicaID.random()
            let policy = AdmissionPolicy(writeScopes: [device: Self.fieldScope])
            // Outside the writer's scope: stored set aside, so it names nothing.
            let report = try await hub.push(
                [try AttachmentFile.naming([outside.sha256], device, 1, partition: "SD-KH")], policy: policy)
            #expect(report.applied.setAside.count == 1)
            #expect(try await hub.attachments.namings(of: outside.sha256).isEmpty)
            // Refused (a gap): never stored, so it names nothing.
            let gap = try await hub.push([try AttachmentFile.naming([refused.sha256], device, 5)], policy: policy)
            #expect(gap.applied.refused.count == 1)
            #expect(try await hub.attachments.namings(of: refused.sha256).isEmpty)
            // A tombstone carries no body.
            var tombstone = try AttachmentFile.naming([tombstoned.sha256], device, 2)
            tombstone.body = nil
            try await hub.push([tombstone], policy: policy)
            #expect(try await hub.attachments.namings(of: tombstoned.sha256).isEmpty)
        }
    }

    // MARK: Offers and chunks

    @Test(arguments: StorageBackend.enabled)
    func anOfferedFileIsTakenChunkByChunkAndServed(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let file = AttachmentFile(size: Self.threeChunks)
            let device = ReplicaID.random()
            #expect(try await hub.attachments.manifest(of: file.sha256) == nil)
            #expect(try await hub.attachments.offer(file.manifest, by: device, quota: 0) == .missing([0, 1, 2]))
            let offered = try #require(try await hub.attachments.manifest(of: file.sha256))
            #expect(offered.manifest == file.manifest && !offered.complete)
            #expect(try await hub.attachments.receive(file.chunks[1], index: 1, of: file.sha256) == .stored(missing: 2))
            // Cut and offered again: only what is lacked.
            #expect(try await hub.attachments.offer(file.manifest, by: device, quota: 0) == .missing([0, 2]))
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: file.sha256) == .stored(missing: 1))
            #expect(try await hub.attachments.manifest(of: file.sha256)?.complete == false)
            #expect(try await hub.attachments.receive(file.chunks[2], index: 2, of: file.sha256) == .complete)
            let held = try #require(try await hub.attachments.manifest(of: file.sha256))
            #expect(held.manifest == file.manifest && held.complete)
            for (index, chunk) in file.chunks.enumerated() {
                #expect(try await hub.attachments.chunk(file.manifest.chunks[index]) == chunk)
            }
            // Held whole: an offer lacks nothing, a chunk again changes nothing.
            #expect(try await hub.attachments.offer(file.manifest, by: ReplicaID.random(), quota: 1) == .missing([]))
            #expect(try await hub.attachments.receive(file.chunks[1], index: 1, of: file.sha256) == .complete)
            #expect(try await hub.attachments.chunk(AttachmentDigest.hex(of: Data("never sent".utf8))) == nil)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func chunksOutsideAManifestOrNotMatchingItAreNotKept(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let file = AttachmentFile(size: Self.threeChunks)
            let device = ReplicaID.random()
            // No manifest offered.
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: file.sha256) == .unknown)
            #expect(try await hub.attachments.chunk(file.manifest.chunks[0]) == nil)
            _ = try await hub.attachments.offer(file.manifest, by: device, quota: 0)
            // Out of range.
            #expect(try await hub.attachments.receive(file.chunks[0], index: 3, of: file.sha256) == .unknown)
            #expect(try await hub.attachments.receive(file.chunks[0], index: -1, of: file.sha256) == .unknown)
            // Another chunk's bytes, a damaged chunk, a short one: refused, nothing kept.
            #expect(try await hub.attachments.receive(file.chunks[1], index: 0, of: file.sha256) == .mismatch)
            var damaged = file.chunks[0]
            damaged[7] ^= 0xFF
            #expect(try await hub.attachments.receive(damaged, index: 0, of: file.sha256) == .mismatch)
            #expect(try await hub.attachments.chunk(AttachmentDigest.hex(of: damaged)) == nil)
            #expect(
                try await hub.attachments.receive(file.chunks[2].prefix(10), index: 2, of: file.sha256) == .mismatch)
            #expect(try await hub.attachments.offer(file.manifest, by: device, quota: 0) == .missing([0, 1, 2]))
            // The same chunk twice is kept once and counted once.
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: file.sha256) == .stored(missing: 2))
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: file.sha256) == .stored(missing: 2))
            #expect(try await hub.attachments.offer(file.manifest, by: device, quota: 0) == .missing([1, 2]))
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func aFalseManifestIsDroppedWhenItsLastChunkArrives(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let file = AttachmentFile(size: Self.threeChunks)
            // The chunks of one file under another file's name: each chunk matches, the whole does not.
            let claimed = AttachmentFile(size: 5).sha256
            let manifest = AttachmentManifest(sha256: claimed, size: file.manifest.size, chunks: file.manifest.chunks)
            _ = try await hub.attachments.offer(manifest, by: ReplicaID.random(), quota: 0)
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: claimed) == .stored(missing: 2))
            #expect(try await hub.attachments.receive(file.chunks[1], index: 1, of: claimed) == .stored(missing: 1))
            #expect(try await hub.attachments.receive(file.chunks[2], index: 2, of: claimed) == .wholeMismatch)
            #expect(try await hub.attachments.manifest(of: claimed) == nil)
            #expect(try await hub.attachments.receive(file.chunks[0], index: 0, of: claimed) == .unknown)
            // The chunks stay, each true to its own hash.
            for (index, chunk) in file.chunks.enumerated() {
                #expect(try await hub.attachments.chunk(file.manifest.chunks[index]) == chunk)
            }
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func filesShareTheChunksTheyHaveInCommon(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let long = AttachmentFile(size: Self.threeChunks)
            // The first two chunks of the long file and a last one of its own.
            let short = AttachmentFile(long.chunks[0] + long.chunks[1] + Data("the end".utf8))
            let device = ReplicaID.random()
            #expect(try await hub.upload(long, by: device) == .complete)
            #expect(try await hub.attachments.offer(short.manifest, by: device, quota: 0) == .missing([2]))
            #expect(try await hub.attachments.receive(short.chunks[2], index: 2, of: short.sha256) == .complete)
            #expect(try await hub.attachments.manifest(of: short.sha256)?.complete == true)
        }
    }

    // MARK: Offers that lack no chunk

    /// Replays the offer of a 0-byte file: it names no chunk, so none is ever sent and the whole
    /// can only be checked at the offer. Before that check the offer answered `missing: []` and the
    /// file stayed incomplete, so no other device was ever served it.
    @Test(arguments: StorageBackend.enabled)
    func aZeroByteFileIsWholeAtItsOffer(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let empty = AttachmentFile(Data())
            #expect(empty.manifest.chunks.isEmpty && empty.manifest.size == 0)
            #expect(try await hub.attachments.offer(empty.manifest, by: ReplicaID.random(), quota: 0) == .missing([]))
            let held = try #require(try await hub.attachments.manifest(of: empty.sha256))
            #expect(held.manifest == empty.manifest && held.complete)
            // Held whole: another device's offer lacks nothing and costs it nothing.
            let other = ReplicaID.random()
            #expect(try await hub.attachments.offer(empty.manifest, by: other, quota: 1) == .missing([]))
            #expect(try await hub.uploadedBytes(other) == 0)
        }
    }

    /// Replays the offer of a file made only of chunks the hub holds for another file (the same
    /// chunks in another order): nothing is lacked, no chunk is sent, and the whole is checked at
    /// the offer, then served chunk by chunk like any file.
    @Test(arguments: StorageBackend.enabled)
    func aFileMadeOfChunksAnotherFileSharesIsWholeAtItsOffer(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let long = AttachmentFile(size: Self.threeChunks)
            let reordered = AttachmentFile(Data(long.chunks[1]) + Data(long.chunks[0]) + Data(long.chunks[2]))
            #expect(Set(reordered.manifest.chunks) == Set(long.manifest.chunks) && reordered.sha256 != long.sha256)
            #expect(try await hub.upload(long, by: ReplicaID.random()) == .complete)
            #expect(
                try await hub.attachments.offer(reordered.manifest, by: ReplicaID.random(), quota: 0) == .missing([]))
            let held = try #require(try await hub.attachments.manifest(of: reordered.sha256))
            #expect(held.manifest == reordered.manifest && held.complete)
            var served = Data()
            for hash in held.manifest.chunks { served += try #require(try await hub.attachments.chunk(hash)) }
            #expect(AttachmentDigest.hex(of: served) == reordered.sha256)
        }
    }

    /// Replays a false manifest whose chunks the hub all holds (another file's chunks under this
    /// file's name), then the true one: the false one is refused at its offer and dropped, never
    /// marked complete; the true one, offered again, lacks nothing and is whole at its offer.
    @Test(arguments: StorageBackend.enabled)
    func aFalseManifestWhoseChunksAreHeldIsRefusedAtItsOffer(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let long = AttachmentFile(size: Self.threeChunks)
            let reordered = AttachmentFile(Data(long.chunks[1]) + Data(long.chunks[0]) + Data(long.chunks[2]))
            let device = ReplicaID.random()
            #expect(try await hub.upload(long, by: device) == .complete)
            let falseManifest = AttachmentManifest(
                sha256: reordered.sha256, size: long.manifest.size, chunks: long.manifest.chunks)
            #expect(try await hub.attachments.offer(falseManifest, by: device, quota: 0) == .wholeMismatch)
            #expect(try await hub.attachments.manifest(of: reordered.sha256) == nil)
            #expect(try await hub.attachments.receive(long.chunks[0], index: 0, of: reordered.sha256) == .unknown)
            // Offered again it is refused again (no loop inside the hub, nothing kept of it).
            #expect(try await hub.attachments.offer(falseManifest, by: device, quota: 0) == .wholeMismatch)
            #expect(try await hub.attachments.manifest(of: reordered.sha256) == nil)
            // The chunks stay, each true to its own hash; the true manifest is whole at its offer.
            #expect(try await hub.attachments.offer(reordered.manifest, by: device, quota: 0) == .missing([]))
            #expect(try await hub.attachments.manifest(of: reordered.sha256)?.complete == true)
            #expect(try await hub.attachments.manifest(of: long.sha256)?.complete == true)
        }
    }

    // MARK: Quotas

    /// Replays a review's finding: a seized device names a hash, offers for it a manifest of junk
    /// chunks and uploads them (the whole does not match: the manifest is dropped, the chunks
    /// stay), then offers another manifest of the same size with other junk, and again. Before,
    /// the file was charged once (its size never grew): about 150 MB a minute of junk on the
    /// hub's disk from one device, within one charge. Now every chunk list but the one the hub
    /// holds costs its size again.
    @Test(arguments: StorageBackend.enabled)
    func everyNewChunkListOfAFileIsChargedAgain(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let target = AttachmentFile(size: 600)
            let device = ReplicaID.random()
            let quota = 1_500
            for round in 1...2 {
                let junk = AttachmentFile(size: 600)
                let manifest = AttachmentManifest(sha256: target.sha256, size: 600, chunks: junk.manifest.chunks)
                #expect(try await hub.attachments.offer(manifest, by: device, quota: quota) == .missing([0]), "round \(round)")
                #expect(try await hub.attachments.receive(junk.chunks[0], index: 0, of: target.sha256) == .wholeMismatch)
                #expect(try await hub.uploadedBytes(device) == 600 * round)
            }
            let third = AttachmentManifest(sha256: target.sha256, size: 600, chunks: AttachmentFile(size: 600).manifest.chunks)
            #expect(try await hub.attachments.offer(third, by: device, quota: quota) == .overQuota(used: 1_200, limit: quota))
            // The true file, offered by another device, is taken as ever.
            #expect(try await hub.upload(target, by: ReplicaID.random()) == .complete)
        }
    }

    @Test(arguments: StorageBackend.enabled)
    func offersAreCountedOncePerDeviceWithinItsQuota(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let (first, second, third) = (
                AttachmentFile(size: 600), AttachmentFile(size: 500), AttachmentFile(size: 300)
            )
            let (amina, jonas) = (ReplicaID.random(), ReplicaID.random())
            let quota = 1_000
            #expect(try await hub.attachments.offer(first.manifest, by: amina, quota: quota) == .missing([0]))
            // Offered again (a cut upload resumed): counted once.
            #expect(try await hub.attachments.offer(first.manifest, by: amina, quota: quota) == .missing([0]))
            #expect(try await hub.uploadedBytes(amina) == 600)
            #expect(
                try await hub.attachments.offer(second.manifest, by: amina, quota: quota)
                    == .overQuota(used: 600, limit: quota))
            #expect(try await hub.attachments.manifest(of: second.sha256) == nil)
            #expect(try await hub.uploadedBytes(amina) == 600)
            #expect(try await hub.attachments.offer(third.manifest, by: amina, quota: quota) == .missing([0]))
            #expect(try await hub.uploadedBytes(amina) == 900)
            // Another device has a quota of its own; no quota (0) is no limit.
            #expect(try await hub.attachments.offer(second.manifest, by: jonas, quota: quota) == .missing([0]))
            #expect(
                try await hub.attachments.offer(AttachmentFile(size: 5_000).manifest, by: amina, quota: 0)
                    == .missing([0]))
            #expect(try await hub.uploadedBytes(amina) == 5_900)
            // A file the hub holds whole costs nothing.
            #expect(try await hub.upload(first, by: amina) == .complete)
            #expect(try await hub.attachments.offer(first.manifest, by: jonas, quota: 1) == .missing([]))
            #expect(try await hub.uploadedBytes(jonas) == 500)
        }
    }

    /// Schedule: a seized device offers, for a file's hash, a manifest claiming 1 byte (never
    /// uploaded), then the file's true manifest. Before, the second offer was not charged (the
    /// device had offered that hash), so any file passed the quota at a charge of 1 byte. Now a
    /// manifest with another chunk list is charged in full, within the quota, and a later claim
    /// of less with yet another list is charged again (``AttachmentCharge``).
    @Test(arguments: StorageBackend.enabled)
    func aSecondOfferWithAnotherChunkListIsChargedInFull(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let device = ReplicaID.random()
            let quota = 2_000
            let (large, small) = (AttachmentFile(size: 5_000), AttachmentFile(size: 1_500))
            for file in [large, small] {
                let claim = AttachmentManifest(
                    sha256: file.sha256, size: 1, chunkSize: file.manifest.chunkSize,
                    chunks: [String(repeating: "0", count: 64)])
                #expect(try await hub.attachments.offer(claim, by: device, quota: quota) == .missing([0]))
            }
            #expect(try await hub.uploadedBytes(device) == 2)
            #expect(
                try await hub.attachments.offer(large.manifest, by: device, quota: quota)
                    == .overQuota(used: 2, limit: quota))
            #expect(try await hub.uploadedBytes(device) == 2)
            #expect(try await hub.attachments.offer(small.manifest, by: device, quota: quota) == .missing([0]))
            #expect(try await hub.uploadedBytes(device) == 1_502)
            // A later claim of less, another chunk list, is charged again; never refunded.
            let less = AttachmentManifest(
                sha256: small.sha256, size: 1, chunkSize: small.manifest.chunkSize,
                chunks: [String(repeating: "1", count: 64)])
            _ = try await hub.attachments.offer(less, by: device, quota: quota)
            #expect(try await hub.uploadedBytes(device) == 1_503)
        }
    }

    // MARK: Media policies

    @Test(arguments: StorageBackend.enabled)
    func aDevicesMediaPolicyIsItsOwnOrItsCodes(_ backend: StorageBackend) async throws {
        try await AttachmentsUnderTest.with(backend) { (hub) async throws -> Void in
            let (amina, jonas) = (DeviceKey(), DeviceKey())
            let (aminaID, jonasID) = (ReplicaID.random(), ReplicaID.random())
            let aminaCode = try await hub.code(for: "amina")
            let jonasCode = try await hub.code(for: "jonas")
            try await hub.administration.setMediaPolicy(.all, ofCode: try #require(EnrollmentCode.hash(jonasCode)))
            _ = try await hub.registry.enroll(
                try EnrollmentRequest(code: aminaCode, replica: aminaID, key: amina), credential: .random())
            _ = try await hub.registry.enroll(
                try EnrollmentRequest(code: jonasCode, replica: jonasID, key: jonas), credential: .random())
            #expect(try await hub.attachments.mediaPolicy(of: aminaID) == nil)
            #expect(try await hub.attachments.mediaPolicy(of: jonasID) == .all)
            #expect(try await hub.administration.setMediaPolicy(.none, of: aminaID))
            #expect(try await hub.attachments.mediaPolicy(of: aminaID) == MediaPolicy.none)
            #expect(try await hub.administration.setMediaPolicy(.own, of: jonasID))
            #expect(try await hub.attachments.mediaPolicy(of: jonasID) == .own)
            #expect(try await hub.attachments.mediaPolicy(of: ReplicaID.random()) == nil)
        }
    }
}

extension AttachmentsUnderTest {
    /// Gives out a code for `name` with every grant, valid for an hour.
    func code(for name: String) async throws -> String {
        let code = EnrollmentCode.random()
        let added = try await administration.addEnrollmentCode(
            hash: try #require(EnrollmentCode.hash(code)), deviceName: name, grants: .everything,
            expiresAt: try await administration.now() + 3_600_000, actor: "test")
        #expect(added)
        return code
    }
}
