public import Foundation
import ReplicaStore

/// The bytes a sync daemon moved on the wire today (UTC), kept beside the replica
/// (`<replica>.budget`, mode 0600) so that a restarted daemon goes on counting: what
/// `syncd run --budget-per-day` spends its budget against.
public struct DailyByteTally: Codable, Sendable, Hashable {
    /// Days since 1970-01-01 UTC.
    public var day: Int
    /// Bytes moved that day, both ways.
    public var spent: Int

    public init(day: Int, spent: Int = 0) {
        self.day = day
        self.spent = max(0, spent)
    }

    /// The UTC day of `date`.
    public static func day(of date: Date) -> Int { Int((date.timeIntervalSince1970 / 86_400).rounded(.down)) }

    /// What is left of `perDay` on `day`: all of it on a day the tally has not counted yet.
    public func remaining(of perDay: Int, on day: Int) -> Int {
        day == self.day ? max(0, perDay - spent) : perDay
    }

    /// Counts `bytes` moved on `day` (a new day starts from zero).
    public mutating func record(_ bytes: Int, on day: Int) {
        if day != self.day { self = DailyByteTally(day: day) }
        spent = spent.addingReportingOverflow(max(0, bytes)).overflow ? Int.max : spent + max(0, bytes)
    }

    /// The tally file of the replica at `replicaPath`.
    public static func path(forReplicaAt replicaPath: String) -> String { replicaPath + ".budget" }

    /// The tally saved at `path`; nil when there is none or it cannot be read (the day then starts
    /// from zero: a damaged tally costs at most one day's budget).
    public static func load(from path: String) -> DailyByteTally? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        return try? JSONDecoder().decode(DailyByteTally.self, from: data)
    }

    /// Saves the tally at `path` (mode 0600).
    public func save(to path: String) throws {
        try PrivateFile.write(try JSONEncoder().encode(self), to: path)
    }
}
