import Foundation
@testable import SyncEngine
import Testing
import TestSupport

/// How the exchange's messages are written (``SyncWire``): protocol 1 as the first release wrote
/// it, protocol 2 without the fields at their defaults nor what the request already says, and
/// every message reads back as it was written.
@Suite("Sync wire form")
struct SyncWireTests {
    static let replica = ReplicaID("0d0d80f7e69539184414372750f26cf1")!
    static let hub = ReplicaID("255bf4ca4aab5decfa0fbfb4da6b6ed6")!
    static let checkpoint = "4.0d0d80f7e69539184414372750f26cf1:1.2b34dadd"

    /// A no-op request as the reference client sends it.
    static func noOp(protocolVersion: Int) -> SyncRequest {
        var request = SyncRequest(
            protocolVersion: protocolVersion, replica: replica, counter: 3, checkpoint: checkpoint, push: [])
        request.sentAt = 1_796_555_508_978
        request.understoodReasons = Rejection.Reason.added
        request.pending = 0
        return request
    }

    static func sortedJSON(_ value: some Encodable, userInfo: [CodingUserInfoKey: any Sendable] = [:]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.userInfo = userInfo
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// The frame's header JSON (after the 10-byte prefix).
    static func header(of frame: Data) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: frame.dropFirst(SyncFrame.prefixSize)) as? [String: Any]
    }

    @Test("protocol 1 messages hold every field, as the first release wrote them")
    func protocolOneUnchanged() throws {
        // A field added since (the digest of held revocations) is not written in protocol 1.
        var request = Self.noOp(protocolVersion: 1)
        request.revocationsHeld = RevocationNotice.digest(of: [Self.hub: 1])
        #expect(try Self.sortedJSON(request) == """
            {"checkpoint":"\(Self.checkpoint)","counter":3,"limits":{"bytes":1048576,"versions":2000},"pending":0,\
            "protocol":1,"push":[],"replica":"\(Self.replica.hex)","sentAt":1796555508978,"understoodReasons":["gap"]}
            """)
        let response = SyncResponse(
            protocolVersion: 1, hub: Self.hub, knowledge: [Self.replica: 3], accepted: 0, rejected: [], versions: [],
            checkpoint: Self.checkpoint, more: false)
        #expect(try Self.sortedJSON(response) == """
            {"accepted":0,"checkpoint":"\(Self.checkpoint)","checkpointReset":false,"hub":"\(Self.hub.hex)",\
            "knowledge":{"\(Self.replica.hex)":3},"more":false,"protocol":1,"rejected":[],"versions":[]}
            """)
    }

    @Test("a protocol 2 request leaves out the fields at their defaults, writes null for those with none, and reads back")
    func compactRequest() throws {
        let request = Self.noOp(protocolVersion: 2)
        #expect(try Self.sortedJSON(request) == """
            {"checkpoint":"\(Self.checkpoint)","counter":3,"protocol":2,"replica":"\(Self.replica.hex)","sentAt":1796555508978}
            """)
        #expect(try JSONDecoder().decode(SyncRequest.self, from: JSONEncoder().encode(request)) == request)

        var unsaid = request
        unsaid.pending = nil
        unsaid.understoodReasons = nil
        unsaid.limits = PageLimits(versions: 10, bytes: 4_096)
        let json = try Self.sortedJSON(unsaid)
        #expect(json.contains(#""pending":null"#) && json.contains(#""understoodReasons":null"#))
        #expect(json.contains(#""limits":{"bytes":4096,"versions":10}"#))
        #expect(try JSONDecoder().decode(SyncRequest.self, from: Data(json.utf8)) == unsaid)

        // In a frame the prefix says the protocol.
        let frame = try SyncFrame.encode(request)
        #expect(Self.header(of: frame)?["protocol"] == nil)
        #expect(try SyncFrame.request(from: frame) == request)
    }

    /// Replays schemathesis's case (CI, 6 December): `"limits": null` was taken for absent.
    @Test("a field left out takes its default, but null where a value belongs is refused")
    func nullIsNotAbsent() throws {
        let base = #"{"replica":"\#(Self.replica.hex)","counter":3"#
        #expect(try JSONDecoder().decode(SyncRequest.self, from: Data((base + "}").utf8)).limits == PageLimits())
        for field in ["limits", "push", "protocol"] {
            #expect(throws: DecodingError.self, "\(field)") {
                try JSONDecoder().decode(SyncRequest.self, from: Data((base + #","\#(field)":null}"#).utf8))
            }
        }
    }

    @Test("a no-op answer's frame says only the hub: its checkpoint and the requester's knowledge are the request's")
    func noOpAnswer() throws {
        let request = Self.noOp(protocolVersion: 2)
        let response = SyncResponse(
            hub: Self.hub, knowledge: [Self.replica: 3], accepted: 0, rejected: [], versions: [], checkpoint: Self.checkpoint,
            more: false)
        let frame = try SyncFrame.encode(response, answering: request)
        #expect(String(decoding: frame.dropFirst(SyncFrame.prefixSize), as: UTF8.self) == #"{"hub":"\#(Self.hub.hex)"}"#)
        #expect(try SyncFrame.response(from: frame, answering: request) == response)
        // Without its request the answer cannot be read back whole: the reader refuses it.
        #expect(throws: SyncFrameError.self) { try SyncFrame.response(from: frame) }
    }

    @Test(
        "an answer reads back as it was whatever its checkpoint and its knowledge of the requester",
        arguments: [UInt64(0), 2, 3, 9], [true, false])
    func answerRoundTrip(heldOfRequester: UInt64, sameCheckpoint: Bool) throws {
        let request = Self.noOp(protocolVersion: 2)
        var knowledge: VersionVector = [Self.hub: 7]
        knowledge[Self.replica] = heldOfRequester
        var response = SyncResponse(
            hub: Self.hub, knowledge: knowledge, accepted: 2, rejected: [], versions: [],
            checkpoint: sameCheckpoint ? Self.checkpoint : "5.\(Self.hub.hex):7.0000002a", more: true)
        response.checkpointReset = !sameCheckpoint
        let frame = try SyncFrame.encode(response, answering: request)
        let header = try #require(Self.header(of: frame))
        #expect((header["checkpoint"] == nil) == sameCheckpoint)
        let written = header["knowledge"] as? [String: Int]
        #expect(written?[Self.replica.hex] == (heldOfRequester == 3 ? nil : Int(heldOfRequester)), "0 is written, 3 is the request's")
        #expect(try SyncFrame.response(from: frame, answering: request) == response)
    }
}
