import CompressNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One HTTPS request over SwiftNIO and NIOSSL, for hubs whose certificate is pinned (a pin needs a
/// verification callback, which neither AsyncHTTPClient nor URLSession takes; see ``HubTrust``).
/// A new connection per request, closed after the answer; the whole request bounded by the
/// timeout. The rules of ``HubRequest`` apply to the answer's head as it arrives (a redirect is
/// refused unread). The answer is bounded: a body past `maximumAnswerBytes`, or a gzipped body
/// that inflates past it, ends the request with `URLError(.dataLengthExceedsMaximum)`.
enum PinnedHTTPSClient {
    /// Sends `request` and returns the answer, its body decoded.
    static func send(
        _ request: HubRequest, trust: HubTrust, timeoutSeconds: Int, maximumAnswerBytes: Int, hub: String
    ) async throws -> HubAnswer {
        guard let host = request.url.host, !host.isEmpty else { throw URLError(.badURL) }
        let port = request.url.port ?? 443
        let timeout = TimeAmount.seconds(Int64(max(1, timeoutSeconds)))
        let context = try NIOSSLContext(configuration: try trust.tlsConfiguration())
        let pins = trust.pinDigests ?? []
        let sniHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        return try await send(
            request, host: sniHost, port: port, context: context, pins: pins, timeout: timeout,
            timeoutSeconds: timeoutSeconds, limit: maximumAnswerBytes, hub: hub)
    }

    private static func send(
        _ request: HubRequest, host sniHost: String, port: Int, context: NIOSSLContext, pins: [[UInt8]],
        timeout: TimeAmount, timeoutSeconds: Int, limit: Int, hub: String
    ) async throws -> HubAnswer {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(host: sniHost, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    // No SNI for an IP address. The pin replaces the CA and name checks.
                    let handler = try NIOSSLClientHandler(
                        context: context, serverHostname: isIPAddress(sniHost) ? nil : sniHost,
                        customVerificationCallback: { chain, promise in
                            promise.succeed(matches(chain.first, pins: pins) ? .certificateVerified : .failed)
                        })
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }

        return try await withThrowingTaskGroup(of: HubAnswer?.self) { tasks in
            tasks.addTask {
                try await exchange(over: channel, request: request, limit: limit, hub: hub)
            }
            tasks.addTask {
                try await Task.sleep(for: .seconds(max(1, timeoutSeconds)))
                return nil
            }
            defer { tasks.cancelAll() }
            guard let answer = try await tasks.next() ?? nil else {
                channel.channel.close(promise: nil)
                throw URLError(.timedOut)
            }
            return answer
        }
    }

    /// The body as sent, or inflated when gzipped: at most `limit` bytes either way.
    static func decoded(_ body: ByteBuffer, head: HTTPResponseHead, limit: Int) throws -> ByteBuffer {
        guard head.headers["Content-Encoding"].contains(where: { $0.lowercased().contains("gzip") }) else { return body }
        var compressed = body
        do {
            return try compressed.decompress(with: .gzip(), maxSize: limit)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw URLError(.dataLengthExceedsMaximum)
        } catch {
            throw URLError(.cannotDecodeContentData)
        }
    }

    static func isIPAddress(_ host: String) -> Bool {
        host.contains(":") || (host.split(separator: ".").count == 4 && host.split(separator: ".").allSatisfy { UInt8($0) != nil })
    }

    /// Whether `leaf`'s DER or SPKI hashes to one of `pins`.
    static func matches(_ leaf: NIOSSLCertificate?, pins: [[UInt8]]) -> Bool {
        guard let leaf, let der = try? leaf.toDERBytes() else { return false }
        if pins.contains(HubTrust.sha256(der)) { return true }
        guard let spki = try? leaf.extractPublicKey().toSPKIBytes() else { return false }
        return pins.contains(HubTrust.sha256(spki))
    }

    private static func exchange(
        over channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, request: HubRequest, limit: Int, hub: String
    ) async throws -> HubAnswer {
        try await channel.executeThenClose { inbound, outbound in
            let url = request.url
            var path = url.path.isEmpty ? "/" : url.path
            if let query = url.query { path += "?" + query }
            var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: path)
            head.headers.add(name: "Host", value: url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? ""))
            head.headers.add(contentsOf: request.headers)
            head.headers.replaceOrAdd(name: "Content-Length", value: String(request.body.count))
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: request.body))))
            try await outbound.write(.end(nil))

            var responseHead: HTTPResponseHead?
            var received = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let value):
                    try HubRequest.check(status: Int(value.status.code), headers: value.headers, limit: limit, hub: hub)
                    responseHead = value
                case .body(var chunk):
                    guard received.readableBytes + chunk.readableBytes <= limit else {
                        throw URLError(.dataLengthExceedsMaximum)
                    }
                    received.writeBuffer(&chunk)
                case .end:
                    guard let responseHead else { throw URLError(.badServerResponse) }
                    let data = try decoded(received, head: responseHead, limit: limit)
                    return HubAnswer(
                        status: Int(responseHead.status.code), headers: responseHead.headers, body: Data(data.readableBytesView))
                }
            }
            throw URLError(.networkConnectionLost)
        }
    }
}
