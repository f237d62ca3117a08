import Foundation

/// Finds an object in a JSON text that holds one key twice.
///
/// A duplicate key is an ambiguity: Foundation's `JSONDecoder` silently takes one of the values,
/// another parser may take the other, so an attacker could show two readers (a proxy, an auditor,
/// the hub) two different requests. The hub refuses such a request (400 `malformed-request`).
///
/// One pass over the bytes: linear in the text, with a set of the keys of each open object (at
/// most ``maxDepth`` deep; deeper texts are refused by the depth limits anyway). Keys are compared
/// as Swift strings, as `JSONDecoder` compares them: escapes decoded, canonically equivalent
/// strings equal. Text that is not JSON is left for the decoder to refuse.
package enum JSONDuplicateKeys {
    /// Objects deeper than this are not looked into.
    static let maxDepth = 512

    /// The first key found twice in one object; nil when there is none.
    package static func firstDuplicate(in text: UnsafeRawBufferPointer) -> String? {
        var frames: [Frame] = []
        var index = 0
        while index < text.count {
            switch text[index] {
            case UInt8(ascii: "\""):
                guard let end = endOfString(in: text, from: index) else { return nil }
                if let last = frames.indices.last, frames[last].expectsKey {
                    guard let key = decodeKey(text[index...end]) else { return nil }
                    if !frames[last].keys.insert(key).inserted { return key }
                    frames[last].expectsKey = false
                }
                index = end
            case UInt8(ascii: "{"):
                guard frames.count < maxDepth else { return nil }
                frames.append(Frame(isObject: true))
            case UInt8(ascii: "["):
                guard frames.count < maxDepth else { return nil }
                frames.append(Frame(isObject: false))
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                _ = frames.popLast()
            case UInt8(ascii: ","):
                if let last = frames.indices.last, frames[last].isObject { frames[last].expectsKey = true }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    private struct Frame {
        var isObject: Bool
        var expectsKey: Bool
        var keys: Set<String> = []

        init(isObject: Bool) {
            self.isObject = isObject
            expectsKey = isObject
        }
    }

    /// The index of the quote closing the string opening at `start`; nil when it does not close.
    private static func endOfString(in text: UnsafeRawBufferPointer, from start: Int) -> Int? {
        var index = start + 1
        while index < text.count {
            switch text[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): return index
            default: index += 1
            }
        }
        return nil
    }

    /// A key as `JSONDecoder` reads it (with its quotes in `quoted`); nil when it is not a valid string.
    private static func decodeKey(_ quoted: Slice<UnsafeRawBufferPointer>) -> String? {
        guard quoted.contains(UInt8(ascii: "\\")) else {
            return String(validating: quoted.dropFirst().dropLast(), as: UTF8.self)
        }
        return try? JSONDecoder().decode(String.self, from: Data(quoted))
    }
}
