extension QRCode {
    /// The modules of a symbol being built, and which of them belong to function patterns (finder,
    /// timing, alignment, format and version information), which neither data nor masks touch.
    struct Matrix: Sendable {
        let version: Int
        let size: Int
        var modules: [Bool]
        var isFunction: [Bool]

        init(version: Int) {
            self.version = version
            size = 17 + 4 * version
            modules = Array(repeating: false, count: size * size)
            isFunction = modules
        }

        subscript(x: Int, y: Int) -> Bool {
            get { modules[y * size + x] }
            set { modules[y * size + x] = newValue }
        }

        mutating func setFunction(_ x: Int, _ y: Int, _ dark: Bool) {
            self[x, y] = dark
            isFunction[y * size + x] = true
        }

        /// The centres of the alignment patterns along each axis (ISO/IEC 18004 annex E).
        static let alignmentCentres: [[Int]] = [
            [], [6, 18], [6, 22], [6, 26], [6, 30], [6, 34], [6, 22, 38], [6, 24, 42], [6, 26, 46], [6, 28, 50],
        ]

        /// Timing patterns, the three finder patterns with their separators, alignment patterns,
        /// the format information's place (written per mask) and the version information.
        mutating func drawFunctionPatterns() {
            for index in 0..<size {
                setFunction(6, index, index % 2 == 0)
                setFunction(index, 6, index % 2 == 0)
            }
            for (x, y) in [(3, 3), (size - 4, 3), (3, size - 4)] { drawFinder(x, y) }
            let centres = Self.alignmentCentres[version - 1]
            for (i, x) in centres.enumerated() {
                for (j, y) in centres.enumerated() {
                    let last = centres.count - 1
                    if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                    for dy in -2...2 { for dx in -2...2 { setFunction(x + dx, y + dy, max(abs(dx), abs(dy)) != 1) } }
                }
            }
            drawFormatBits(mask: 0)
            drawVersion()
        }

        private mutating func drawFinder(_ x: Int, _ y: Int) {
            for dy in -4...4 {
                for dx in -4...4 where (0..<size).contains(x + dx) && (0..<size).contains(y + dy) {
                    let distance = max(abs(dx), abs(dy))
                    setFunction(x + dx, y + dy, distance != 2 && distance != 4)
                }
            }
        }

        /// The 15 format bits (level M, `mask`, BCH-protected, masked with 101010000010010) in
        /// their two copies, and the dark module.
        mutating func drawFormatBits(mask: Int) {
            let data = (0b00 << 3) | mask
            var remainder = data
            for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
            let bits = ((data << 10) | remainder) ^ 0x5412
            func bit(_ index: Int) -> Bool { (bits >> index) & 1 == 1 }
            for index in 0...5 { setFunction(8, index, bit(index)) }
            setFunction(8, 7, bit(6))
            setFunction(8, 8, bit(7))
            setFunction(7, 8, bit(8))
            for index in 9..<15 { setFunction(14 - index, 8, bit(index)) }
            for index in 0..<8 { setFunction(size - 1 - index, 8, bit(index)) }
            for index in 8..<15 { setFunction(8, size - 15 + index, bit(index)) }
            setFunction(8, size - 8, true)
        }

        /// The 18 version bits (BCH-protected) in their two 6 × 3 blocks, from version 7 on.
        private mutating func drawVersion() {
            guard version >= 7 else { return }
            var remainder = version
            for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
            let bits = (version << 12) | remainder
            for index in 0..<18 {
                let dark = (bits >> index) & 1 == 1
                let (a, b) = (size - 11 + index % 3, index / 3)
                setFunction(a, b, dark)
                setFunction(b, a, dark)
            }
        }

        /// Places the codewords' bits in two-module columns from the right, up and down in turn,
        /// skipping function modules and the vertical timing pattern; what is left stays light.
        mutating func drawCodewords(_ codewords: [UInt8]) {
            var index = 0
            var right = size - 1
            while right >= 1 {
                if right == 6 { right = 5 }
                let upward = (right + 1) & 2 == 0
                for step in 0..<size {
                    let y = upward ? size - 1 - step : step
                    for x in [right, right - 1] where !isFunction[y * size + x] && index < codewords.count * 8 {
                        self[x, y] = (codewords[index >> 3] >> (7 - UInt8(index & 7))) & 1 == 1
                        index += 1
                    }
                }
                right -= 2
            }
        }

        /// Inverts the data modules where mask pattern `mask` holds (ISO/IEC 18004 table 10).
        mutating func applyMask(_ mask: Int) {
            for y in 0..<size {
                for x in 0..<size where !isFunction[y * size + x] && Self.maskHolds(mask, x: x, y: y) {
                    self[x, y].toggle()
                }
            }
        }

        static func maskHolds(_ mask: Int, x: Int, y: Int) -> Bool {
            switch mask {
            case 0: (x + y) % 2 == 0
            case 1: y % 2 == 0
            case 2: x % 3 == 0
            case 3: (x + y) % 3 == 0
            case 4: (x / 3 + y / 2) % 2 == 0
            case 5: x * y % 2 + x * y % 3 == 0
            case 6: (x * y % 2 + x * y % 3) % 2 == 0
            default: ((x + y) % 2 + x * y % 3) % 2 == 0
            }
        }
    }
}
