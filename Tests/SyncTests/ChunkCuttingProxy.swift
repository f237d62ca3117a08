import Foundation
import Synchronization

/// A TCP proxy on 127.0.0.1 in front of a hub that counts the bytes each way and, when armed,
/// cuts the link after a given number of bytes in one direction: it forwards up to that byte,
/// then shuts both sockets of the connection, as a satellite link dropping mid-transfer would.
/// Later connections are relayed normally (the next sync finds the link back).
final class ChunkCuttingProxy: Sendable {
    private let relay: LoopbackRelay<Cutter>

    init(targetPort: Int) throws {
        relay = try LoopbackRelay(targetPort: targetPort, policy: Cutter())
    }

    var port: Int { relay.port }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Bytes relayed client to hub and hub to client since the last reset.
    var counts: (up: Int, down: Int, cuts: Int) { relay.policy.state.withLock { ($0.up, $0.down, $0.cuts) } }

    func reset() { relay.policy.state.withLock { $0.up = 0; $0.down = 0 } }

    /// Cuts the link once `bytes` more bytes went client to hub (`upstream`) or hub to client.
    func armCut(after bytes: Int, upstream: Bool) {
        relay.policy.state.withLock { if upstream { $0.cutUp = bytes } else { $0.cutDown = bytes } }
    }

    func stop() { relay.stop() }

    /// Counts, and cuts when an armed budget runs out.
    final class Cutter: RelayPolicy {
        struct State {
            var up = 0
            var down = 0
            /// Bytes still allowed through before the cut, per direction (nil: no cut armed).
            var cutUp: Int?
            var cutDown: Int?
            var cuts = 0
        }

        let state = Mutex(State())

        func accepted(_ connection: Int32) {}
        func ended(_ connection: Int32) {}

        func relay(_ count: Int, upstream: Bool, on connection: Int32) -> (allowed: Int, end: Bool) {
            state.withLock { state in
                let budget = upstream ? state.cutUp : state.cutDown
                let allowed = budget.map { min($0, count) } ?? count
                if upstream { state.up += allowed } else { state.down += allowed }
                guard let budget else { return (allowed, false) }
                let left = budget - allowed
                let cut = left <= 0
                if upstream { state.cutUp = cut ? nil : left } else { state.cutDown = cut ? nil : left }
                if cut { state.cuts += 1 }
                return (allowed, cut)
            }
        }
    }
}
