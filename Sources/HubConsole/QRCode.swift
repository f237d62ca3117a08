/// A QR code (ISO/IEC 18004) of some bytes: byte mode, error correction level M (about 15 % of
/// the symbol may be damaged), the smallest of versions 1 to 10 that holds them (at most 213
/// bytes), and the mask with the lowest penalty. Drawn by the console as inline SVG.
///
/// Follows the standard's steps: encode the bits, split them into blocks, add each block's
/// Reed-Solomon codewords, interleave, place them around the function patterns, mask, and write
/// the format and version information.
struct QRCode: Sendable {
    /// 1 to 10.
    let version: Int
    /// 0 to 7.
    let mask: Int
    /// Modules per side: 17 + 4 × version.
    let size: Int
    /// Row by row, `true` for dark.
    private(set) var modules: [Bool]

    /// The most bytes a code of version 10 at level M holds.
    static let maximumBytes = 213

    /// The code of `data`, with `mask` when given (tests), else the best one; nil when `data`
    /// is longer than ``maximumBytes``.
    init?(_ data: [UInt8], mask: Int? = nil) {
        guard let version = (1...10).first(where: { Self.capacity(version: $0) >= data.count }) else { return nil }
        var matrix = Matrix(version: version)
        matrix.drawFunctionPatterns()
        matrix.drawCodewords(Self.codewords(data, version: version))
        let candidates = mask.map { [min(max($0, 0), 7)] } ?? Array(0..<8)
        let chosen = candidates.map { candidate -> (Int, Matrix) in
            var masked = matrix
            masked.applyMask(candidate)
            masked.drawFormatBits(mask: candidate)
            return (candidate, masked)
        }.min { $0.1.penalty() < $1.1.penalty() }
        guard let (best, symbol) = chosen else { return nil }
        self.version = version
        self.mask = best
        size = symbol.size
        modules = symbol.modules
    }

    /// Whether the module in column `x`, row `y` is dark.
    func isDark(x: Int, y: Int) -> Bool { modules[y * size + x] }

    // MARK: - Codewords

    /// Per version 1 to 10 at level M: error correction codewords per block, then the blocks of
    /// the first group and their data codewords, then those of the second group (ISO/IEC 18004 table 9).
    static let blocks: [(ec: Int, count1: Int, data1: Int, count2: Int, data2: Int)] = [
        (10, 1, 16, 0, 0), (16, 1, 28, 0, 0), (26, 1, 44, 0, 0), (18, 2, 32, 0, 0), (24, 2, 43, 0, 0),
        (16, 4, 27, 0, 0), (18, 4, 31, 0, 0), (22, 2, 38, 2, 39), (22, 3, 36, 2, 37), (26, 4, 43, 1, 44),
    ]

    static func dataCodewords(version: Int) -> Int {
        let layout = blocks[version - 1]
        return layout.count1 * layout.data1 + layout.count2 * layout.data2
    }

    static func countBits(version: Int) -> Int { version < 10 ? 8 : 16 }

    /// How many bytes a code of `version` holds in byte mode.
    static func capacity(version: Int) -> Int { (dataCodewords(version: version) * 8 - 4 - countBits(version: version)) / 8 }

    /// The data codewords of `data` (mode, count, bytes, terminator, padding) with each block's
    /// error correction codewords, interleaved as they are placed.
    static func codewords(_ data: [UInt8], version: Int) -> [UInt8] {
        let capacityBits = dataCodewords(version: version) * 8
        var bits = BitBuffer()
        bits.append(0b0100, count: 4)
        bits.append(data.count, count: countBits(version: version))
        for byte in data { bits.append(Int(byte), count: 8) }
        bits.append(0, count: min(4, capacityBits - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var bytes = bits.bytes
        for pad in 0..<(capacityBits / 8 - bytes.count) { bytes.append(pad % 2 == 0 ? 0xEC : 0x11) }
        let layout = blocks[version - 1]
        var blocksOfData: [[UInt8]] = []
        var start = 0
        for length in Array(repeating: layout.data1, count: layout.count1) + Array(repeating: layout.data2, count: layout.count2) {
            blocksOfData.append(Array(bytes[start..<start + length]))
            start += length
        }
        let generator = ReedSolomon.generator(degree: layout.ec)
        let corrections = blocksOfData.map { ReedSolomon.remainder(of: $0, generator: generator) }
        return interleave(blocksOfData) + interleave(corrections)
    }

    /// The first codeword of each block, then the second of each, and so on (shorter blocks end first).
    static func interleave(_ blocks: [[UInt8]]) -> [UInt8] {
        let longest = blocks.map(\.count).max() ?? 0
        return (0..<longest).flatMap { index in blocks.compactMap { index < $0.count ? $0[index] : nil } }
    }
}

/// Bits appended most significant first.
struct BitBuffer {
    private(set) var bits: [Bool] = []
    var count: Int { bits.count }

    mutating func append(_ value: Int, count: Int) {
        for shift in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> shift) & 1 == 1) }
    }

    /// The bits as bytes (the count is a multiple of 8).
    var bytes: [UInt8] {
        stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<min(start + 8, bits.count)].reduce(UInt8(0)) { ($0 << 1) | ($1 ? 1 : 0) }
        }
    }
}

/// Reed-Solomon codes over GF(256) with the QR code's polynomial x⁸ + x⁴ + x³ + x² + 1.
enum ReedSolomon {
    /// The product of `x` and `y` in GF(256) (Russian peasant multiplication).
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var product: UInt16 = 0
        for bit in stride(from: 7, through: 0, by: -1) {
            product = (product << 1) ^ ((product >> 7) * 0x11D)
            product ^= UInt16((y >> UInt8(bit)) & 1) * UInt16(x)
        }
        return UInt8(product & 0xFF)
    }

    /// The coefficients, highest first without the leading 1, of (x − α⁰)(x − α¹)…(x − α^(degree−1)).
    static func generator(degree: Int) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: degree)
        result[degree - 1] = 1
        var root: UInt8 = 1
        for _ in 0..<degree {
            for index in 0..<degree {
                result[index] = multiply(result[index], root)
                if index + 1 < degree { result[index] ^= result[index + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    /// The remainder of `data` × x^degree divided by the generator: the error correction codewords.
    static func remainder(of data: [UInt8], generator: [UInt8]) -> [UInt8] {
        var result = [UInt8](repeating: 0, count: generator.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for index in result.indices { result[index] ^= multiply(generator[index], factor) }
        }
        return result
    }
}
