import CompressNIO
import Foundation
import HubStore
import HubStoreSQLite
import NIOCore
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport
@testable import fieldcli

/// Store-and-forward bundles (issue 13): a device's versions carried on a file to the hub and to
/// another device, verified there like a push and like a pull.
@Suite("Bundles", .serialized)
struct BundleTests {
    static let notes = CollectionName("notes")!
    static let now: UInt64 = 1_780_000_000_000

    /// A hub with signature checks on (``IntegrityTests/Network``).
    typealias Network = IntegrityTests.Network

    static func key(_ id: String) -> DocumentKey { DocumentKey(collection: notes, id: DocumentID(id)!) }

    @discardableResult
    static func write(_ store: ReplicaStore, _ id: String, _ title: String, partition: String? = nil) throws -> Version {
        try store.write(
            WriteIntent(key: key(id), partition: partition.map { Partition($0)! }, body: Data(#"{"title":"\#(title)"}"#.utf8)))
    }

    static func title(_ store: ReplicaStore, _ id: String) throws -> String? {
        try store.document(key(id)).flatMap { $0.siblings.first?.body }.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The bundle file of everything `store` holds, read back as the receiver reads it.
    static func roundTrip(_ store: ReplicaStore, lacking knowledge: VersionVector = VersionVector()) throws -> SyncBundle {
        try BundleFile.decode(try BundleFile.encode(try FieldBundles.export(from: store, lacking: knowledge, now: now)))
    }

    static func versionCount(_ store: ReplicaStore) throws -> Int { try store.status().versions }

    // MARK: Convergence

    @Test("a bundle from one device converges at the hub and at another device, and the answer carries only what the exporter lacks")
    func exportImportConverges() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        for index in 1...3 { try Self.write(a, "r\(index)", "report \(index)") }
        let bundle = try Self.roundTrip(a)
        #expect(bundle.versions.count == 3)
        #expect(bundle.certificates.contains { $0.replica == a.replicaID })

        let atHub = try await network.hub.importBundle(bundle, logger: silentLogger)
        #expect(atHub.accepted == 3 && atHub.rejected.isEmpty)
        #expect(try network.hubStore.knowledge()[a.replicaID] == 3)

        let atB = try await FieldBundles.importBundle(bundle, into: b, now: Self.now)
        #expect(atB.stored == 3 && atB.keptApart.isEmpty && atB.newKeys == 1)
        #expect(try Self.title(b, "r2") == #"{"title":"report 2"}"#)

        // B answers with what A lacks, by the knowledge A's bundle carried: only B's own report.
        try Self.write(b, "r4", "from b")
        let answer = try Self.roundTrip(b, lacking: try #require(try b.bundlePeerKnowledge(of: a.replicaID)))
        #expect(answer.versions.map(\.dot) == [Dot(replica: b.replicaID, counter: 1)])
        let atA = try await FieldBundles.importBundle(answer, into: a, now: Self.now)
        #expect(atA.stored == 1 && atA.keptApart.isEmpty)
        #expect(try Self.title(a, "r4") == #"{"title":"from b"}"#)

        // B relays A's reports to the hub it syncs with: it holds them already, nothing moves twice.
        try await network.sync(b)
        #expect(try network.hubStore.knowledge()[b.replicaID] == 1)
        #expect(try Self.versionCount(network.hubStore) == 4)
    }

    @Test("export --to hub carries only what the hub lacked at the last sync")
    func exportForTheHub() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a")
        try Self.write(a, "r1", "synced")
        try Self.write(a, "r2", "synced too")
        // The peer is named by a URL, as `fieldcli sync` names it; the link is in process.
        _ = try await Synchronizer(
            store: a, transport: InProcessTransport(hub: network.hub), peer: "https://hub.example:8443",
            configuration: .init(retry: .never), logger: silentLogger
        ).run()
        let unsent = try Self.write(a, "r3", "written offline")
        let knowledge = try FieldCLI.BundleCommand.Export.knowledge(of: "hub", in: a)
        let bundle = try FieldBundles.export(from: a, lacking: knowledge, now: Self.now)
        #expect(bundle.versions.map(\.dot) == [unsent.dot])
        #expect(throws: InvalidInput.self) { try FieldCLI.BundleCommand.Export.knowledge(of: "0123abcd", in: a) }
    }

    // MARK: Idempotence

    @Test("a bundle imported twice changes nothing, at a device and at the hub")
    func importedTwice() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        for index in 1...4 { try Self.write(a, "r\(index)", "report \(index)") }
        let bundle = try Self.roundTrip(a)

        _ = try await FieldBundles.importBundle(bundle, into: b, now: Self.now)
        let (versions, knowledge) = (try Self.versionCount(b), try b.knowledge())
        let again = try await FieldBundles.importBundle(bundle, into: b, now: Self.now + 1)
        #expect(again.stored == 0 && again.alreadyHeld == 4)
        #expect(try Self.versionCount(b) == versions && b.knowledge() == knowledge)

        let first = try await network.hub.importBundle(bundle, logger: silentLogger)
        let hubVersions = try Self.versionCount(network.hubStore)
        let second = try await network.hub.importBundle(bundle, logger: silentLogger)
        #expect(first.accepted == 4 && second.accepted == 0 && second.rejected.isEmpty)
        #expect(try Self.versionCount(network.hubStore) == hubVersions)
    }

    // MARK: Damaged files

    @Test("a truncated bundle is refused before anything is read, wherever it is cut", arguments: [1, 7, 25, 30, 80, 33])
    func truncated(cutFromEnd: Int) async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a")
        for index in 1...3 { try Self.write(a, "r\(index)", "report \(index)") }
        let file = try BundleFile.encode(try FieldBundles.export(from: a, lacking: VersionVector(), now: Self.now))
        let cut = file.prefix(file.count - min(cutFromEnd, file.count - 9))
        #expect(throws: SyncBundleError.self) { try BundleFile.decode(cut) }
        do {
            _ = try BundleFile.decode(cut)
        } catch {
            #expect(error.code == .truncated)
        }
        // The magic alone is no bundle either.
        #expect(throws: SyncBundleError(.notABundle, "This file is not a Vigil bundle.")) {
            try BundleFile.decode(file.prefix(5))
        }
    }

    @Test("a bundle with one byte flipped is refused, wherever the byte is")
    func byteFlipped() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a")
        for index in 1...3 { try Self.write(a, "r\(index)", "report \(index)") }
        let file = try BundleFile.encode(try FieldBundles.export(from: a, lacking: VersionVector(), now: Self.now))
        #expect(try BundleFile.decode(file).versions.count == 3)
        var generator = SeededGenerator(seed: 13)
        let positions = [0, 9, 12, 20, SyncBundleFrame.headerSize, file.count - 1] + (0..<20).map { _ in Int.random(in: 0..<file.count, using: &generator) }
        for position in positions {
            var flipped = file
            flipped[position] ^= 0x20
            #expect(throws: SyncBundleError.self, "flipping byte \(position)") { try BundleFile.decode(flipped) }
        }
        var longer = file
        longer.append(0)
        #expect(throws: SyncBundleError.self) { try BundleFile.decode(longer) }
    }

    // MARK: Verification

    @Test("a version outside its author's write scope is quarantined at the hub, as in a push")
    func outOfScopeQuarantinedAtHub() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let north = AccessGrants(read: .everything, write: try #require(Scope(text: "notes/north")))
        let a = try await network.enrolled("a", grants: north)
        let inScope = try Self.write(a, "ok", "in scope", partition: "north")
        let outside = try Self.write(a, "far", "outside", partition: "south")
        let result = try await network.hub.importBundle(try Self.roundTrip(a), logger: silentLogger)
        #expect(result.accepted == 1)
        let rejection = try #require(result.rejected.first)
        #expect(result.rejected.count == 1 && rejection.dot == outside.dot)
        #expect(rejection.reason == .outOfScope && rejection.quarantined)
        #expect(try network.hubStore.document(Self.key("far"))?.siblings.isEmpty ?? true)
        #expect(try network.hubStore.document(Self.key("ok"))?.siblings.map(\.dot) == [inScope.dot])
    }

    @Test("a version whose signature is forged is kept apart at a device, never shown, and quarantined at the hub")
    func forgedSignatureNotShown() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        try Self.write(a, "r1", "genuine")
        try Self.write(a, "r2", "genuine too")
        var bundle = try Self.roundTrip(a)
        // Whoever held the stick rewrote one report and sealed the file again: the frame is whole.
        let index = try #require(bundle.versions.firstIndex { $0.documentID.rawValue == "r1" })
        bundle.versions[index].body = Data(#"{"title":"forged"}"#.utf8)
        let resealed = try BundleFile.decode(try BundleFile.encode(bundle))

        let atB = try await FieldBundles.importBundle(resealed, into: b, now: Self.now)
        #expect(atB.keptApart.map(\.dot) == [bundle.versions[index].dot])
        #expect(atB.keptApart.first?.reason == .badSignature)
        #expect(try b.document(Self.key("r1")) == nil)
        #expect(try Self.title(b, "r2") == #"{"title":"genuine too"}"#)
        #expect(try b.unverifiedVersions().map(\.version.dot) == [bundle.versions[index].dot])

        let atHub = try await network.hub.importBundle(resealed, logger: silentLogger)
        #expect(atHub.rejected.map(\.reason) == [.badSignature])
    }

    /// Schedule (found by review): a hostile device writes a bundle naming a victim as its
    /// exporter, carrying the victim's next counter under a garbage signature; an operator imports
    /// it at the hub. Before, the hub took the exporter at the bundle's word: the bad version was
    /// quarantined in place at the victim's dot, and the victim's genuine version there was then
    /// refused as a fork, with evidence its client cannot accept (every later report of the
    /// victim refused). Now a bundle's bad versions are kept apart, whoever it names.
    @Test("a bundle naming another device as its exporter cannot take that device's next dot")
    func aBundleCannotTakeItsNamedExportersDot() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (victim, reader) = (try await network.enrolled("victim"), try await network.enrolled("reader"))
        try Self.write(victim, "r1", "first")
        try await network.sync(victim)
        let garbage = try DeviceKey().sign(
            Version(
                dot: Dot(replica: victim.replicaID, counter: 2), collection: Self.notes,
                documentID: try #require(DocumentID("r2")), partition: .default, context: VersionVector(),
                body: Data(#"{"title":"planted"}"#.utf8), timestamp: HybridTimestamp(wallMilliseconds: Self.now)))
        let bundle = SyncBundle(
            exporter: victim.replicaID, hub: nil, knowledge: VersionVector(), createdAt: Self.now, versions: [garbage])
        let atHub = try await network.hub.importBundle(bundle, logger: silentLogger)
        #expect(atHub.rejected.map(\.reason) == [.badSignature])

        try Self.write(victim, "r2", "second")
        try await network.sync(victim)
        try await network.sync(reader)
        #expect(try Self.title(reader, "r2") == #"{"title":"second"}"#)
    }

    @Test("an author whose key no certificate of the pinned hub vouches for is kept apart at a device")
    func uncertifiedAuthorKeptApart() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        try Self.write(a, "r1", "report")
        var bundle = try Self.roundTrip(a)
        bundle.certificates = []
        let atB = try await FieldBundles.importBundle(bundle, into: b, now: Self.now)
        #expect(atB.keptApart.map(\.reason) == [.unknownKey])
        #expect(try b.document(Self.key("r1")) == nil)
    }

    /// Schedule: S syncs a report and is revoked; A syncs (it pulls S's report and the hub's notice);
    /// the captor adds a version signed with S's key to A's bundle and seals the file again. B has
    /// never synced: it learns S's key and the revocation from the bundle alone.
    @Test("revocation notices travel in bundles: a version above the horizon is kept apart at a device and refused at the hub")
    func revocationTravels() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let seized = try await network.enrolled("seized")
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        try Self.write(seized, "s1", "before")
        try await network.sync(seized)
        _ = try await DeviceAdministration(store: network.hubStore).revoke("seized")
        try await network.sync(a)
        let injected = try Self.write(seized, "s2", "injected")
        var bundle = try Self.roundTrip(a)
        #expect(bundle.revocations.map(\.replica) == [seized.replicaID])
        bundle.versions.append(injected)
        let carried = try BundleFile.decode(try BundleFile.encode(bundle))

        let atB = try await FieldBundles.importBundle(carried, into: b, now: Self.now)
        #expect(atB.keptApart.map(\.reason) == [.revoked])
        #expect(try Self.title(b, "s1") == #"{"title":"before"}"#)
        #expect(try b.document(Self.key("s2")) == nil)
        #expect(try b.revocationHorizons()[seized.replicaID] == 1)

        let atHub = try await network.hub.importBundle(carried, logger: silentLogger)
        #expect(atHub.rejected.map(\.reason) == [.revoked] && atHub.accepted == 0)
    }

    @Test("a bundle written under another hub changes nothing at a device or at the hub")
    func foreignNetworkRefused() async throws {
        let (home, elsewhere) = (try Network(), try Network())
        defer {
            home.folder.remove()
            elsewhere.folder.remove()
        }
        let a = try await home.enrolled("a")
        let stranger = try await elsewhere.enrolled("stranger")
        try Self.write(a, "r1", "report")
        let bundle = try Self.roundTrip(a)
        await #expect(throws: SyncBundleError.self) { try await FieldBundles.importBundle(bundle, into: stranger, now: Self.now) }
        await #expect(throws: SyncBundleError.self) { try await elsewhere.hub.importBundle(bundle, logger: silentLogger) }
        #expect(try Self.versionCount(stranger) == 0)
        #expect(try elsewhere.hubStore.knowledge()[a.replicaID] == 0)
    }

    // MARK: Attachments

    /// A device whose hub last granted it `read` (as a sync with a URL-named hub saves it).
    static func limit(_ store: ReplicaStore, read: String) throws {
        try store.updatePeer("https://hub.example:8443") { peer in
            peer.grants = AttachmentFixtures.grants(read: read)
            peer.lastSyncAt = 1
        }
    }

    @Test("photos travel with their reports, checked; a photo altered on the stick is not kept; nothing outside the read scope travels")
    func attachmentsTravel() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (a, b, c) = (try await network.enrolled("a"), try await network.enrolled("b"), try await network.enrolled("c"))
        let (north, south) = (AttachmentFixtures.bytes(300_000, seed: 1), AttachmentFixtures.bytes(90_000, seed: 2))
        let northManifest = try AttachmentFixtures.attach(north, to: a, id: "o1", region: "SD-DN")
        let southManifest = try AttachmentFixtures.attach(south, to: a, id: "o2", region: "SD-KA")
        let bundle = try Self.roundTrip(a)
        #expect(bundle.attachments?.map(\.sha256) == [northManifest.sha256, southManifest.sha256])

        try Self.limit(b, read: "observations/SD-DN")
        let atB = try await FieldBundles.importBundle(bundle, into: b, now: Self.now)
        #expect(atB.stored == 1 && atB.outsideReadScope == 1 && atB.attachmentsStored == 1)
        #expect(try AttachmentFixtures.held(northManifest.sha256, in: b) == north)
        #expect(try AttachmentFixtures.held(southManifest.sha256, in: b) == nil)
        let again = try await FieldBundles.importBundle(bundle, into: b, now: Self.now)
        #expect(again.attachmentsStored == 0 && again.attachmentsRefused == 0)

        var altered = bundle
        altered.attachmentFiles[0][10] ^= 0x01
        let atC = try await FieldBundles.importBundle(
            try BundleFile.decode(try BundleFile.encode(altered)), into: c, now: Self.now)
        #expect(atC.stored == 2 && atC.attachmentsStored == 1 && atC.attachmentsRefused == 1)
        #expect(try AttachmentFixtures.held(northManifest.sha256, in: c) == nil)
        #expect(try AttachmentFixtures.held(southManifest.sha256, in: c) == south)
        #expect(try FieldBundles.export(from: a, lacking: VersionVector(), now: Self.now, attachments: false).attachmentFiles.isEmpty)
    }

    @Test("at the hub, a bundle's photos are taken as their authors' uploads: within the write scope, checked, once")
    func attachmentsAtTheHub() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a", grants: AttachmentFixtures.grants(read: "*", write: "observations/SD-DN"))
        let inScope = try AttachmentFixtures.attach(AttachmentFixtures.bytes(300_000, seed: 3), to: a, id: "o1", region: "SD-DN")
        let outside = try AttachmentFixtures.attach(AttachmentFixtures.bytes(1_000, seed: 4), to: a, id: "o2", region: "SD-KA")
        let bundle = try Self.roundTrip(a)
        let versions = try await network.hub.importBundle(bundle, logger: silentLogger)
        #expect(versions.accepted == 1 && versions.rejected.map(\.reason) == [.outOfScope])

        let attachments = HubAttachments(storage: SQLiteHubAttachmentStorage(store: network.hubStore), limits: HubConfiguration().limits)
        let files = try await attachments.importFiles(of: bundle, devices: try network.hubStore.devices())
        #expect(files.stored == 1 && files.refused.map(\.sha256) == [outside.sha256])
        #expect(try network.hubStore.attachmentManifest(inScope.sha256)?.complete == true)
        #expect(try network.hubStore.attachmentManifest(outside.sha256) == nil)
        let again = try await attachments.importFiles(of: bundle, devices: try network.hubStore.devices())
        #expect(again.stored == 0 && again.alreadyHeld == 1)
    }

    @Test("a bundle of 50 reports and 20 photos is at most 1.05 × (gzip of its bodies + the photos' bytes + 80 B per version)")
    func compactWithPhotos() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a")
        var bodies = Data()
        var photoBytes = 0
        for index in 1...50 {
            if index <= 20 {
                let photo = AttachmentFixtures.bytes(200_000, seed: UInt64(index))
                photoBytes += photo.count
                try AttachmentFixtures.attach(photo, to: a, id: "o\(index)")
            } else {
                try Self.write(a, "n\(index)", "report \(index) without a photo")
            }
        }
        for version in try Self.roundTrip(a).versions { bodies.append(version.body ?? Data()) }
        let file = try BundleFile.encode(try FieldBundles.export(from: a, lacking: VersionVector(), now: Self.now))
        var input = ByteBuffer(bytes: bodies)
        let budget = Double(try input.compress(with: .gzip()).readableBytes + photoBytes + 80 * 50)
        print("bundle of 50 reports and 20 photos: \(file.count) B; budget \(Int(budget)) B; ratio \(String(format: "%.4f", Double(file.count) / budget)) (limit 1.05)")
        #expect(Double(file.count) <= 1.05 * budget)
    }

    // MARK: Size

    static let words = [
        "checkpoint", "road", "closed", "market", "armed", "group", "village", "displaced", "families", "north", "river", "clinic",
    ]

    /// Issue 13's budget: a bundle is at most 1.05 × (gzip of its bodies + 80 B per version), for
    /// 500 short notes with short ids and for 200 observations that differ in a few words, with the
    /// UUIDv7 ids `fieldcli` gives. Format 1 (every version in its wire form, in one JSON array)
    /// measured 1.02 and 1.20 here: each version's own fields broke gzip's matches between one body
    /// and the next. Format 2 keeps the versions' fields in columns and the bodies together.
    @Test(
        "a bundle is at most 1.05 × (gzip of its bodies + 80 B per version), for short notes and for near-identical observations",
        arguments: [(500, false, 1.05), (200, true, 1.05)])
    func compact(reports: Int, observations: Bool, limit: Double) async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let a = try await network.enrolled("a")
        var generator = SeededGenerator(seed: 5)
        var bodies = Data()
        for index in 1...reports {
            let text = (0..<Int.random(in: 8...30, using: &generator)).map { _ in Self.words.randomElement(using: &generator)! }
                .joined(separator: " ")
            let body = observations
                ? Data(SampleRecords.observation.replacingOccurrences(of: "12", with: "\(index % 40)")
                    .replacingOccurrences(of: "Armed men on motorbikes", with: text).utf8)
                : Data(#"{"title":"report \#(index)","notes":"\#(text)","severity":\#(index % 5)}"#.utf8)
            bodies.append(body)
            let id = observations ? DocumentID.generate() : DocumentID("r\(index)")!
            try a.write(WriteIntent(key: DocumentKey(collection: Self.notes, id: id), body: body))
        }
        let file = try BundleFile.encode(try FieldBundles.export(from: a, lacking: VersionVector(), now: Self.now))
        var input = ByteBuffer(bytes: bodies)
        let gzipped = try input.compress(with: .gzip()).readableBytes
        let budget = Double(gzipped + 80 * reports)
        print(
            "bundle of \(reports) \(observations ? "observations" : "short notes"): \(file.count) B; gzip of bodies \(gzipped) B; "
                + "gzip + 80 B × versions = \(Int(budget)) B; ratio \(String(format: "%.3f", Double(file.count) / budget)) (limit \(limit))")
        #expect(Double(file.count) <= limit * budget)
    }
}

extension BundleTests {
    // MARK: Formats

    /// Versions of every shape: two origins, a context, a tombstone, an empty body, a receipt, ids
    /// of the UUID form (carried as 16 bytes) and one in capitals (carried as text).
    static func assorted(_ network: Network) async throws -> (ReplicaStore, SyncBundle) {
        let (a, b) = (try await network.enrolled("a"), try await network.enrolled("b"))
        try Self.write(a, "r1", "first", partition: "north")
        try Self.write(a, "r2", "second")
        try Self.write(a, "r4", "left as it is")
        _ = try await FieldBundles.importBundle(try Self.roundTrip(a), into: b, now: Self.now)
        try Self.write(b, "r1", "edited by b", partition: "north")
        try b.write(WriteIntent(key: Self.key("r3"), body: Data("{}".utf8)))
        try b.write(WriteIntent(key: Self.key("r2"), body: nil))
        for id in [DocumentID.generate(), DocumentID("0190A1B2-C3D4-7E5F-8A6B-0C1D2E3F4A5B")!] {
            try b.write(WriteIntent(key: DocumentKey(collection: Self.notes, id: id), body: Data(#"{"title":"\#(id)"}"#.utf8)))
        }
        var bundle = try FieldBundles.export(from: b, lacking: VersionVector(), now: Self.now)
        bundle.versions[1].receipt = AdmissionReceipt(bytes: Data(repeating: 7, count: AdmissionReceipt.byteCount))
        return (b, bundle)
    }

    @Test("format 2 carries every field of every version: origins, counters, contexts, tombstones, clocks, receipts")
    func columnsKeepEveryField() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (_, bundle) = try await Self.assorted(network)
        #expect(bundle.versions.contains { $0.isTombstone } && bundle.versions.contains { !$0.context.entries.isEmpty })
        #expect(Set(bundle.versions.map(\.dot.replica)).count == 2)
        #expect(bundle.versions.contains { BundleIDForm.isUUID($0.documentID) })
        #expect(bundle.versions.contains { $0.documentID.rawValue.hasPrefix("0190A1B2") })
        let file = try BundleFile.encode(bundle)
        #expect(file[8..<10] == Data([0, 2]))
        let read = try BundleFile.decode(file)
        #expect(read == bundle)
        #expect(read.versions.map(\.receipt) == bundle.versions.map(\.receipt))
        #expect(read.versions.map(\.timestamp) == bundle.versions.map(\.timestamp))
    }

    /// Schedule: a device of the previous release exports a bundle (format 1); a device of this
    /// release and the hub import it.
    @Test("a format-1 bundle, as the previous release wrote it, still reads the same and imports")
    func formatOneStillReads() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (_, bundle) = try await Self.assorted(network)
        let old = try BundleFile.encode(bundle, format: 1)
        #expect(old[8..<10] == Data([0, 1]))
        let read = try BundleFile.decode(old)
        #expect(read == bundle)
        let c = try await network.enrolled("c")
        let atC = try await FieldBundles.importBundle(read, into: c, now: Self.now)
        #expect(atC.stored == bundle.versions.count && atC.keptApart.isEmpty)
        #expect(try Self.title(c, "r1") == #"{"title":"edited by b"}"#)
        let atHub = try await network.hub.importBundle(read, logger: silentLogger)
        #expect(atHub.accepted == bundle.versions.count && atHub.rejected.isEmpty)
    }

    /// Rewrites the JSON of a format-2 content with `change`, keeping the rest.
    static func rewritten(_ content: Data, _ change: (inout [String: Any]) -> Void) throws -> Data {
        let length = Int(content.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        var json = try #require(try JSONSerialization.jsonObject(with: content.subdata(in: 8..<8 + length)) as? [String: Any])
        change(&json)
        let data = try JSONSerialization.data(withJSONObject: json)
        var rewritten = Data()
        for index in (0..<8).reversed() { rewritten.append(UInt8(truncatingIfNeeded: UInt64(data.count) >> (8 * UInt64(index)))) }
        return rewritten + data + content.subdata(in: 8 + length..<content.count)
    }

    @Test(
        "a format-2 content whose columns do not add up is refused whole",
        arguments: ["bodyLength", "counterStep", "wallStep", "origin", "id", "receiptIndex"])
    func inconsistentColumnsRefused(column: String) async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (_, bundle) = try await Self.assorted(network)
        let content = try bundle.encodedContent()
        #expect(try SyncBundle(content: content) == bundle)
        let broken = try Self.rewritten(content) { json in
            guard var columns = json["columns"] as? [String: Any], var values = columns[column] as? [Any] else { return }
            switch column {
            case "bodyLength": values[0] = 1_000_000  // more than the content holds
            case "counterStep": values[0] = 0  // counter 0
            case "wallStep": values[0] = -1  // before 1970
            case "origin": values[0] = 9  // no such origin
            case "id": values.removeLast()  // one id short
            default: values = [99]  // no such version
            }
            columns[column] = values
            json["columns"] = columns
        }
        #expect(throws: SyncBundleError(.damaged, "The bundle's content cannot be read although its SHA-256 matches; it was not written by Vigil.")) {
            try SyncBundle(content: broken)
        }
    }

    @Test("a format-2 body that is not UTF-8 is refused whole, as format 1 could not carry one")
    func bodyNotUTF8Refused() async throws {
        let network = try Network()
        defer { network.folder.remove() }
        let (_, bundle) = try await Self.assorted(network)
        var content = try bundle.encodedContent()
        let length = Int(content.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })
        // After the JSON: the 16 bytes of each id of the UUID form, then the first body's `{`.
        let uuids = bundle.versions.filter { BundleIDForm.isUUID($0.documentID) }.count
        let first = 8 + length + 16 * uuids
        #expect(content[first] == UInt8(ascii: "{"))
        content[first] = 0xFF
        #expect(throws: SyncBundleError.self) { try SyncBundle(content: content) }
    }

    @Test("a bundle in a format this build does not read is refused, naming both formats")
    func unknownFormatRefused() async throws {
        let file = SyncBundleFrame.seal(payload: Data([1, 2, 3]), contentLength: 3, format: 3)
        do {
            _ = try BundleFile.decode(file)
            Issue.record("format 3 was read")
        } catch {
            #expect(error.code == .unsupportedFormat && error.message.contains("format 3") && error.message.contains("1 to 2"))
        }
    }
}

/// Which ids format 2 carries as 16 bytes: the UUID form in lowercase hex digits.
enum BundleIDForm {
    static func isUUID(_ id: DocumentID) -> Bool {
        id.rawValue.range(of: "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", options: .regularExpression) != nil
    }
}

extension IntegrityTests.Network {
    /// A new replica enrolled as `fieldcli enroll` does it: it pins the hub's key and keeps the
    /// hub's certificate of its own key, which its bundles carry.
    func enrolled(_ name: String, grants: AccessGrants = .everything) async throws -> ReplicaStore {
        let store = try folder.create(name)
        let code = try await DeviceAdministration(store: hubStore).addDevice(name: name, grants: grants, lifetime: .seconds(600)).code
        let answer = try await hub.enroll(try store.enrollmentRequest(code: code), logger: silentLogger)
        try store.pinHub(answer.hub, key: try #require(answer.hubKey))
        try store.saveOwnCertificate(try #require(answer.certificate))
        return store
    }
}
