import Foundation
import HubStore
import HubStoreSQLite
import Logging
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Testing
import TestSupport

/// The scope simulation: devices write in several partitions, sync in small and cut-short
/// exchanges, while an operator changes their scopes at random. In the end each device holds
/// exactly the hub's state of every document its read scope covers, and nothing of others'
/// outside it.
@Suite("Scope convergence")
struct ScopeConvergenceTests {
    static let notes = CollectionName("notes")!
    static let partitions = ["SD-DN", "SD-KH", "ML-1"].compactMap { Partition($0) }
    static let readScopes = ["*", "notes/SD-*", "notes/SD-DN", "notes/ML-1", "notes/SD-KH,notes/ML-1", "none"]
    static let writeScopes = ["*", "*", "notes/SD-*", "notes/ML-1"]

    /// A device's link to an in-process hub, with its credential, through the JSON wire form.
    struct DeviceLink: SyncTransport {
        let hub: HubExchange
        let credential: DeviceCredential

        func exchange(_ request: SyncRequest) async throws -> TransportReply {
            let sent = try JSONEncoder().encode(request)
            guard let device = try await hub.devices.device(presenting: credential) else {
                throw SyncClientError(.unauthorized, "unknown credential")
            }
            let response = try await hub.handle(
                try JSONDecoder().decode(SyncRequest.self, from: sent), device: device, logger: silentLogger)
            let received = try JSONEncoder().encode(response)
            return TransportReply(
                response: try JSONDecoder().decode(SyncResponse.self, from: received), bytesSent: sent.count,
                bytesReceived: received.count)
        }
    }

    @Test("random writes, cut syncs and scope changes end with every device holding exactly its scope", arguments: propertySeeds)
    func convergesWithinScopes(seed: UInt64) async throws {
        try await TemporaryReplica.withFolder { folder in
            var random = SeededGenerator(seed: seed)
            let hubStore = try folder.create("hub")
            let hub = HubExchange(storage: try SQLiteHubStorage(store: hubStore), configuration: HubConfiguration(), logger: silentLogger)
            let administration = DeviceAdministration(store: hubStore)
            let devices = try folder.create(count: 3)
            var links: [DeviceLink] = []
            for device in devices {
                let code = try await administration.addDevice(name: "device-\(device.replicaID.short)", lifetime: .seconds(600)).code
                let credential = try await hub.enroll(try device.enrollmentRequest(code: code), logger: silentLogger).credential
                links.append(DeviceLink(hub: hub, credential: try #require(DeviceCredential(credential))))
            }
            let keys = (0..<9).map { DocumentKey(collection: Self.notes, id: DocumentID("d\($0)")!) }

            for step in 0..<90 {
                let index = Int.random(in: 0..<devices.count, using: &random)
                let roll = Double.random(in: 0..<1, using: &random)
                if roll < 0.45 {
                    let which = Int.random(in: 0..<keys.count, using: &random)
                    let intent = WriteIntent(
                        key: keys[which], partition: Self.partitions[which % Self.partitions.count],
                        body: Data(#"{"step":\#(step)}"#.utf8))
                    _ = try? devices[index].write(intent)  // an edit of a conflicted document is refused
                } else if roll < 0.8 {
                    let configuration = Synchronizer.Configuration(
                        pageLimits: PageLimits(versions: Int.random(in: 1...4, using: &random)),
                        maxRoundTrips: Bool.random(using: &random) ? Int.random(in: 1...3, using: &random) : 10_000,
                        retry: .never)
                    try await Synchronizer(
                        store: devices[index], transport: links[index], peer: "hub", configuration: configuration,
                        logger: silentLogger
                    ).run()
                } else {
                    let read = Self.readScopes[Int.random(in: 0..<Self.readScopes.count, using: &random)]
                    let write = Self.writeScopes[Int.random(in: 0..<Self.writeScopes.count, using: &random)]
                    _ = try await administration.setScopes(
                        read: Scope(text: read), write: Scope(text: write), of: devices[index].replicaID.hex)
                }
            }

            // Everyone syncs until a whole pass moves nothing.
            var quiet = false
            for _ in 0..<10 where !quiet {
                quiet = true
                for (device, link) in zip(devices, links) {
                    let summary = try await Synchronizer(store: device, transport: link, peer: "hub", logger: silentLogger).run()
                    if !summary.isQuiet || summary.documentsForgotten > 0 { quiet = false }
                }
            }
            #expect(quiet, "seed \(seed): the devices did not become quiet")

            let grants = Dictionary(uniqueKeysWithValues: try await administration.list().map { ($0.replicaID, $0.grants) })
            for device in devices {
                let scope = try #require(grants[device.replicaID]).read
                #expect(try device.peerState("hub").grants?.read == scope, "seed \(seed): the device's grants are not the hub's")
                for key in keys {
                    let held = try device.document(key)
                    // The state kept as versions came and went equals the state of the versions held.
                    let good = try device.history(of: key).filter { $0.setAsideReason == nil }.map(\.version)
                    #expect(
                        held?.state ?? DocumentState() == DocumentState(merging: good),
                        "seed \(seed): \(key)'s kept state on \(device.replicaID.short) is not its versions' state")
                    let expected = try hubStore.document(key)
                    guard let partition = held?.partition ?? expected?.partition else { continue }
                    if scope.allows(collection: key.collection, partition: partition) {
                        #expect(
                            Self.siblings(held) == Self.siblings(expected),
                            "seed \(seed): \(key) differs between \(device.replicaID.short) and the hub")
                    } else {
                        let foreign = try device.history(of: key).filter {
                            $0.version.dot.replica != device.replicaID && $0.setAsideReason == nil
                        }
                        #expect(foreign.isEmpty, "seed \(seed): \(device.replicaID.short) still holds others' versions of \(key)")
                    }
                }
            }
        }
    }

    /// A document's siblings; none for a document not held.
    static func siblings(_ document: StoredDocument?) -> [Version] {
        document?.siblings ?? []
    }
}
