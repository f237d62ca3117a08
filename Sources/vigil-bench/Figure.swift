/// One benchmark figure: a quantity measured on Vigil next to its reference measured in the same
/// run, the ratio between them, and the target that ratio is judged by.
struct Figure: Codable, Sendable {
    /// Whether less or more of the unit is better (seconds: less; versions per second: more).
    enum Better: String, Codable, Sendable {
        case lower, higher
    }

    /// The summary of one side's samples.
    struct Measure: Codable, Sendable {
        /// What was measured, in a few words.
        var name: String
        var median: Double
        /// Nearest-rank 90th percentile; nil when there are too few samples for it to mean much.
        var p90: Double?
        var minimum: Double
        var maximum: Double
        var samples: [Double]

        init(name: String, samples: Samples, withP90: Bool) {
            self.name = name
            median = samples.median
            p90 = withP90 ? samples.percentile(90) : nil
            minimum = samples.minimum
            maximum = samples.maximum
            self.samples = samples.values
        }
    }

    /// A stable identifier for scripts comparing runs (`local-write`, `apply-rate`, ...).
    var id: String
    var title: String
    var unit: String
    var better: Better
    var measured: Measure
    var reference: Measure
    /// How many times worse than the reference the measured median is (1 = as good; above 1 =
    /// slower, bigger, or lower throughput): measured/reference when lower is better,
    /// reference/measured when higher is better.
    var ratio: Double
    /// The largest acceptable ``ratio``, when there is a target.
    var targetRatio: Double?
    /// Whether ``ratio`` is within ``targetRatio``; nil without a target.
    var met: Bool?
    /// Parameters and caveats a reader needs to interpret the figure.
    var notes: [String]

    init(
        id: String, title: String, unit: String, better: Better, measured: Measure, reference: Measure,
        targetRatio: Double?, notes: [String]
    ) {
        self.id = id
        self.title = title
        self.unit = unit
        self.better = better
        self.measured = measured
        self.reference = reference
        let (numerator, denominator) = better == .lower
            ? (measured.median, reference.median) : (reference.median, measured.median)
        let ratio = denominator > 0 ? numerator / denominator : .infinity
        self.ratio = ratio
        self.targetRatio = targetRatio
        met = targetRatio.map { ratio <= $0 }
        self.notes = notes
    }
}

extension Figure {
    /// `load`'s 99th-percentile latency in milliseconds, `name`d, next to a target of `target`
    /// milliseconds (`targetName` says it, such as "50 ms"), judged by it.
    static func p99(
        id: String, title: String, name: String, of load: LoadResult, target: Double, targetName: String,
        notes: [String]
    ) -> Figure {
        Figure(
            id: id, title: title, unit: "ms", better: .lower,
            measured: .init(name: name, samples: Samples([load.latencies.percentile(99) * 1000]), withP90: false),
            reference: .init(name: "the target: \(targetName)", samples: Samples([target]), withP90: false),
            targetRatio: 1, notes: notes)
    }
}
