import Foundation
import SyncEngine

/// The opaque pull checkpoint the hub gives out: where the device's next page starts, and the
/// fingerprint of the grants it was made under, so that the hub sees when they changed.
///
/// A position is the start, or a sequence with the random tag drawn when its row was stored, so
/// that a checkpoint from another hub, or from before the hub was restored from a backup, is
/// recognised even where the same version was stored again at the same sequence. Positions of
/// earlier releases name the dot stored there too (and, before tags, only the dot). This release
/// leaves the dot out: a reader with a read scope is given the feed's last position once it read
/// its scope, and that dot told it the id and the counter of an author it may not read.
///
/// The hub gives out the binary form, `v` and base64url without padding of: a flags byte (1: a
/// tag, 2: grants, 4: a catch-up, 8: a position without its dot), the position (sequence as a
/// LEB128 varint; when not 0: the tag's 4 bytes big-endian when flagged 8; else the origin's 16
/// bytes, the counter as a varint, and the tag's 4 bytes when flagged 1), the grants' fingerprint
/// as 8 bytes when flagged, and for a catch-up its `until` position (flags byte, then as above)
/// and the previous grants' 8 bytes. The start under every grant is `0`.
///
/// It reads, too, the text forms of earlier releases, each position being `0` or
/// `<sequence>.<origin>:<counter>.<tag>` in hex (`.<tag>` absent before tags):
/// - `<position>`: made under read-and-write-everything (and every checkpoint from before grants existed);
/// - `<position>~<grants>`: made under the grants with that fingerprint;
/// - `<position>~<grants>~<until>~<previous>`: while the documents newly in scope are delivered
///   after the read scope widened: the page scans from the start to `until` for what the grants
///   `previous` did not cover, then the pull goes on from `until`.
///
/// The binary form is 19 bytes shorter for a device with grants (13 reading everything): a no-op
/// exchange sends the checkpoint and, in protocol 1, gets it back.
struct PullCheckpoint: Hashable {
    /// Where the next page starts.
    var position: FeedPosition
    /// The fingerprint of the grants it was made under; nil in a checkpoint from before grants.
    var grants: String?
    /// The catch-up after a widened read scope, when one runs.
    var backfill: Backfill?

    /// A catch-up after a widened read scope.
    struct Backfill: Hashable {
        /// Where the pull was when the scope widened: the catch-up ends there, and the pull goes on.
        var until: FeedPosition
        /// The fingerprint of the grants the device had up to `until`.
        var previousGrants: String
    }

    init(position: FeedPosition, grants: String?, backfill: Backfill? = nil) {
        self.position = position
        self.grants = grants
        self.backfill = backfill
    }

    /// Parses a checkpoint; nil when it is not one this format produces.
    init?(_ text: String) {
        guard text.utf8.count <= 200 else { return nil }
        if text.hasPrefix(Self.binaryPrefix) {
            guard let checkpoint = Self.binary(text.dropFirst(Self.binaryPrefix.count)) else { return nil }
            self = checkpoint
            return
        }
        let parts = text.split(separator: "~", omittingEmptySubsequences: false).map(String.init)
        guard let position = Self.position(parts[0]) else { return nil }
        switch parts.count {
        case 1:
            self.init(position: position, grants: nil)
        case 2 where Self.isFingerprint(parts[1]):
            self.init(position: position, grants: parts[1] == AccessGrants.everything.fingerprint ? nil : parts[1])
        case 4 where Self.isFingerprint(parts[1]) && Self.isFingerprint(parts[3]):
            guard let until = Self.position(parts[2]) else { return nil }
            // Read-and-write-everything is written out only where the form needs it.
            let grants = parts[1] == AccessGrants.everything.fingerprint ? nil : parts[1]
            self.init(position: position, grants: grants, backfill: Backfill(until: until, previousGrants: parts[3]))
        default:
            return nil
        }
    }

    /// The text form: the binary one, else (grants whose fingerprint is not 16 hex digits, which
    /// only tests make) the form of earlier releases.
    var text: String {
        if position == .start && grants == nil && backfill == nil { return "0" }
        if let binary = binaryText { return binary }
        var text = Self.text(position)
        if let backfill {
            text += "~\(grants ?? AccessGrants.everything.fingerprint)~\(Self.text(backfill.until))~\(backfill.previousGrants)"
        } else if let grants {
            text += "~\(grants)"
        }
        return text
    }

    private static func text(_ position: FeedPosition) -> String {
        guard position.sequence > 0, let dot = position.dot else { return "0" }
        guard let tag = position.tag else { return "\(position.sequence).\(dot)" }
        return "\(position.sequence).\(dot).\(String(tag, radix: 16))"
    }

    private static func position(_ text: String) -> FeedPosition? {
        if text == "0" { return .start }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, let sequence = Int64(parts[0]), sequence > 0, let dot = Dot(parts[1])
        else { return nil }
        guard parts.count == 3 else { return FeedPosition(sequence: sequence, dot: dot) }
        guard parts[2].utf8.count <= 8, let tag = UInt32(parts[2], radix: 16) else { return nil }
        return FeedPosition(sequence: sequence, dot: dot, tag: tag)
    }

    private static func isFingerprint(_ text: String) -> Bool {
        text.utf8.count == 16 && text.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}

// MARK: The binary form

extension PullCheckpoint {
    static let binaryPrefix = "v"

    private enum Flag {
        static let tag: UInt8 = 1
        static let grants: UInt8 = 2
        static let backfill: UInt8 = 4
        /// The position names its row by sequence and tag alone (flag 1 set too).
        static let withoutDot: UInt8 = 8

        /// The flags of `position`: a tagged one is written without its dot.
        static func of(_ position: FeedPosition) -> UInt8 { position.tag == nil ? 0 : tag | withoutDot }

        /// Whether `flags` (of a position) are a valid combination.
        static func areValid(_ flags: UInt8) -> Bool { flags & withoutDot == 0 || flags & tag != 0 }
    }

    /// The binary form; nil when a fingerprint is not 16 hex digits.
    fileprivate var binaryText: String? {
        var bytes: [UInt8] = []
        var flags = Flag.of(position)
        let grantBytes = grants.map(Self.fingerprintBytes)
        if let grantBytes {
            guard grantBytes != nil else { return nil }
            flags |= Flag.grants
        }
        if backfill != nil { flags |= Flag.backfill }
        bytes.append(flags)
        Self.append(position, to: &bytes)
        if let grantBytes { bytes += grantBytes ?? [] }
        if let backfill {
            guard let previous = Self.fingerprintBytes(backfill.previousGrants) else { return nil }
            bytes.append(Flag.of(backfill.until))
            Self.append(backfill.until, to: &bytes)
            bytes += previous
        }
        return Self.binaryPrefix + Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Reads the binary form (after its prefix); nil unless it is one whole checkpoint.
    fileprivate static func binary(_ text: Substring) -> PullCheckpoint? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        guard base64.utf8.allSatisfy({ $0 != UInt8(ascii: "=") }) else { return nil }
        base64 += String(repeating: "=", count: (4 - base64.utf8.count % 4) % 4)
        guard let data = Data(base64Encoded: base64) else { return nil }
        var reader = ByteReader(bytes: [UInt8](data))
        guard let flags = reader.byte(), flags & ~(Flag.tag | Flag.grants | Flag.backfill | Flag.withoutDot) == 0,
            let position = reader.position(flags: flags)
        else { return nil }
        var grants: String?
        if flags & Flag.grants != 0 {
            guard let fingerprint = reader.fingerprint() else { return nil }
            grants = fingerprint
        }
        var backfill: Backfill?
        if flags & Flag.backfill != 0 {
            guard let untilFlags = reader.byte(), untilFlags & ~(Flag.tag | Flag.withoutDot) == 0,
                let until = reader.position(flags: untilFlags), let previous = reader.fingerprint()
            else { return nil }
            backfill = Backfill(until: until, previousGrants: previous)
        }
        guard reader.isAtEnd else { return nil }
        return PullCheckpoint(position: position, grants: grants, backfill: backfill)
    }

    /// Appends `position` as its flags (``Flag/of(_:)``) say.
    private static func append(_ position: FeedPosition, to bytes: inout [UInt8]) {
        guard position.sequence > 0, position.tag != nil || position.dot != nil else { return bytes.append(0) }
        appendVarint(UInt64(position.sequence), to: &bytes)
        if let tag = position.tag { return bytes += withUnsafeBytes(of: tag.bigEndian, Array.init) }
        guard let dot = position.dot else { return }
        bytes += dot.replica.bytes
        appendVarint(dot.counter, to: &bytes)
    }

    private static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    /// The 8 bytes of a fingerprint of 16 lowercase hex digits; nil for any other text.
    private static func fingerprintBytes(_ fingerprint: String) -> [UInt8]? {
        guard isFingerprint(fingerprint), let bytes = [UInt8](hexString: fingerprint), bytes.count == 8 else { return nil }
        return bytes
    }

    /// Reads the binary form's fields, never past its end.
    private struct ByteReader {
        let bytes: [UInt8]
        var offset = 0

        var isAtEnd: Bool { offset == bytes.count }

        mutating func byte() -> UInt8? {
            guard offset < bytes.count else { return nil }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func take(_ count: Int) -> [UInt8]? {
            guard bytes.count - offset >= count else { return nil }
            defer { offset += count }
            return Array(bytes[offset..<offset + count])
        }

        /// A LEB128 varint of at most 63 bits.
        mutating func varint() -> UInt64? {
            var value: UInt64 = 0
            for shift in stride(from: 0, to: 63, by: 7) {
                guard let byte = byte() else { return nil }
                value |= UInt64(byte & 0x7f) << UInt64(shift)
                if byte & 0x80 == 0 { return value <= UInt64(Int64.max) ? value : nil }
            }
            return nil
        }

        mutating func position(flags: UInt8) -> FeedPosition? {
            let tagged = flags & Flag.tag != 0
            guard Flag.areValid(flags), let sequence = varint() else { return nil }
            guard sequence > 0 else { return tagged ? nil : .start }
            if flags & Flag.withoutDot != 0 {
                guard let tag = take(4) else { return nil }
                return FeedPosition(sequence: Int64(sequence), dot: nil, tag: tag.reduce(0) { $0 << 8 | UInt32($1) })
            }
            guard let replica = take(16), let counter = varint(), counter >= 1, counter <= Dot.maxCounter else { return nil }
            let dot = Dot(replica: ReplicaID(bytes: replica), counter: counter)
            guard tagged else { return FeedPosition(sequence: Int64(sequence), dot: dot) }
            guard let tag = take(4) else { return nil }
            return FeedPosition(sequence: Int64(sequence), dot: dot, tag: tag.reduce(0) { $0 << 8 | UInt32($1) })
        }

        mutating func fingerprint() -> String? {
            take(8)?.hexString
        }
    }
}
