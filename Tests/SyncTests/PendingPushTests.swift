import Foundation
import ReplicaStore
import SyncClient
import SyncEngine
import SyncHub
import Synchronization
import Testing
import TestSupport

/// Operators see how many versions wait on each device (issue 15's fleet page): each request says
/// about how many versions remain to push after it, and the hub keeps the last figure, bounded.
@Suite("Pending pushes")
struct PendingPushTests {
    /// A link that records what each request said was pending.
    final class RecordingLink: SyncTransport {
        let base: FaultLink
        let reported = Mutex<[Int?]>([])

        init(_ base: FaultLink) { self.base = base }

        func exchange(_ request: SyncRequest) async throws -> TransportReply {
            reported.withLock { $0.append(request.pending) }
            return try await base.exchange(request)
        }
    }

    @Test("a sync pushing two versions a round reports what remains after each push, and the hub keeps the last figure")
    func clientReportsWhatRemains() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try HubSlot(path: folder.path("hub"), options: folder.options)
            let device = try await FaultDevice.enroll("field", write: "*", in: folder, at: hub)
            for index in 0..<5 { try ScopeTests.write(device.store, "n\(index)", in: "SD-DN") }
            let link = RecordingLink(FaultLink(hub: hub, credential: device.credential))
            _ = try await Synchronizer(
                store: device.store, transport: link, peer: FaultSchedule.peer,
                configuration: .init(pushVersions: 2, retry: .never), logger: silentLogger
            ).run()
            #expect(link.reported.withLock { $0 } == [3, 1, 0])
            #expect(try await DeviceAdministration(store: try hub.store()).list().first?.lastPending == 0)
        }
    }

    @Test("the hub keeps a reported figure within 0…maxPending, and an exchange that reports none keeps the last one")
    func hubBoundsTheFigure() async throws {
        try await TemporaryReplica.withFolder { folder in
            let hub = try HubSlot(path: folder.path("hub"), options: folder.options)
            let device = try await FaultDevice.enroll("field", write: "*", in: folder, at: hub)
            let cases: [(sent: Int?, kept: Int?)] = [
                (7, 7), (nil, 7), (-5, 0), (Int.max, SyncRequest.maxPending), (12, 12),
            ]
            for (sent, kept) in cases {
                var request = SyncRequest(replica: device.store.replicaID, counter: 0, checkpoint: nil, push: [])
                request.pending = sent
                _ = try await FaultLink(hub: hub, credential: device.credential).exchange(request)
                #expect(try await DeviceAdministration(store: try hub.store()).list().first?.lastPending == kept, "sent \(String(describing: sent))")
            }
        }
    }
}
