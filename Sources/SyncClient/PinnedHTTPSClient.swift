import CompressNIO
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One HTTPS request over SwiftNIO and NIOSSL, for hubs trusted by a CA file or a pin (which
/// URLSession on Linux cannot do; see ``HubTrust``). A new connection per request, closed after
/// the answer. Redirects are not followed (a 3xx answer is returned as it is). The answer is
/// bounded: a `Content-Length` above `maximumAnswerBytes`, a body past it, or a gzipped body
/// that inflates past it ends the request with `URLError(.dataLengthExceedsMaximum)`.
enum PinnedHTTPSClient {
    /// Sends `request` (method, URL, headers, body) and returns the answer as URLSession would:
    /// the body decoded, the headers as received.
    static func send(
        _ request: URLRequest, trust: HubTrust, timeoutSeconds: Int, maximumAnswerBytes: Int
    ) async throws -> (Data, HTTPURLResponse) {
        guard let url = request.url, let host = url.host, !host.isEmpty else { throw URLError(.badURL) }
        let port = url.port ?? 443
        let timeout = TimeAmount.seconds(Int64(max(1, timeoutSeconds)))
        let context = try NIOSSLContext(configuration: try tlsConfiguration(trust))
        let pins = trust.pinDigests ?? []
        let sniHost = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host

        do {
            return try await send(
                request, url: url, host: sniHost, port: port, context: context, pins: pins, timeout: timeout,
                timeoutSeconds: timeoutSeconds, limit: maximumAnswerBytes)
        } catch let error as URLError {
            throw error
        } catch is CancellationError {
            throw CancellationError()
        } catch is NIOSSLError {
            throw URLError(.serverCertificateUntrusted)
        } catch is BoringSSLError {
            throw URLError(.secureConnectionFailed)
        } catch is NIOSSLExtraError {
            throw URLError(.secureConnectionFailed)
        } catch {
            throw URLError(.cannotConnectToHost)
        }
    }

    private static func send(
        _ request: URLRequest, url: URL, host sniHost: String, port: Int, context: NIOSSLContext, pins: [[UInt8]],
        timeout: TimeAmount, timeoutSeconds: Int, limit: Int
    ) async throws -> (Data, HTTPURLResponse) {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(timeout)
            .connect(host: sniHost, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let handler: NIOSSLClientHandler
                    // NIOSSL sends no SNI for an IP address: it then checks the certificate's IP
                    // addresses against the peer's.
                    let name = isIPAddress(sniHost) ? nil : sniHost
                    if pins.isEmpty {
                        handler = try NIOSSLClientHandler(context: context, serverHostname: name)
                    } else {
                        handler = try NIOSSLClientHandler(
                            context: context, serverHostname: name,
                            customVerificationCallback: { chain, promise in
                                promise.succeed(matches(chain.first, pins: pins) ? .certificateVerified : .failed)
                            })
                    }
                    try channel.pipeline.syncOperations.addHandler(handler)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    return try NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>(wrappingChannelSynchronously: channel)
                }
            }

        return try await withThrowingTaskGroup(of: (Data, HTTPURLResponse)?.self) { tasks in
            tasks.addTask {
                try await exchange(over: channel, request: request, url: url, limit: limit)
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

    static func tlsConfiguration(_ trust: HubTrust) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        if let caFile = trust.caFile {
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
        }
        return configuration
    }

    /// Whether `leaf`'s DER or SPKI hashes to one of `pins`.
    static func matches(_ leaf: NIOSSLCertificate?, pins: [[UInt8]]) -> Bool {
        guard let leaf, let der = try? leaf.toDERBytes() else { return false }
        if pins.contains(HubTrust.sha256(der)) { return true }
        guard let spki = try? leaf.extractPublicKey().toSPKIBytes() else { return false }
        return pins.contains(HubTrust.sha256(spki))
    }

    private static func exchange(
        over channel: NIOAsyncChannel<HTTPClientResponsePart, HTTPClientRequestPart>, request: URLRequest, url: URL,
        limit: Int
    ) async throws -> (Data, HTTPURLResponse) {
        try await channel.executeThenClose { inbound, outbound in
            var path = url.path.isEmpty ? "/" : url.path
            if let query = url.query { path += "?" + query }
            var head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.httpMethod ?? "GET"), uri: path)
            let body = request.httpBody ?? Data()
            head.headers.add(name: "Host", value: url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? ""))
            for (name, value) in request.allHTTPHeaderFields ?? [:] { head.headers.add(name: name, value: value) }
            head.headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
            head.headers.replaceOrAdd(name: "Connection", value: "close")
            try await outbound.write(.head(head))
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body))))
            try await outbound.write(.end(nil))

            var responseHead: HTTPResponseHead?
            var received = ByteBuffer()
            for try await part in inbound {
                switch part {
                case .head(let value):
                    if let length = value.headers["Content-Length"].first.flatMap({ Int($0) }), length > limit {
                        throw URLError(.dataLengthExceedsMaximum)
                    }
                    responseHead = value
                case .body(var chunk):
                    guard received.readableBytes + chunk.readableBytes <= limit else {
                        throw URLError(.dataLengthExceedsMaximum)
                    }
                    received.writeBuffer(&chunk)
                case .end:
                    guard let responseHead else { throw URLError(.badServerResponse) }
                    let data = try decoded(received, head: responseHead, limit: limit)
                    var fields: [String: String] = [:]
                    for (name, value) in responseHead.headers { fields[name] = value }
                    guard let response = HTTPURLResponse(
                        url: url, statusCode: Int(responseHead.status.code), httpVersion: "HTTP/1.1", headerFields: fields)
                    else { throw URLError(.badServerResponse) }
                    return (Data(data.readableBytesView), response)
                }
            }
            throw URLError(.networkConnectionLost)
        }
    }
}
