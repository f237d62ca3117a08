import Foundation
@testable import SyncEngine
import Testing
import TestSupport

/// Revision 2 of the answer frame (issue 14, bytes of a small sync): the admission receipts, the
/// page's and the pushed versions', as bare bytes in a sixth section instead of base64 in the
/// header. What goes in comes out; a receipt section that does not add up is refused.
@Suite("Sync frame, revision 2 of the answer")
struct SyncFrameRevisionTests {
    static func receipt(using random: inout SeededGenerator) -> AdmissionReceipt {
        AdmissionReceipt(bytes: SyncFrameTests.randomBytes(AdmissionReceipt.byteCount, using: &random))!
    }

    /// A random answer whose page carries receipts on every version, on some or on none, and
    /// receipts of pushed versions in runs of counters, or none.
    static func response(seed: UInt64) -> SyncResponse {
        var random = SeededGenerator(seed: seed &+ 101)
        var response = SyncFrameTests.response(seed: seed)
        switch Int.random(in: 0..<3, using: &random) {
        case 0: for index in response.versions.indices { response.versions[index].receipt = receipt(using: &random) }
        case 1: for index in response.versions.indices { response.versions[index].receipt = nil }
        default: break
        }
        if Bool.random(using: &random) {
            var receipts: [String: AdmissionReceipt] = [:]
            var counter = UInt64.random(in: 1...1_000, using: &random)
            for _ in 0..<Int.random(in: 1...12, using: &random) {
                receipts[String(counter)] = receipt(using: &random)
                counter += UInt64.random(in: 1...3, using: &random)
            }
            response.receipts = receipts
        }
        return response
    }

    static func header(_ sections: [Data]) throws -> [String: Any] {
        let head = sections[0]
        return try #require(try JSONSerialization.jsonObject(with: head.dropFirst(SyncFrame.prefixSize)) as? [String: Any])
    }

    @Test("an answer comes out of a revision 2 frame as it went in", arguments: propertySeeds)
    func roundTrip(seed: UInt64) throws {
        let response = Self.response(seed: seed)
        let sections = try SyncFrame.sections(of: response, receiptsApart: true)
        let decoded = try SyncFrame.response(from: sections.reduce(into: Data()) { $0.append($1) })
        #expect(decoded == response, "seed \(seed)")
        #expect(decoded.receipts == response.receipts, "seed \(seed): pushed receipts")
        SyncFrameTests.expectSame(decoded.versions, response.versions, seed)
    }

    @Test("revision 2 moves the receipts out of the header into a sixth section of 12 bytes each")
    func receiptsApart() throws {
        var random = SeededGenerator(seed: 7)
        var response = SyncFrameTests.response(seed: 7)
        response.versions = SyncFrameTests.versions(30, using: &random)
        while response.versions.isEmpty { response.versions = SyncFrameTests.versions(30, using: &random) }
        for index in response.versions.indices { response.versions[index].receipt = Self.receipt(using: &random) }
        response.receipts = ["21": Self.receipt(using: &random), "22": Self.receipt(using: &random), "30": Self.receipt(using: &random)]

        let old = try SyncFrame.sections(of: response)
        #expect(old.count == 5)
        #expect(try SyncFrame.sections(of: response, receiptsApart: false) == old, "revision 1 is the default, unchanged")
        let oldHeader = try Self.header(old)
        #expect((oldHeader["columns"] as? [String: Any])?["receipt"] != nil)
        #expect(oldHeader["receipts"] != nil)

        let new = try SyncFrame.sections(of: response, receiptsApart: true)
        #expect(new.count == 6)
        let header = try Self.header(new)
        let columns = try #require(header["columns"] as? [String: Any])
        #expect(columns["receipt"] == nil && columns["receiptIndex"] == nil)
        #expect(header["receipts"] == nil)
        #expect(header["receipted"] as? [[Int]] == [[21, 2], [30, 1]])
        #expect(new[5].count == 4 + 12 * (response.versions.count + 3))
        #expect(new[0..<5].reduce(0) { $0 + $1.count } < old.reduce(0) { $0 + $1.count } - 12 * response.versions.count)

        // Pushed receipts with no page: every section is written, the receipt section last.
        var pushedOnly = response
        pushedOnly.versions = []
        let sections = try SyncFrame.sections(of: pushedOnly, receiptsApart: true)
        #expect(sections.count == 6)
        #expect(sections[1...4].allSatisfy { $0 == Data([0, 0, 0, 0]) })
        let decoded = try SyncFrame.response(from: sections.reduce(into: Data()) { $0.append($1) })
        #expect(decoded.receipts == pushedOnly.receipts)
        #expect(decoded.versions.isEmpty)

        // Nothing to take apart: the frame is revision 1's.
        var none = response
        none.receipts = nil
        for index in none.versions.indices { none.versions[index].receipt = nil }
        #expect(try SyncFrame.sections(of: none, receiptsApart: true) == (try SyncFrame.sections(of: none)))
    }

    /// A frame of `header` (its JSON) and the sections after it.
    static func frame(header: [String: Any], rest: [Data]) throws -> Data {
        let json = try JSONSerialization.data(withJSONObject: header)
        var frame = Data(SyncFrame.magic + [2, 2])
        frame.append(contentsOf: withUnsafeBytes(of: UInt32(json.count).bigEndian, Array.init))
        frame.append(json)
        for section in rest { frame.append(section) }
        return frame
    }

    static func section(_ bytes: Data) -> Data {
        Data(withUnsafeBytes(of: UInt32(bytes.count).bigEndian, Array.init)) + bytes
    }

    @Test("a receipt section that does not add up, or runs that are not ascending counters, are refused")
    func malformed() throws {
        var random = SeededGenerator(seed: 11)
        let hub = ReplicaID.random()
        var response = SyncResponse(
            protocolVersion: 2, hub: hub, knowledge: [:], accepted: 2, rejected: [], versions: [], checkpoint: "0", more: false)
        response.receipts = ["5": Self.receipt(using: &random), "6": Self.receipt(using: &random)]
        let good = try SyncFrame.sections(of: response, receiptsApart: true)
        let header = try Self.header(good)
        let empty = Array(good[1...4])
        let receipts = good[5].dropFirst(4)
        #expect(try SyncFrame.response(from: try Self.frame(header: header, rest: empty + [Self.section(Data(receipts))])).receipts == response.receipts)

        func refused(_ frame: Data, _ code: SyncFrameError.Code, _ comment: Comment) {
            let error = #expect(throws: SyncFrameError.self, comment) { try SyncFrame.response(from: frame) }
            #expect(error?.code == code, comment)
        }
        refused(try Self.frame(header: header, rest: []), .truncated, "runs named, no receipt section")
        refused(try Self.frame(header: header, rest: empty), .truncated, "runs named, no receipt section after the signatures")
        refused(try Self.frame(header: header, rest: empty + [Self.section(Data(receipts.dropLast()))]), .malformed, "a receipt cut short")
        refused(try Self.frame(header: header, rest: empty + [Self.section(Data(receipts) + Data(count: 12))]), .malformed, "one receipt too many")
        refused(try Self.frame(header: header, rest: empty + [Self.section(Data())]), .malformed, "an empty receipt section")
        var noRuns = header
        noRuns["receipted"] = nil
        refused(try Self.frame(header: noRuns, rest: empty + [Self.section(Data(receipts))]), .malformed, "receipts no run names")
        for runs in [[[6, 1], [5, 1]], [[5, 0], [5, 2]], [[5, 1], [5, 1]], [[0, 2]], [[5]], [[Int64.max, 2]]] {
            var bad = header
            bad["receipted"] = runs
            refused(try Self.frame(header: bad, rest: empty + [Self.section(Data(receipts))]), .malformed, "runs \(runs)")
        }
        // A request never has a receipt section: bytes after its signatures are refused as before.
        let request = SyncFrameTests.request(seed: 3)
        var requestFrame = try SyncFrame.encode(request)
        if request.push.isEmpty { requestFrame.append(Data(count: 16)) }
        requestFrame.append(Self.section(Data(count: 12)))
        #expect(throws: SyncFrameError.self) { try SyncFrame.request(from: requestFrame) }
    }
}
