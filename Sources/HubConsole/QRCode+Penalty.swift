extension QRCode.Matrix {
    /// The penalty of a masked symbol (ISO/IEC 18004 section 7.8.3): runs of five or more modules
    /// of one colour, 2 × 2 blocks of one colour, finder-like 1:1:3:1:1 patterns beside four
    /// light modules, and a proportion of dark modules away from half.
    func penalty() -> Int {
        let rows = (0..<size).map { y in (0..<size).map { x in self[x, y] } }
        let columns = (0..<size).map { x in (0..<size).map { y in self[x, y] } }
        var total = 0
        for line in rows + columns { total += Self.runPenalty(line) + Self.finderLikePenalty(line) }
        for y in 0..<size - 1 {
            for x in 0..<size - 1 {
                let colour = self[x, y]
                if self[x + 1, y] == colour && self[x, y + 1] == colour && self[x + 1, y + 1] == colour { total += 3 }
            }
        }
        let dark = modules.filter { $0 }.count
        total += 10 * (abs(dark * 100 / modules.count - 50) / 5)
        return total
    }

    /// 3 for a run of five modules of one colour, one more for each further module.
    static func runPenalty(_ line: [Bool]) -> Int {
        var total = 0
        var run = 1
        for index in 1...line.count {
            if index < line.count && line[index] == line[index - 1] {
                run += 1
                continue
            }
            if run >= 5 { total += 3 + run - 5 }
            run = 1
        }
        return total
    }

    static let finderLike: [Bool] = [true, false, true, true, true, false, true]

    /// 40 for each 1:1:3:1:1 dark-light-dark-light-dark pattern with four light modules (or the
    /// symbol's edge) before or after it.
    static func finderLikePenalty(_ line: [Bool]) -> Int {
        guard line.count >= finderLike.count else { return 0 }
        var total = 0
        for start in 0...(line.count - finderLike.count) where Array(line[start..<start + finderLike.count]) == finderLike {
            let before = line[max(0, start - 4)..<start].allSatisfy { !$0 }
            let after = line[(start + finderLike.count)..<min(line.count, start + finderLike.count + 4)].allSatisfy { !$0 }
            if before || after { total += 40 }
        }
        return total
    }
}
