import ArgumentParser
import SyncEngine

extension Syncd.Devices {
    /// The help of `--media`.
    static let mediaHelp = ArgumentHelp(
        "Which attachments the device receives at each sync: all (within its read scope), none, or own (those named by versions it wrote; the default). Others can be fetched on demand.",
        valueName: "all|none|own")

    /// The policy `--media` names; a usage error when it names none.
    static func mediaPolicy(_ text: String?) throws -> MediaPolicy? {
        guard let text else { return nil }
        guard let policy = MediaPolicy(rawValue: text.lowercased()) else {
            throw ValidationError("--media takes all, none or own.")
        }
        return policy
    }
}
