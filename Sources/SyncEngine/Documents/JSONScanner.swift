package import Foundation

/// A strict RFC 8259 reader of JSON text straight into ``JSONValue``: one pass over the bytes, no
/// `JSONSerialization`, no `Decoder`. It decides only what it can decide exactly as Foundation's
/// two parsers would: it answers nil, never an error, for invalid JSON and for every case where
/// they could differ or fail (a key twice, a number that is not a normal `Double` or has more than
/// 24 characters, `\u0000`, a lone surrogate, invalid UTF-8, nesting deeper than
/// ``maximumDepth``). The caller then takes Foundation's path, which keeps its results and its
/// error messages as they were: this is a fast path for the bodies that are well formed, which
/// are nearly all of them.
package enum JSONScanner {
    /// The deepest nesting of arrays and objects read here: the bodies' limit, so a body read
    /// here never breaks it.
    static let maximumDepth = MessageLimits().maxBodyDepth

    /// The value `data` holds, or nil when Foundation's parsers have to decide (see the type).
    package static func value(of data: Data) -> JSONValue? {
        data.withUnsafeBytes { raw in
            var reader = Reader(bytes: raw.bindMemory(to: UInt8.self))
            guard let value = reader.value(depth: 0) else { return nil }
            reader.skipSpace()
            return reader.index == reader.bytes.count ? value : nil
        }
    }

    /// Whether `bytes` is UTF-8 with no overlong form, no surrogate and nothing above U+10FFFF.
    static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            guard lead >= 0x80 else {
                index += 1
                continue
            }
            let trailing: Int
            var scalar: UInt32
            switch lead {
            case 0xC2...0xDF: (trailing, scalar) = (1, UInt32(lead & 0x1F))
            case 0xE0...0xEF: (trailing, scalar) = (2, UInt32(lead & 0x0F))
            case 0xF0...0xF4: (trailing, scalar) = (3, UInt32(lead & 0x07))
            default: return false
            }
            guard index + trailing < bytes.count else { return false }
            for offset in 1...trailing {
                let byte = bytes[index + offset]
                guard byte & 0xC0 == 0x80 else { return false }
                scalar = scalar << 6 | UInt32(byte & 0x3F)
            }
            switch trailing {
            case 2 where scalar < 0x800 || (0xD800...0xDFFF).contains(scalar): return false
            case 3 where scalar < 0x1_0000 || scalar > 0x10_FFFF: return false
            default: break
            }
            index += trailing + 1
        }
        return true
    }

    /// The position in the text and the steps of the grammar.
    struct Reader {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        mutating func value(depth: Int) -> JSONValue? {
            skipSpace()
            switch current {
            case UInt8(ascii: "{"): return object(depth: depth + 1)
            case UInt8(ascii: "["): return array(depth: depth + 1)
            case UInt8(ascii: "\""): return string().map(JSONValue.string)
            case UInt8(ascii: "t"): return literal("true", .bool(true))
            case UInt8(ascii: "f"): return literal("false", .bool(false))
            case UInt8(ascii: "n"): return literal("null", .null)
            case nil: return nil
            default: return number()
            }
        }

        private mutating func literal(_ text: StaticString, _ value: JSONValue) -> JSONValue? {
            let count = text.utf8CodeUnitCount
            guard bytes.count - index >= count else { return nil }
            for offset in 0..<count where bytes[index + offset] != text.utf8Start[offset] { return nil }
            index += count
            return value
        }

        private mutating func object(depth: Int) -> JSONValue? {
            guard depth <= JSONScanner.maximumDepth else { return nil }
            index += 1
            var members: [(key: String, value: JSONValue)] = []
            skipSpace()
            if current == UInt8(ascii: "}") {
                index += 1
                return .object([:])
            }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\""), let key = string() else { return nil }
                skipSpace()
                guard current == UInt8(ascii: ":") else { return nil }
                index += 1
                guard let value = value(depth: depth) else { return nil }
                members.append((key, value))
                skipSpace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"):
                    index += 1
                    return Self.object(members)
                default: return nil
                }
            }
        }

        /// The object of `members`, its table sized once; nil when a key comes twice.
        private static func object(_ members: [(key: String, value: JSONValue)]) -> JSONValue? {
            var fields = [String: JSONValue](minimumCapacity: members.count)
            for member in members where fields.updateValue(member.value, forKey: member.key) != nil { return nil }
            return .object(fields)
        }

        private mutating func array(depth: Int) -> JSONValue? {
            guard depth <= JSONScanner.maximumDepth else { return nil }
            index += 1
            var elements: [JSONValue] = []
            skipSpace()
            if current == UInt8(ascii: "]") {
                index += 1
                return .array(elements)
            }
            while true {
                guard let element = value(depth: depth) else { return nil }
                elements.append(element)
                skipSpace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"):
                    index += 1
                    return .array(elements)
                default: return nil
                }
            }
        }

        /// A string from its opening quote; escapes go through ``escapedString(from:)``.
        private mutating func string() -> String? {
            index += 1
            let start = index
            var ascii = true
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    let text = UnsafeBufferPointer(rebasing: bytes[start..<index])
                    index += 1
                    guard ascii || JSONScanner.isValidUTF8(text) else { return nil }
                    return String(decoding: text, as: UTF8.self)
                }
                if byte == UInt8(ascii: "\\") { return escapedString(from: start) }
                guard byte >= 0x20 else { return nil }
                if byte >= 0x80 { ascii = false }
                index += 1
            }
            return nil
        }

        private mutating func escapedString(from start: Int) -> String? {
            var text = Array(bytes[start..<index])
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    let valid = text.withUnsafeBufferPointer { JSONScanner.isValidUTF8($0) }
                    return valid ? String(decoding: text, as: UTF8.self) : nil
                case UInt8(ascii: "\\"):
                    guard unescape(into: &text) else { return nil }
                case 0..<0x20: return nil
                default: text.append(byte)
                }
            }
            return nil
        }

        /// The escape after a backslash, appended as UTF-8.
        private mutating func unescape(into text: inout [UInt8]) -> Bool {
            guard let escape = current else { return false }
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): text.append(escape)
            case UInt8(ascii: "b"): text.append(0x08)
            case UInt8(ascii: "f"): text.append(0x0C)
            case UInt8(ascii: "n"): text.append(0x0A)
            case UInt8(ascii: "r"): text.append(0x0D)
            case UInt8(ascii: "t"): text.append(0x09)
            case UInt8(ascii: "u"):
                guard let scalar = escapedScalar() else { return false }
                UTF8.encode(scalar) { text.append($0) }
            default: return false
            }
            return true
        }

        /// The scalar of `\uXXXX` (after the `u`), a surrogate pair read whole; nil for U+0000
        /// and for a lone surrogate.
        private mutating func escapedScalar() -> Unicode.Scalar? {
            guard let unit = hexUnit(), unit != 0 else { return nil }
            if (0xDC00...0xDFFF).contains(unit) { return nil }
            guard (0xD800...0xDBFF).contains(unit) else { return Unicode.Scalar(unit) }
            guard bytes.count - index >= 6, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { return nil }
            index += 2
            guard let low = hexUnit(), (0xDC00...0xDFFF).contains(low) else { return nil }
            return Unicode.Scalar(0x1_0000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
        }

        private mutating func hexUnit() -> UInt32? {
            guard bytes.count - index >= 4 else { return nil }
            var unit: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[index]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: return nil
                }
                unit = unit << 4 | UInt32(digit)
                index += 1
            }
            return unit
        }

        /// A number in JSON's grammar: whole numbers of up to 15 digits exactly, others through
        /// the C library's correctly rounded conversion, as Foundation's do.
        private mutating func number() -> JSONValue? {
            let start = index
            let negative = current == UInt8(ascii: "-")
            if negative { index += 1 }
            let integerStart = index
            guard skipDigits() else { return nil }
            guard bytes[integerStart] != UInt8(ascii: "0") || index - integerStart == 1 else { return nil }
            let integerDigits = index - integerStart
            var whole = true
            if current == UInt8(ascii: ".") {
                index += 1
                guard skipDigits() else { return nil }
                whole = false
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard skipDigits() else { return nil }
                whole = false
            }
            guard index - start <= 24 else { return nil }
            if whole, integerDigits <= 15 {
                var value: Int64 = 0
                for byte in bytes[integerStart..<index] { value = value * 10 + Int64(byte - UInt8(ascii: "0")) }
                return .number(negative ? (value == 0 ? -0.0 : -Double(value)) : Double(value))
            }
            let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
            guard let value = Double(text), value.isNormal else { return nil }
            return .number(value)
        }

        /// Moves past one or more digits; false when there is none.
        private mutating func skipDigits() -> Bool {
            let start = index
            while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
            return index > start
        }
    }
}
