import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The few Unix-domain socket calls the unlock agent and its clients make, each bounded: a line
/// is at most ``maximumLine`` bytes, and every read or write gives up after the socket's timeout.
enum UnixSocket {
    /// The longest line either side sends or reads.
    static let maximumLine = 256

    /// A new stream socket, closed on exec; -1 on failure.
    static func make() -> Int32 {
        #if canImport(Glibc)
        socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #else
        socket(AF_UNIX, SOCK_STREAM, 0)
        #endif
    }

    /// Runs `body` with `path` as a socket address; nil when the path is too long for one.
    static func withAddress<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }

    /// A socket connected to `path`, with `timeout` seconds for each read and write; nil when
    /// nothing listens there.
    static func connect(to path: String, timeout: Int) -> Int32? {
        let descriptor = make()
        guard descriptor >= 0 else { return nil }
        setTimeouts(descriptor, seconds: timeout)
        let connected = withAddress(path) { systemConnect(descriptor, $0, $1) } ?? -1
        guard connected == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    /// The user id of the process at the other end of `descriptor`.
    static func peerUserID(_ descriptor: Int32) -> uid_t? {
        #if canImport(Glibc)
        // struct ucred (pid, uid, gid): Swift does not import it from the glibc headers.
        var credentials: (Int32, UInt32, UInt32) = (0, 0, 0)
        var length = socklen_t(MemoryLayout.size(ofValue: credentials))
        guard getsockopt(descriptor, SOL_SOCKET, SO_PEERCRED, &credentials, &length) == 0,
            Int(length) == MemoryLayout.size(ofValue: credentials)
        else { return nil }
        return credentials.1
        #else
        var user: uid_t = 0
        var group: gid_t = 0
        return getpeereid(descriptor, &user, &group) == 0 ? user : nil
        #endif
    }

    /// Every read and write on `descriptor` gives up after `seconds`.
    static func setTimeouts(_ descriptor: Int32, seconds: Int) {
        var limit = timeval(tv_sec: seconds, tv_usec: 0)
        let size = socklen_t(MemoryLayout<timeval>.size)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, size)
        _ = setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, size)
    }

    /// One line (without its newline) of at most ``maximumLine`` bytes; nil on a timeout, an
    /// early end or a longer line.
    static func readLine(_ descriptor: Int32) -> String? {
        var line = [UInt8]()
        var byte: UInt8 = 0
        while line.count <= maximumLine {
            let count = read(descriptor, &byte, 1)
            if count < 0, errno == EINTR { continue }
            guard count == 1 else { return nil }
            if byte == 0x0A { return String(decoding: line, as: UTF8.self) }
            line.append(byte)
        }
        return nil
    }

    /// Writes `line` and a newline; false when it could not all be written in time.
    @discardableResult
    static func writeLine(_ descriptor: Int32, _ line: String) -> Bool {
        let bytes = Array((line + "\n").utf8)
        guard bytes.count <= maximumLine + 1 else { return false }
        var offset = 0
        while offset < bytes.count {
            let count = bytes[offset...].withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }
}

/// The C library's `connect`, hidden inside `UnixSocket.connect`.
private func systemConnect(_ descriptor: Int32, _ address: UnsafePointer<sockaddr>, _ length: socklen_t) -> Int32 {
    connect(descriptor, address, length)
}
