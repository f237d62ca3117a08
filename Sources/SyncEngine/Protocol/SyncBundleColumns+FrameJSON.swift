extension SyncBundleColumns {
    /// The columns' JSON object as a frame carries it, written directly rather than by
    /// `JSONEncoder`: a frame's columns are integers and names, and encoding them with
    /// `JSONEncoder` cost about 8% of the hub's CPU under load (Docs/Performance.md, "The frame
    /// header's columns"). The same keys in the same order; a reader's `JSONDecoder` reads both
    /// alike. Nil when the columns hold what only `JSONEncoder` writes here: contexts (as a
    /// bundle's columns do; a frame's travel apart), signatures of other lengths, or receipt
    /// indices without their receipts (or the reverse).
    func frameJSON() -> [UInt8]? {
        guard context.isEmpty, signatureLength == nil, (receiptIndex == nil) == (receipt == nil) else { return nil }
        var json = JSONText(capacity: 256 + 48 * origin.count)
        json.append("{\"origins\":")
        json.strings(origins.map(\.hex))
        json.append(",\"origin\":")
        json.integers(origin)
        json.append(",\"counterStep\":")
        json.integers(counterStep)
        json.append(",\"collections\":")
        json.strings(collections.map(\.rawValue))
        json.append(",\"collection\":")
        json.integers(collection)
        json.append(",\"partitions\":")
        json.strings(partitions.map(\.rawValue))
        json.append(",\"partition\":")
        json.integers(partition)
        json.append(",\"id\":")
        json.strings(id.map { $0?.rawValue })
        json.append(",\"context\":[],\"wallStep\":")
        json.integers(wallStep)
        json.append(",\"logical\":")
        json.integers(logical)
        json.append(",\"bodyLength\":")
        json.integers(bodyLength)
        if let receiptIndex, let receipt {
            // A page the hub serves carries receipts (every version another device pushed).
            json.append(",\"receiptIndex\":")
            json.integers(receiptIndex)
            json.append(",\"receipt\":")
            json.strings(receipt.map { $0.bytes.base64EncodedString() })
        }
        json.append("}")
        return json.bytes
    }
}

/// JSON text written byte by byte: arrays of integers and of strings (null for nil), strings
/// escaped as RFC 8259 requires (quotation mark, reverse solidus, control characters).
struct JSONText {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) { bytes.reserveCapacity(capacity) }

    mutating func append(_ literal: StaticString) {
        literal.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    mutating func integers<Value: BinaryInteger>(_ values: [Value]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            integer(value)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    mutating func strings(_ values: [String?]) {
        bytes.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            if let value { string(value) } else { append("null") }
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func integer<Value: BinaryInteger>(_ value: Value) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        // The magnitude's digits, least significant first, then put in order (every column's
        // integers fit UInt64, Int64.min's magnitude too).
        var magnitude = UInt64(value.magnitude)
        let first = bytes.count
        repeat {
            bytes.append(UInt8(ascii: "0") + UInt8(magnitude % 10))
            magnitude /= 10
        } while magnitude > 0
        bytes[first...].reverse()
    }

    private mutating func string(_ value: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): append("\\\"")
            case UInt8(ascii: "\\"): append("\\\\")
            case 0..<0x20:
                append("\\u00")
                bytes.append(Self.hexDigits[Int(byte >> 4)])
                bytes.append(Self.hexDigits[Int(byte & 0x0F)])
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)
}
