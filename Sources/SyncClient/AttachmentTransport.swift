public import Foundation
import NIOHTTP1
public import SyncEngine

/// Carries attachment chunks to and from a hub (Docs/Protocol.md, Attachments). Each call
/// returns what it cost on the wire with its value.
public protocol AttachmentTransport: Sendable {
    /// `PUT /v1/attachments/{sha256}`: offers a manifest; the hub answers the chunks it lacks.
    func offerAttachment(_ manifest: AttachmentManifest) async throws -> Metered<AttachmentOfferResponse>
    /// `PUT /v1/attachments/{sha256}/chunks/{index}`.
    func uploadChunk(_ data: Data, index: Int, of hash: String) async throws -> Metered<ChunkReceipt>
    /// `POST /v1/attachments/manifests`.
    func attachmentManifests(_ request: ManifestsRequest) async throws -> Metered<ManifestsResponse>
    /// `GET /v1/attachments/{sha256}/chunks/{index}`: the bytes as received, unchecked.
    func downloadChunk(_ index: Int, of hash: String) async throws -> Metered<Data>
}

/// A value and the bytes its request and answer cost on the wire.
public struct Metered<Value: Sendable>: Sendable {
    public var value: Value
    public var bytesSent: Int
    public var bytesReceived: Int

    public init(_ value: Value, bytesSent: Int, bytesReceived: Int) {
        self.value = value
        self.bytesSent = bytesSent
        self.bytesReceived = bytesReceived
    }
}

/// A refusal of an attachment by the hub, or a transfer that cannot be trusted; the message says
/// which attachment and which limit, the executable says which file.
public struct AttachmentTransferError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        enum Value: String { case tooLarge = "attachment-too-large", quotaExceeded = "quota-exceeded", chunkRefused = "chunk-mismatch", mismatch = "attachment-mismatch", notWritable = "forbidden" }
        let value: Value
        public var description: String { value.rawValue }
        /// The attachment is larger than the hub takes.
        public static let tooLarge = Code(value: .tooLarge)
        /// The attachment would pass the device's quota at the hub.
        public static let quotaExceeded = Code(value: .quotaExceeded)
        /// A chunk was refused twice in a row (damaged on the link each time, or not what its manifest says).
        public static let chunkRefused = Code(value: .chunkRefused)
        /// The whole file did not match its SHA-256 (a false manifest).
        public static let mismatch = Code(value: .mismatch)
        /// No version this device wrote within its write scope names the attachment at the hub
        /// (the document was rejected there, or the write scope changed).
        public static let notWritable = Code(value: .notWritable)
    }

    public let code: Code
    /// The attachment's SHA-256.
    public var sha256: String
    /// The limit in bytes, for `tooLarge` and `quotaExceeded`.
    public var limit: Int?
    public let message: String

    public init(_ code: Code, sha256: String, limit: Int? = nil, _ message: String) {
        self.code = code
        self.sha256 = sha256
        self.limit = limit
        self.message = message
    }

    public var description: String { message }
}

extension HTTPSyncTransport: AttachmentTransport {
    /// `<hub>/v1/attachments`.
    var attachmentsEndpoint: URL {
        configuration.endpoint.deletingLastPathComponent().appendingPathComponent("attachments")
    }

    public func offerAttachment(_ manifest: AttachmentManifest) async throws -> Metered<AttachmentOfferResponse> {
        let body = try JSONEncoder().encode(manifest)
        let url = attachmentsEndpoint.appendingPathComponent(manifest.sha256)
        return try await decoded(send(.PUT, url, body: body, contentType: "application/json"), sha256: manifest.sha256)
    }

    public func uploadChunk(_ data: Data, index: Int, of hash: String) async throws -> Metered<ChunkReceipt> {
        let url = attachmentsEndpoint.appendingPathComponent(hash).appendingPathComponent("chunks")
            .appendingPathComponent(String(index))
        return try await decoded(send(.PUT, url, body: data, contentType: "application/octet-stream"), sha256: hash)
    }

    public func attachmentManifests(_ request: ManifestsRequest) async throws -> Metered<ManifestsResponse> {
        var body = try JSONEncoder().encode(request)
        var gzipped = false
        if body.count > configuration.compressionThreshold, let compressed = try? Gzip.compress(body) {
            body = compressed
            gzipped = true
        }
        let url = attachmentsEndpoint.appendingPathComponent("manifests")
        return try await decoded(
            send(.POST, url, body: body, contentType: "application/json", gzipped: gzipped), sha256: "")
    }

    public func downloadChunk(_ index: Int, of hash: String) async throws -> Metered<Data> {
        let url = attachmentsEndpoint.appendingPathComponent(hash).appendingPathComponent("chunks")
            .appendingPathComponent(String(index))
        let (answer, sent, received) = try await send(.GET, url, body: Data(), contentType: nil)
        guard answer.status == 200 else { throw failure(answer, sha256: hash) }
        return Metered(answer.body, bytesSent: sent, bytesReceived: received)
    }

    /// Sends one attachment request; returns the answer and the bytes both ways.
    private func send(
        _ method: HTTPMethod, _ url: URL, body: Data, contentType: String?, gzipped: Bool = false
    ) async throws -> (HubAnswer, Int, Int) {
        try configuration.trust.check(configuration.hub)
        var request = HubRequest(
            post: body, to: url, userAgent: configuration.userAgent, token: configuration.token, gzipped: gzipped)
        request.method = method
        request.headers.remove(name: "Content-Type")
        if let contentType { request.headers.add(name: "Content-Type", value: contentType) }
        let answer = try await client.send(request, hub: configuration.hub.absoluteString)
        return (answer, request.bytesOnWire, Self.headerSize(of: answer) + Self.bodySizeOnWire(answer))
    }

    private func decoded<T: Decodable & Sendable>(_ sent: (HubAnswer, Int, Int), sha256: String) throws -> Metered<T> {
        let (answer, bytesSent, bytesReceived) = sent
        guard answer.status == 200 else { throw failure(answer, sha256: sha256) }
        do {
            return Metered(try JSONDecoder().decode(T.self, from: answer.body), bytesSent: bytesSent, bytesReceived: bytesReceived)
        } catch {
            throw SyncClientError(
                .badAnswer, "The hub at \(configuration.hub.absoluteString) sent an attachment answer this program cannot read.",
                httpStatus: 200)
        }
    }

    /// The attachment refusals by their problem type; any other failure as the exchange words it.
    private func failure(_ answer: HubAnswer, sha256: String) -> any Error {
        struct Problem: Decodable {
            var type: String?
            var detail: String?
            var limit: Int?
        }
        let problem = try? JSONDecoder().decode(Problem.self, from: answer.body)
        let detail = problem?.detail.map { String($0.prefix(300)) } ?? "HTTP \(answer.status)"
        switch problem?.type {
        case "attachment-too-large": return AttachmentTransferError(.tooLarge, sha256: sha256, limit: problem?.limit, detail)
        case "quota-exceeded": return AttachmentTransferError(.quotaExceeded, sha256: sha256, limit: problem?.limit, detail)
        case "chunk-mismatch": return AttachmentTransferError(.chunkRefused, sha256: sha256, detail)
        case "attachment-mismatch": return AttachmentTransferError(.mismatch, sha256: sha256, detail)
        case "forbidden" where !sha256.isEmpty: return AttachmentTransferError(.notWritable, sha256: sha256, detail)
        default: return Self.failure(status: answer.status, body: answer.body, hub: configuration.hub.absoluteString)
        }
    }
}
