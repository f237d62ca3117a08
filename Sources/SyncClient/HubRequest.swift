import Foundation
import Synchronization
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// One request to the hub, with the client's rules for every answer whichever client carries it
/// (URLSession, or ``PinnedHTTPSClient`` for a CA file or a pin):
///
/// - redirects are never followed: a 3xx answer is ``SyncClientError/Code/redirected``, so the
///   credential and the records never go to an address the device was not given;
/// - an answer is at most ``defaultMaximumAnswerBytes`` bytes, counted after gzip is undone
///   (which bounds what a small compressed answer may inflate to): a larger one, or a
///   `Content-Length` announcing one, ends the transfer as ``SyncClientError/Code/answerTooLarge``.
///
/// Known gap: URLSession on Linux keeps the body of a 301–308 answer in memory before it asks
/// whether to follow it, and tells no delegate about it (swift-corelibs-foundation,
/// `_NativeProtocol.didReceive(data:)`), so nothing here can cut it: in a test, a 302 whose gzip
/// body inflates to 512 MiB kept the client busy for more than 25 minutes. Hubs trusted by a CA
/// file or a pin go over the NIO client, which has no such gap; closing it for the others means
/// sending every request over that client.
enum HubRequest {
    /// The largest answer accepted, decoded: several times the largest page a hub sends.
    static let defaultMaximumAnswerBytes = 32 << 20

    /// Sends `request` and returns the answer's body and head; throws ``SyncClientError``
    /// (`unreachable`, `redirected`, `answerTooLarge`, `badAnswer`) or `CancellationError`.
    static func send(
        _ request: URLRequest, trust: HubTrust, timeoutSeconds: Int, maximumAnswerBytes: Int = defaultMaximumAnswerBytes,
        session: URLSession? = nil, hub: String
    ) async throws -> (Data, HTTPURLResponse) {
        let limit = max(1, maximumAnswerBytes)
        let data: Data
        let response: URLResponse
        let guardrail = AnswerGuardrail(limit: limit)
        do {
            if let url = request.url, trust.needsOwnClient(for: url) {
                (data, response) = try await PinnedHTTPSClient.send(
                    request, trust: trust, timeoutSeconds: timeoutSeconds, maximumAnswerBytes: limit)
            } else if let session {
                (data, response) = try await session.data(for: request, delegate: guardrail)
            } else {
                let session = makeSession(configuration: .ephemeral)
                defer { session.finishTasksAndInvalidate() }
                (data, response) = try await session.data(for: request, delegate: guardrail)
            }
        } catch {
            if guardrail.exceeded { throw tooLarge(hub: hub, limit: limit) }
            if let urlError = error as? URLError, urlError.code == .dataLengthExceedsMaximum {
                throw tooLarge(hub: hub, limit: limit)
            }
            throw HTTPSyncTransport.translate(error, hub: hub)
        }
        guard let http = response as? HTTPURLResponse else {
            throw SyncClientError(.badAnswer, "The hub at \(hub) sent something that is not an HTTP answer.")
        }
        // A delegate's cancel may lose the race with the end of the transfer.
        guard data.count <= limit else { throw tooLarge(hub: hub, limit: limit) }
        if (300...399).contains(http.statusCode) {
            let location = http.value(forHTTPHeaderField: "Location").map { " to \(String($0.prefix(200)))" } ?? ""
            throw SyncClientError(
                .redirected,
                "The hub at \(hub) answered with a redirect (HTTP \(http.statusCode)\(location)); redirects are not followed, so nothing was sent there.",
                httpStatus: http.statusCode)
        }
        return (data, http)
    }

    /// A URLSession that refuses redirects. URLSession on Linux asks only the session's delegate
    /// whether to follow one (never the task's), so the refusal is the session's.
    static func makeSession(configuration: URLSessionConfiguration) -> URLSession {
        URLSession(configuration: configuration, delegate: RedirectRefusal(), delegateQueue: nil)
    }

    static func tooLarge(hub: String, limit: Int) -> SyncClientError {
        SyncClientError(
            .answerTooLarge,
            "The hub at \(hub) sent an answer larger than \(limit >> 20) MiB once decompressed; it was dropped unread and nothing was applied.")
    }
}

/// The URLSession delegate that answers every redirect with "do not follow": the 3xx answer is
/// then returned as it is.
final class RedirectRefusal: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @Sendable @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}

/// The URLSession task delegate that keeps the client's rules: it refuses every redirect, and
/// cancels the transfer once the announced or received (decompressed) bytes pass the limit.
final class AnswerGuardrail: NSObject, URLSessionDataDelegate, Sendable {
    let limit: Int
    private let state = Mutex<(received: Int, exceeded: Bool)>((0, false))

    init(limit: Int) { self.limit = limit }

    /// Whether the answer passed the limit (and the transfer was cancelled for it).
    var exceeded: Bool { state.withLock { $0.exceeded } }

    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @Sendable @escaping (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @Sendable @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        if response.expectedContentLength > Int64(limit) {
            state.withLock { $0.exceeded = true }
            dataTask.cancel()
            completionHandler(.cancel)
        } else {
            completionHandler(.allow)
        }
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let over = state.withLock { state -> Bool in
            state.received += data.count
            if state.received > limit, !state.exceeded {
                state.exceeded = true
                return true
            }
            return false
        }
        if over { dataTask.cancel() }
    }
}
