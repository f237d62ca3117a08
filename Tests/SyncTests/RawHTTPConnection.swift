import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A raw TCP connection to a hub on 127.0.0.1, to send what no HTTP client would (a broken chunk,
/// two `Content-Length`s, half a header). Every blocking call runs on a dispatch thread, and every
/// read gives up after the connection's timeout, so a test never hangs or starves the hub.
final class RawHTTPConnection: Sendable {
    /// One answer read off the socket.
    struct Response: Sendable {
        var status: Int
        /// Header names in lower case; the last value of a repeated name.
        var headers: [String: String]
        var body: Data

        /// The body as a problem document's fields; nil when it is not one.
        var problem: [String: Any]? {
            guard headers["content-type"] == "application/problem+json" else { return nil }
            return (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        }
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let socket: Int32
    /// How long one read or send may wait, in all.
    private let timeout: Duration

    /// Connects to `port` on 127.0.0.1; reads give up after `timeout` seconds.
    ///
    /// The default is the 30 s of the suites' `TestClient`: the hubs these connections reach run in
    /// the test process and share its two cooperative threads with every test running beside them.
    /// With all 780 tests started at once (`swift test` without `.ci/run`'s bound), a hub's answer to
    /// a request that reaches a route took over 10 s in the run's first seconds: the two hostile
    /// tests that read such answers failed that way twice, at 8a981de in CI and in a helper's run of
    /// 74e376c, and passed alone (Docs/Testing.md, How many tests at once).
    init(port: Int, timeout: Int = 30) async throws {
        self.timeout = .seconds(timeout)
        socket = try await Self.offload {
            let fd = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            guard fd >= 0 else { throw Failure(description: "socket() failed: \(errno)") }
            var time = timeval(tv_sec: timeout, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &time, socklen_t(MemoryLayout<timeval>.size))
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            let connected = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
            guard connected == 0 || (errno == EINTR && Self.finishConnecting(fd, timeout: timeout)) else {
                Glibc.close(fd)
                throw Failure(description: "connect() failed: \(errno)")
            }
            return fd
        }
    }

    deinit { Glibc.close(socket) }

    /// Sends `bytes`; false when the hub has closed the connection.
    @discardableResult
    func send(_ bytes: [UInt8]) async -> Bool {
        let socket = self.socket
        let deadline = ContinuousClock.now + timeout
        return (try? await Self.offload {
            var sent = 0
            while sent < bytes.count {
                let count = Self.uninterrupted(until: deadline) {
                    bytes[sent...].withUnsafeBytes { Glibc.send(socket, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                }
                guard count > 0 else { return false }
                sent += count
            }
            return true
        }) ?? false
    }

    @discardableResult
    func send(_ text: String) async -> Bool { await send(Array(text.utf8)) }

    /// Reads until one whole answer arrived (its head and `Content-Length` bytes of body), the
    /// hub closes, or the timeout passes; throws when no answer head arrived.
    func readResponse() async throws -> Response {
        let socket = self.socket
        let asked = ContinuousClock.now
        let deadline = asked + timeout
        return try await Self.offload {
            let started = ContinuousClock.now
            var data = [UInt8]()
            var buffer = [UInt8](repeating: 0, count: 64 << 10)
            var ending = "the answer's size was reached"
            while data.count < 16 << 20 {
                if let response = Self.parse(data) { return response }
                let count = Self.uninterrupted(until: deadline) {
                    buffer.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
                }
                guard count > 0 else {
                    ending = count == 0 ? "the hub closed the connection" : Self.describe(errno: errno)
                    break
                }
                data += buffer[..<count]
            }
            guard let response = Self.parse(data, complete: true) else {
                // Where the time went, so that a failure under load says whether the hub or this
                // test's own thread was late.
                throw Failure(
                    description: "no HTTP answer: \(ending) after \(ContinuousClock.now - started) of reading "
                        + "(the read waited \(started - asked) for a thread); read \(data.count) bytes: "
                        + String(decoding: data.prefix(200), as: UTF8.self))
            }
            return response
        }
    }

    private static func describe(errno code: Int32) -> String {
        code == EAGAIN || code == EWOULDBLOCK ? "no byte arrived within the timeout" : "recv failed with errno \(code)"
    }

    /// Whether the hub closes the connection within the timeout (reads up to that, dropping what arrives).
    func closedByHub() async -> Bool {
        let socket = self.socket
        let deadline = ContinuousClock.now + timeout
        return (try? await Self.offload {
            var buffer = [UInt8](repeating: 0, count: 4_096)
            while true {
                let count = Self.uninterrupted(until: deadline) {
                    buffer.withUnsafeMutableBytes { Glibc.recv(socket, $0.baseAddress, $0.count, 0) }
                }
                if count == 0 { return true }
                if count < 0 { return errno == ECONNRESET }
            }
        }) ?? false
    }

    /// `call` (a recv or send on this socket), called again while a signal interrupts it and
    /// `deadline` has not passed. On a socket with a timeout, Linux fails these calls with `EINTR`
    /// at every signal the process handles, SA_RESTART or not, and after the process is stopped and
    /// continued, a debugger's attach included (signal(7)).
    static func uninterrupted(until deadline: ContinuousClock.Instant, _ call: () -> Int) -> Int {
        while true {
            let result = call()
            guard result < 0, errno == EINTR, ContinuousClock.now < deadline else { return result }
        }
    }

    /// Waits, after a `connect` a signal interrupted, until the connection is made; false when it
    /// failed or `timeout` seconds passed.
    private static func finishConnecting(_ fd: Int32, timeout: Int) -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        let deadline = ContinuousClock.now + .seconds(timeout)
        var ready: Int32
        repeat {
            ready = poll(&poller, 1, Int32(timeout * 1_000))
        } while ready < 0 && errno == EINTR && ContinuousClock.now < deadline
        var failure: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &failure, &length) == 0 && failure == 0
    }

    /// An answer in `data`, once whole (or, with `complete`, whatever body arrived).
    private static func parse(_ data: [UInt8], complete: Bool = false) -> Response? {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = data.indices.dropLast(3).first(where: { data[$0..<$0 + 4].elementsEqual(separator) }) else { return nil }
        let lines = String(decoding: data[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let body = data[(end + 4)...]
        let length = headers["content-length"].flatMap(Int.init) ?? 0
        guard body.count >= length || complete else { return nil }
        return Response(status: status, headers: headers, body: Data(body.prefix(length)))
    }

    private static func offload<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}
