import Foundation
import Synchronization

/// What a ``LoopbackRelay`` does with the bytes it reads: a test's link between a client and a hub.
protocol RelayPolicy: Sendable {
    /// A client's connection was accepted and joined to the hub (`connection` names it until it ends).
    func accepted(_ connection: Int32)
    /// Both directions of `connection` ended.
    func ended(_ connection: Int32)
    /// `count` bytes were read on `connection`, client to hub when `upstream`: how many of them to
    /// relay, and whether to end the connection after those.
    func relay(_ count: Int, upstream: Bool, on connection: Int32) -> (allowed: Int, end: Bool)
}

/// A TCP relay on 127.0.0.1 in front of a hub: plain blocking sockets, a thread per direction of
/// each connection, what passes decided by its ``RelayPolicy``. Stops by ``stop()``.
final class LoopbackRelay<Policy: RelayPolicy>: Sendable {
    struct SocketFailure: Error {}

    let port: Int
    let policy: Policy
    private let targetPort: Int
    private let listener: Int32
    private let sockets = Mutex((open: Set<Int32>(), stopped: false))

    init(targetPort: Int, policy: Policy) throws {
        self.targetPort = targetPort
        self.policy = policy
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw SocketFailure() }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 64) == 0 else {
            close(listener)
            throw SocketFailure()
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Stops accepting and shuts every open connection.
    func stop() {
        let open = sockets.withLock { sockets -> Set<Int32> in
            sockets.stopped = true
            return sockets.open
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
            let relayed = sockets.withLock { sockets -> Bool in
                guard !sockets.stopped, server >= 0, connected == 0 else { return false }
                sockets.open.formUnion([client, server])
                return true
            }
            guard relayed else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            policy.accepted(client)
            let ends = Mutex(0)
            let finish: @Sendable () -> Void = { [self] in
                guard ends.withLock({ count -> Bool in
                    count += 1
                    return count == 2
                }) else { return }
                sockets.withLock { $0.open.subtract([client, server]) }
                policy.ended(client)
                close(client)
                close(server)
            }
            Thread.detachNewThread { [self] in
                pump(from: client, to: server, connection: client, upstream: true)
                finish()
            }
            Thread.detachNewThread { [self] in
                pump(from: server, to: client, connection: client, upstream: false)
                finish()
            }
        }
    }

    /// Relays one direction as the policy says, then shuts both sockets.
    private func pump(from source: Int32, to destination: Int32, connection: Int32, upstream: Bool) {
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        loop: while true {
            let read = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { break }
            let (allowed, end) = policy.relay(read, upstream: upstream, on: connection)
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
            if end { break }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }
}
