import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL

/// One request for a pinned connection, written to its channel: the handler sends it and completes
/// `promise` with the answer, or fails it with a ``PinnedExchangeFailure``.
struct PinnedExchange: Sendable {
    var request: HubRequest
    var hub: String
    var limit: Int
    /// The longest wait without progress.
    var timeout: TimeAmount
    /// The longest the whole request may take.
    var total: TimeAmount
    var promise: EventLoopPromise<PinnedResponse>
}

/// An answer, and whether its connection may carry the next request.
struct PinnedResponse: Sendable {
    var answer: HubAnswer
    var reusable: Bool
}

/// Why a pinned request failed, and whether any byte of the answer had arrived.
struct PinnedExchangeFailure: Error {
    var error: any Error
    var answerStarted: Bool
    var timedOut: Bool

    /// Nothing of the answer arrived and the request did not time out: the connection was lost
    /// before the hub answered, so the request may go again on a new one.
    var repeatable: Bool { !answerStarted && !timedOut && !(error is CancellationError) }
}

/// Whether bytes of an answer arrived since the request was written; shared by the two handlers
/// of one channel, on its event loop.
final class AnswerBytes {
    var arrived = false
}

/// Notes that bytes arrived, after TLS and before HTTP decoding (a head cut halfway counts).
final class AnswerByteWatch: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let bytes: AnswerBytes

    init(_ bytes: AnswerBytes) { self.bytes = bytes }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        bytes.arrived = true
        context.fireChannelRead(data)
    }
}

/// Carries the requests of one pinned connection, one after the other: writes a request, reads its
/// answer to the end (the rules of ``HubRequest`` on its head, the bound on its body), and says
/// whether the connection may be kept. Anything else (an error, the hub closing, a timeout) fails
/// the request in flight and closes the connection.
final class PinnedConnectionHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PinnedExchange
    typealias OutboundOut = HTTPClientRequestPart

    private struct InFlight {
        var exchange: PinnedExchange
        var head: HTTPResponseHead?
        var body = ByteBuffer()
        var lastProgress: NIODeadline
        var deadline: NIODeadline
        var timer: Scheduled<Void>?
    }

    private let bytes: AnswerBytes
    private var inFlight: InFlight?

    init(_ bytes: AnswerBytes) { self.bytes = bytes }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard inFlight == nil else {
            // One request at a time: the client never writes a second before the first answer.
            let failure = PinnedExchangeFailure(
                error: URLError(.networkConnectionLost), answerStarted: false, timedOut: false)
            exchange.promise.fail(failure)
            promise?.fail(failure)
            return
        }
        let now = NIODeadline.now()
        inFlight = InFlight(exchange: exchange, lastProgress: now, deadline: now + exchange.total)
        bytes.arrived = false
        schedule(context: context, in: exchange.timeout)

        let request = exchange.request
        let url = request.url
        var path = URLComponents(url: url, resolvingAgainstBaseURL: false)?.percentEncodedPath ?? url.path
        if path.isEmpty { path = "/" }
        if let query = url.query { path += "?" + query }
        var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: path)
        head.headers.add(name: "Host", value: url.port.map { "\(url.host ?? ""):\($0)" } ?? (url.host ?? ""))
        head.headers.add(contentsOf: request.headers)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(request.body.count))
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: request.body)))), promise: nil)
        context.write(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard var current = inFlight else {
            // An answer nobody asked for: the connection cannot be trusted with the next request.
            context.close(promise: nil)
            return
        }
        current.lastProgress = .now()
        switch unwrapInboundIn(data) {
        case .head(let head):
            do {
                try HubRequest.check(
                    status: Int(head.status.code), headers: head.headers, limit: current.exchange.limit,
                    hub: current.exchange.hub)
            } catch {
                fail(context: context, error)
                return
            }
            current.head = head
            inFlight = current
        case .body(var chunk):
            guard current.body.readableBytes + chunk.readableBytes <= current.exchange.limit else {
                fail(context: context, URLError(.dataLengthExceedsMaximum))
                return
            }
            current.body.writeBuffer(&chunk)
            inFlight = current
        case .end:
            inFlight = nil
            current.timer?.cancel()
            guard let head = current.head else {
                fail(context: context, URLError(.badServerResponse), exchange: current.exchange)
                return
            }
            let body: ByteBuffer
            do {
                body = try PinnedHTTPSClient.decoded(current.body, head: head, limit: current.exchange.limit)
            } catch {
                fail(context: context, error, exchange: current.exchange)
                return
            }
            let reusable = head.isKeepAlive && context.channel.isActive
            let answer = HubAnswer(
                status: Int(head.status.code), headers: head.headers, body: Data(body.readableBytesView))
            current.exchange.promise.succeed(PinnedResponse(answer: answer, reusable: reusable))
            if !reusable { context.close(promise: nil) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(context: context, connectionLost)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A connection cut without TLS's closing message is the link or the hub going away, not
        // the certificate ("TLS failed" would send the operator to check the pin).
        if let tls = error as? NIOSSLError, case .uncleanShutdown = tls {
            fail(context: context, connectionLost)
        } else {
            fail(context: context, error)
        }
        context.close(promise: nil)
    }

    /// The connection closed under the request: before any byte of the answer, or in the middle of it.
    private var connectionLost: URLError {
        URLError(bytes.arrived ? .networkConnectionLost : .badServerResponse)
    }

    /// Fails the request in flight (if any) and closes the connection.
    private func fail(context: ChannelHandlerContext, _ error: any Error, timedOut: Bool = false) {
        guard let current = inFlight else { return }
        inFlight = nil
        current.timer?.cancel()
        fail(context: context, error, exchange: current.exchange, timedOut: timedOut)
    }

    private func fail(
        context: ChannelHandlerContext, _ error: any Error, exchange: PinnedExchange, timedOut: Bool = false
    ) {
        exchange.promise.fail(PinnedExchangeFailure(error: error, answerStarted: bytes.arrived, timedOut: timedOut))
        context.close(promise: nil)
    }

    /// Checks for progress after `delay`: fails the request after its timeout without progress or
    /// past its deadline, else looks again when the timeout would next run out.
    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        let timer = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard let current = inFlight else { return }
            let now = NIODeadline.now()
            let quiet = current.lastProgress + current.exchange.timeout
            if now >= quiet || now >= current.deadline {
                fail(context: context, URLError(.timedOut), timedOut: true)
            } else {
                schedule(context: context, in: min(quiet, current.deadline) - now)
            }
        }
        inFlight?.timer = timer
    }
}
