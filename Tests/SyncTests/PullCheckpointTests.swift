import Foundation
import SyncEngine
@testable import SyncHub
import Testing
import TestSupport

/// The hub's pull checkpoint: the binary form it gives out reads back as it was, the text forms of
/// earlier releases still read, and anything else is refused (the pull then restarts).
@Suite("Pull checkpoint")
struct PullCheckpointTests {
    static let origin = ReplicaID("0d0d80f7e69539184414372750f26cf1")!
    static let grants = "0123456789abcdef"
    static let previous = "fedcba9876543210"

    static func position(_ sequence: Int64, counter: UInt64 = 1, tag: UInt32? = 0x2b34_dadd) -> FeedPosition {
        FeedPosition(sequence: sequence, dot: Dot(replica: origin, counter: counter), tag: tag)
    }

    static let checkpoints: [PullCheckpoint] = [
        PullCheckpoint(position: .start, grants: nil),
        PullCheckpoint(position: .start, grants: grants),
        PullCheckpoint(position: position(4), grants: nil),
        PullCheckpoint(position: position(4, tag: nil), grants: nil),
        PullCheckpoint(position: position(Int64.max, counter: Dot.maxCounter, tag: .max), grants: grants),
        PullCheckpoint(
            position: position(300_000, counter: 70_000), grants: grants,
            backfill: .init(until: position(1_000_000, tag: nil), previousGrants: previous)),
        PullCheckpoint(position: .start, grants: nil, backfill: .init(until: position(9), previousGrants: previous)),
    ]

    /// `checkpoint` as the binary form writes it: a tagged position without its dot.
    static func written(_ checkpoint: PullCheckpoint) -> PullCheckpoint {
        func withoutDot(_ position: FeedPosition) -> FeedPosition {
            position.tag == nil ? position : FeedPosition(sequence: position.sequence, dot: nil, tag: position.tag)
        }
        var written = checkpoint
        written.position = withoutDot(checkpoint.position)
        written.backfill?.until = withoutDot(checkpoint.backfill?.until ?? .start)
        return written
    }

    @Test("the binary form reads back as it was, a tagged position without its dot", arguments: checkpoints)
    func roundTrip(checkpoint: PullCheckpoint) {
        let text = checkpoint.text
        #expect(text == "0" || text.hasPrefix("v"))
        #expect(text.utf8.allSatisfy { $0 < 0x80 && $0 != UInt8(ascii: "~") && $0 != UInt8(ascii: ".") })
        let read = PullCheckpoint(text)
        #expect(read == Self.written(checkpoint))
        #expect(read?.text == text)
    }

    /// A checkpoint of the release before (binary, a tagged position with its dot) still reads;
    /// flag 8 without a tag is not a position.
    @Test("a binary checkpoint with the dot still reads; a position without dot or tag does not")
    func positionsWithTheirDotStillRead() throws {
        var earlier = Data([1, 4]) + Data(Self.origin.bytes)
        earlier.append(contentsOf: [1, 0x2b, 0x34, 0xda, 0xdd])
        #expect(PullCheckpoint("v" + Self.base64URL(earlier)) == PullCheckpoint(position: Self.position(4), grants: nil))
        #expect(PullCheckpoint("v" + Self.base64URL(Data([8, 4, 0x2b, 0x34, 0xda, 0xdd]))) == nil)
        let tagOnly = try #require(PullCheckpoint("v" + Self.base64URL(Data([9, 4, 0x2b, 0x34, 0xda, 0xdd]))))
        #expect(tagOnly.position == FeedPosition(sequence: 4, dot: nil, tag: 0x2b34_dadd))
    }

    @Test("the text forms of earlier releases still read, and the binary form is shorter")
    func legacyForms() throws {
        let legacy = "4.\(Self.origin.hex):1.2b34dadd"
        let plain = try #require(PullCheckpoint(legacy))
        #expect(plain == PullCheckpoint(position: Self.position(4), grants: nil))
        #expect(plain.text.utf8.count <= legacy.utf8.count - 13, "\(plain.text)")
        let scoped = try #require(PullCheckpoint("\(legacy)~\(Self.grants)"))
        #expect(scoped.grants == Self.grants)
        #expect(scoped.text.utf8.count <= legacy.utf8.count + 17 - 19, "\(scoped.text)")
        #expect(PullCheckpoint("4.\(Self.origin.hex):1") == PullCheckpoint(position: Self.position(4, tag: nil), grants: nil))
        let catchUp = "4.\(Self.origin.hex):1.2b34dadd~\(Self.grants)~9.\(Self.origin.hex):1~\(Self.previous)"
        #expect(PullCheckpoint(catchUp)?.backfill == .init(until: Self.position(9, tag: nil), previousGrants: Self.previous))
        #expect(PullCheckpoint("0") == PullCheckpoint(position: .start, grants: nil))
    }

    @Test("every cut, a byte too many, bad flags and padding are refused")
    func refusesDamage() throws {
        let text = PullCheckpoint(
            position: Self.position(300_000), grants: Self.grants,
            backfill: .init(until: Self.position(9), previousGrants: Self.previous)
        ).text
        let bytes = try #require(Data(base64Encoded: Self.padded(text.dropFirst())))
        for length in 0..<bytes.count {
            #expect(PullCheckpoint("v" + Self.base64URL(bytes.prefix(length))) == nil, "cut at \(length)")
        }
        #expect(PullCheckpoint("v" + Self.base64URL(bytes + [0])) == nil)
        var badFlags = bytes
        badFlags[0] |= 0x80
        #expect(PullCheckpoint("v" + Self.base64URL(badFlags)) == nil)
        #expect(PullCheckpoint(text + "=") == nil)
        #expect(PullCheckpoint("v!!") == nil)
        #expect(PullCheckpoint("v" + String(repeating: "A", count: 300)) == nil)
        // A tagged start, a counter of 0 and a sequence above Int64.max are not positions.
        #expect(PullCheckpoint("v" + Self.base64URL(Data([1, 0]))) == nil)
        var zeroCounter = Data([0, 4]) + Data(Self.origin.bytes)
        zeroCounter.append(0)
        #expect(PullCheckpoint("v" + Self.base64URL(zeroCounter)) == nil)
        var huge = Data([0]) + Data(repeating: 0xff, count: 9)
        huge.append(0x01)
        #expect(PullCheckpoint("v" + Self.base64URL(huge + Data(Self.origin.bytes) + Data([1]))) == nil)
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func padded(_ text: Substring) -> String {
        let base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        return base64 + String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
    }
}
