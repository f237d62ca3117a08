import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Hummingbird's HTTP/1.1 channel with the hub's guards around it:
///
/// - ``ConnectionGuardHandler`` (on the bytes): sheds a connection above the hub's connection limit
///   with a 503 `busy` problem, and closes a connection whose request head takes longer than the
///   header timeout from its first byte;
/// - ``RequestGuardHandler`` (right after the HTTP parser): answers a request the parser refuses
///   (an unknown method, an oversized head, `Content-Length` with `Transfer-Encoding`…) with a 400
///   `malformed-request` problem instead of Hummingbird's bare 400, and closes a connection whose
///   answer went out before its request's body ended when the rest is chunked or above
///   ``RequestGuardHandler/drainLimit`` (a large body the hub refused is never read; a smaller one is
///   read and dropped, so the connection serves the next request).
///
/// The idle timeout is Hummingbird's: a connection silent that long is closed.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value

    let base: HTTP1Channel
    let connections: ConnectionCounter
    let headerTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connections = self.connections
        let headerTimeout = self.headerTimeout
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(
                ConnectionGuardHandler(connections: connections, headerTimeout: headerTimeout, logger: logger))
        }
        .flatMap { base.setup(channel: channel, logger: logger) }
        .flatMapThrowing { value in
            let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(RequestGuardHandler(logger: logger), position: .after(decoder.handler))
            return value
        }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

/// What ``RequestGuardHandler`` tells ``ConnectionGuardHandler`` (an outbound user event).
enum RequestProgress {
    /// A request's head was parsed: its header timeout ends.
    case headReceived
    /// A response was sent: the connection waits for the next request.
    case responseSent
}

/// Counts the hub's open connections, across event loops.
final class ConnectionCounter: Sendable {
    /// The most connections served at once.
    let limit: Int
    private let open: Mutex<Int>

    init(limit: Int) {
        self.limit = limit
        open = Mutex(0)
    }

    /// Counts a new connection; false (and not counted) when the limit is reached.
    func admit() -> Bool {
        open.withLock { count in
            guard count < limit else { return false }
            count += 1
            return true
        }
    }

    func release() {
        open.withLock { $0 -= 1 }
    }

    /// The connections open now.
    var count: Int { open.withLock { $0 } }
}

/// On the connection's bytes: the connection limit and the header timeout.
final class ConnectionGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let connections: ConnectionCounter
    private let headerTimeout: TimeAmount
    private let logger: Logger
    private var state = State.new
    private var waitingForHead = true
    private var deadline: Scheduled<Void>?

    private enum State { case new, counted, shed }

    init(connections: ConnectionCounter, headerTimeout: TimeAmount, logger: Logger) {
        self.connections = connections
        self.headerTimeout = headerTimeout
        self.logger = logger
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { activate(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        activate(context: context)
        context.fireChannelActive()
    }

    private func activate(context: ChannelHandlerContext) {
        guard state == .new else { return }
        if connections.admit() {
            state = .counted
            return
        }
        state = .shed
        logger.info(
            "connection refused", metadata: ["http.status": "503", "hub.connections": "\(connections.limit)"])
        let problem = SyncHubError(.busy, "This hub serves \(connections.limit) connections at most; try again in a moment.")
        context.writeAndFlush(wrapOutboundOut(problem.rawHTTPResponse(retryAfter: 1)), promise: nil)
        context.close(mode: .output, promise: nil)
        // The client reads the answer and closes; if it does not, the connection goes after a second.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(1)) { context.close(promise: nil) }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if state == .counted { connections.release() }
        state = .shed
        deadline?.cancel()
        deadline = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard state == .counted else { return }  // a shed connection's bytes are dropped
        if waitingForHead, deadline == nil {
            deadline = context.eventLoop.assumeIsolated().scheduleTask(in: headerTimeout) { [weak self] in
                guard let self else { return }
                self.logger.info("connection closed: request head too slow", metadata: ["hub.headerTimeout": "\(self.headerTimeout)"])
                context.close(promise: nil)
            }
        }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .headReceived:
            waitingForHead = false
            deadline?.cancel()
            deadline = nil
        case .responseSent:
            waitingForHead = true
        }
        promise?.succeed()
    }
}

/// Right after the HTTP parser: problem answers for what it refuses, and closing a connection
/// whose request body was not read to its end when the rest is chunked or large.
final class RequestGuardHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// The most bytes of a refused body read and dropped to keep the connection (Hummingbird
    /// reads what is left of a body after the answer).
    static let drainLimit = 16 << 20

    private let logger: Logger
    /// A request's head arrived and its answer has not ended.
    private var inRequest = false
    /// The current request's body arrived to its end.
    private var bodyEnded = true
    /// The current request's body is chunked or declared above ``drainLimit``.
    private var largeBody = false
    /// The parser failed within the current request: close once its answer is out.
    private var failed = false
    /// Nothing more is written: the connection is closing.
    private var closing = false
    /// The answer being written said `Connection: close`: the connection ends with it.
    private var closeAfterAnswer = false

    init(logger: Logger) {
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            inRequest = true
            bodyEnded = false
            let length = head.headers.first(name: "content-length").flatMap { Int($0) }
            largeBody = length.map { $0 > Self.drainLimit } ?? head.headers.contains(name: "transfer-encoding")
            context.triggerUserOutboundEvent(RequestProgress.headReceived, promise: nil)
        case .body: break
        case .end: bodyEnded = true
        }
        context.fireChannelRead(data)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !closing else { return }
        guard error is HTTPParserError || error is ByteToMessageDecoderError else {
            context.fireErrorCaught(error)
            return
        }
        if inRequest {
            // The route reading the body meets the error and answers 400; the connection closes then.
            failed = true
            context.fireErrorCaught(error)
            return
        }
        let problem = SyncHubError(translating: error)
        logger.notice(
            "request refused",
            metadata: ["http.status": "\(problem.status.code)", "problem.type": "\(problem.code)", "problem.detail": "\(problem.message)"])
        closing = true
        let body = problem.problemJSON()
        var headers = HTTPHeaders([("Content-Type", "application/problem+json"), ("Connection", "close")])
        headers.add(name: "Content-Length", value: String(body.readableBytes))
        let head = HTTPResponseHead(
            version: .http1_1, status: HTTPResponseStatus(statusCode: Int(problem.status.code)), headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }

    /// The answer being written ends the connection: the parser failed, or the body left unread is large.
    private var closesAfterAnswer: Bool { failed || (!bodyEnded && largeBody) }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !closing else {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        switch unwrapOutboundIn(data) {
        case .head(var head):
            closeAfterAnswer = closesAfterAnswer
            if closeAfterAnswer {
                head.headers.replaceOrAdd(name: "Connection", value: "close")
                context.write(wrapOutboundOut(.head(head)), promise: promise)
                return
            }
            context.write(data, promise: promise)
        case .body:
            context.write(data, promise: promise)
        case .end:
            inRequest = false
            guard closeAfterAnswer else {
                context.write(data, promise: promise)
                context.triggerUserOutboundEvent(RequestProgress.responseSent, promise: nil)
                return
            }
            // The rest of this request's body is not read: the connection ends with this answer.
            closing = true
            context.writeAndFlush(data).assumeIsolated().whenComplete { result in
                promise?.completeWith(result)
                context.close(promise: nil)
            }
        }
    }
}
