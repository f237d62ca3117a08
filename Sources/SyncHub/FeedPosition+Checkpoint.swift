import ReplicaStore
import SyncEngine

extension FeedPosition {
    /// The opaque pull checkpoint the hub gives out: `0` for the start, else
    /// `<sequence>.<origin>:<counter>`, the dot stored at that sequence, so that a checkpoint from
    /// another hub, or from before the hub was restored from a backup, is recognised.
    var checkpoint: String {
        guard sequence > 0, let dot else { return "0" }
        return "\(sequence).\(dot)"
    }

    /// Parses a checkpoint; nil when it is not one this format produces.
    init?(checkpoint text: String) {
        if text == "0" {
            self = .start
            return
        }
        guard text.utf8.count <= 100, let separator = text.firstIndex(of: "."),
            let sequence = Int64(text[..<separator]), sequence > 0,
            let dot = Dot(text[text.index(after: separator)...])
        else { return nil }
        self.init(sequence: sequence, dot: dot)
    }
}
