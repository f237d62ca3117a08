import Foundation

/// A TCP proxy on 127.0.0.1 between a client and the hub that counts every byte both ways,
/// headers included, and the HTTP requests sent: the wire figures are counted, not estimated.
///
/// Armed with ``armCuts(atTotals:)``, it also cuts the link at chosen points: once the bytes
/// relayed both ways reach the next point it relays nothing more of the read in hand and shuts
/// every open connection, as a satellite link dropping mid-transfer would; later connections are
/// relayed as before (the next sync finds the link back). Unarmed, it only counts.
///
/// Plain blocking sockets, one thread per direction of each connection: simple, and far faster
/// than the loopback exchanges it relays.
final class CountingProxy: @unchecked Sendable {
    /// What crossed the proxy since it started or was last reset.
    struct Counts: Sendable {
        /// Client to hub.
        var bytesUp = 0
        /// Hub to client.
        var bytesDown = 0
        /// HTTP requests the client sent (request heads seen).
        var requests = 0
        /// Of ``bytesUp``, the bytes of the request heads (request line, headers, blank line).
        var headBytesUp = 0
        /// Of ``bytesDown``, the bytes of the answer heads (status line, headers, blank line).
        var headBytesDown = 0
        /// TCP connections the client opened.
        var connections = 0
        /// Times the link was cut (``armCuts(atTotals:)``).
        var cuts = 0

        /// Bytes both ways.
        var bytes: Int { bytesUp + bytesDown }

        /// The bytes by part: heads and bodies, up and down.
        var parts: String {
            "up \(headBytesUp) B of heads + \(bytesUp - headBytesUp) B of bodies, down \(headBytesDown) B of heads + \(bytesDown - headBytesDown) B of bodies"
        }
    }

    /// The port clients connect to.
    let port: Int
    private let targetPort: Int
    private let listener: Int32
    private let lock = NSLock()
    private var counts = Counts()
    private var sockets: Set<Int32> = []
    private var stopped = false
    /// Where to cut, in bytes relayed both ways since the last reset, ascending.
    private var cutPoints: [Int] = []

    /// Listens on a free port of 127.0.0.1 and relays every connection to `127.0.0.1:targetPort`.
    init(targetPort: Int) throws {
        self.targetPort = targetPort
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BenchError(.setup, "The counting proxy cannot open a socket.") }
        var yes: Int32 = 1
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = Self.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(listener, 128) == 0 else {
            close(listener)
            throw BenchError(.setup, "The counting proxy cannot listen on 127.0.0.1.")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(listener, $0, &length) }
        }
        port = Int(UInt16(bigEndian: address.sin_port))
        self.listener = listener
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// The counts so far.
    func snapshot() -> Counts { lock.withLock { counts } }

    /// Sets the counts back to zero (and forgets the cuts not reached yet).
    func reset() {
        lock.withLock {
            counts = Counts()
            cutPoints = []
        }
    }

    /// Cuts the link each time the bytes relayed both ways since the last reset reach one of
    /// `totals`: the byte at that point is the last one through.
    func armCuts(atTotals totals: [Int]) {
        lock.withLock { cutPoints = totals.filter { $0 > counts.bytes }.sorted() }
    }

    /// Stops listening and cuts every open connection.
    func stop() {
        let open: Set<Int32> = lock.withLock {
            stopped = true
            return sockets
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
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard server >= 0, connected == 0 else {
                close(client)
                if server >= 0 { close(server) }
                continue
            }
            var yes: Int32 = 1
            for socket in [client, server] {
                setsockopt(socket, Int32(IPPROTO_TCP), TCP_NODELAY, &yes, socklen_t(MemoryLayout<Int32>.size))
            }
            let accepted: Bool = lock.withLock {
                guard !stopped else { return false }
                counts.connections += 1
                sockets.formUnion([client, server])
                return true
            }
            guard accepted else {
                close(client)
                close(server)
                return
            }
            let finished = Countdown(2) { [self] in
                lock.withLock { sockets.subtract([client, server]) }
                close(client)
                close(server)
            }
            Thread.detachNewThread { [self] in
                pump(from: client, to: server, upstream: true)
                finished.done()
            }
            Thread.detachNewThread { [self] in
                pump(from: server, to: client, upstream: false)
                finished.done()
            }
        }
    }

    /// Copies one direction until it ends, counting; then ends both directions.
    private func pump(from source: Int32, to destination: Int32, upstream: Bool) {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var heads = HeadCounter()
        loop: while true {
            let read = buffer.withUnsafeMutableBytes { recv(source, $0.baseAddress, $0.count, 0) }
            if read < 0 && errno == EINTR { continue }
            guard read > 0 else { break }
            // Relays all of the read, or up to the next cut point.
            let (relayed, cut): (Int, Set<Int32>?) = lock.withLock {
                var relayed = read
                var cut: Set<Int32>?
                if let point = cutPoints.first, counts.bytes + read >= point {
                    relayed = max(0, point - counts.bytes)
                    cutPoints.removeFirst()
                    counts.cuts += 1
                    cut = sockets
                }
                if upstream {
                    counts.bytesUp += relayed
                } else {
                    counts.bytesDown += relayed
                }
                return (relayed, cut)
            }
            let (completed, headBytes) = heads.feed(buffer[0..<relayed])
            lock.withLock {
                if upstream {
                    counts.requests += completed
                    counts.headBytesUp += headBytes
                } else {
                    counts.headBytesDown += headBytes
                }
            }
            var sent = 0
            while sent < relayed {
                let written = buffer.withUnsafeBytes { bytes -> Int in
                    guard let base = bytes.baseAddress else { return -1 }
                    return send(destination, base + sent, relayed - sent, Int32(MSG_NOSIGNAL))
                }
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { break loop }
                sent += written
            }
            if let cut {
                // The link drops: every open connection, not only this one.
                for socket in cut { shutdown(socket, Int32(SHUT_RDWR)) }
                break
            }
        }
        shutdown(source, Int32(SHUT_RDWR))
        shutdown(destination, Int32(SHUT_RDWR))
    }
}

/// Runs an action once `count` parts are done.
private final class Countdown: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: Int
    private let action: @Sendable () -> Void

    init(_ count: Int, action: @escaping @Sendable () -> Void) {
        remaining = count
        self.action = action
    }

    func done() {
        let last = lock.withLock {
            remaining -= 1
            return remaining == 0
        }
        if last { action() }
    }
}

/// Counts HTTP/1.1 messages in one direction's byte stream (requests up, answers down): a head up
/// to the blank line, then a body of its `Content-Length` (a chunked body ends the counting: the
/// client sends none, and the hub's sync answers carry a length).
struct HeadCounter {
    private var head: [UInt8] = []
    private var bodyLeft = 0
    private var lost = false

    /// Takes the next bytes; returns how many heads they completed and the bytes of those heads.
    mutating func feed(_ bytes: ArraySlice<UInt8>) -> (heads: Int, bytes: Int) {
        guard !lost else { return (0, 0) }
        var completed = 0
        var headBytes = 0
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bodyLeft > 0 {
                let skip = min(bodyLeft, bytes.endIndex - index)
                bodyLeft -= skip
                index += skip
                continue
            }
            head.append(bytes[index])
            index += 1
            if head.count >= 4 && head.suffix(4).elementsEqual([13, 10, 13, 10]) {
                completed += 1
                headBytes += head.count
                let text = String(decoding: head, as: UTF8.self).lowercased()
                head.removeAll(keepingCapacity: true)
                if text.contains("transfer-encoding: chunked") {
                    lost = true
                    return (completed, headBytes)
                }
                for line in text.split(separator: "\r\n") where line.hasPrefix("content-length:") {
                    bodyLeft = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) ?? 0
                }
            } else if head.count > 1 << 16 {
                lost = true
                return (completed, headBytes)
            }
        }
        return (completed, headBytes)
    }
}
