/// Repeated measurements of one quantity, summarized by robust statistics.
struct Samples: Sendable {
    /// The measurements in the order they were taken.
    let values: [Double]

    init(_ values: [Double]) { self.values = values }

    private var sorted: [Double] { values.sorted() }

    /// The middle value (the mean of the two middle values for an even count); 0 when empty.
    var median: Double {
        let sorted = self.sorted
        guard !sorted.isEmpty else { return 0 }
        let middle = sorted.count / 2
        return sorted.count.isMultiple(of: 2) ? (sorted[middle - 1] + sorted[middle]) / 2 : sorted[middle]
    }

    /// The nearest-rank percentile `p` (0...100); 0 when empty.
    func percentile(_ p: Double) -> Double {
        let sorted = self.sorted
        guard !sorted.isEmpty else { return 0 }
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    var minimum: Double { values.min() ?? 0 }
    var maximum: Double { values.max() ?? 0 }
}
