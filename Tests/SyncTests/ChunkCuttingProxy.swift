import Foundation
import Synchronization

/// A TCP proxy on 127.0.0.1 in front of a hub that counts the bytes each way and, when armed,
/// cuts the link after a given number of bytes in one direction: it forwards up to that byte,
/// then shuts both sockets of the connection, as a satellite link dropping mid-transfer would.
/// Later connections are relayed normally (the next sync finds the link back).
final class ChunkCuttingProxy: Sendable {
    struct State {
        var up = 0
        var down = 0
        /// Bytes still allowed through before the cut, per direction (nil: no cut armed).
        var cutUp: Int?
        var cutDown: Int?
        var cuts = 0
        var sockets: Set<Int32> = []
        var stopped = false
    }

    let port: Int
    private let targetPort: Int
    private let listener: Int32
    private let state = Mutex(State())

    init(targetPort: Int) throws {
        self.targetPort = targetPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw ProxyError.socket }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw ProxyError.socket
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    enum ProxyError: Error { case socket }

    var url: URL { URL(string: "http://127.0.0.1:\(port)")! }

    /// Bytes relayed client to hub and hub to client since the last reset.
    var counts: (up: Int, down: Int, cuts: Int) { state.withLock { ($0.up, $0.down, $0.cuts) } }

    func reset() { state.withLock { $0.up = 0; $0.down = 0 } }

    /// Cuts the link once `bytes` more bytes went client to hub (`upstream`) or hub to client.
    func armCut(after bytes: Int, upstream: Bool) {
        state.withLock { if upstream { $0.cutUp = bytes } else { $0.cutDown = bytes } }
    }

    func stop() {
        let open = state.withLock { state -> Set<Int32> in
            state.stopped = true
            return state.sockets
        }
        shutdown(listener, Int32(SHUT_RDWR))
        close(listener)
        for socket in open { shutdown(socket, Int32(SHUT_RDWR)) }
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return
            }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = Self.loopback(port: targetPort)
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.stopped, server >= 0, connected == 0 else { return false }
                state.sockets.formUnion([client, server])
                return true
            }
            guard accepted else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            Thread.detachNewThread { [self] in
                pump(from: client, to: server, upstream: true)
                finish(client, server)
            }
            Thread.detachNewThread { [self] in
                pump(from: server, to: client, upstream: false)
                finish(client, server)
            }
        }
    }

    /// The second direction to end closes both sockets.
    private func finish(_ client: Int32, _ server: Int32) {
        let last = state.withLock { state -> Bool in
            guard state.sockets.contains(client) else { return false }
            if state.sockets.contains(-client - 1) {
                state.sockets.subtract([client, server, -client - 1])
                return true
            }
            state.sockets.insert(-client - 1)
            return false
        }
        if last {
            close(client)
            close(server)
        }
    }

    /// Relays one direction, counting, and cuts when an armed budget runs out.
    private func pump(from source: Int32, to destination: Int32, upstream: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        loop: while true {
            let read = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { break }
            let (allowed, cut) = state.withLock { state -> (Int, Bool) in
                let budget = upstream ? state.cutUp : state.cutDown
                let allowed = budget.map { min($0, read) } ?? read
                if upstream { state.up += allowed } else { state.down += allowed }
                guard let budget else { return (allowed, false) }
                let left = budget - allowed
                let cut = left <= 0
                if upstream { state.cutUp = cut ? nil : left } else { state.cutDown = cut ? nil : left }
                if cut { state.cuts += 1 }
                return (allowed, cut)
            }
            var sent = 0
            while sent < allowed {
                let written = buffer.withUnsafeBytes { bytes -> Int in
                    guard let base = bytes.baseAddress else { return -1 }
                    return send(destination, base + sent, allowed - sent, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break loop }
                sent += written
            }
            if cut { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }
}
