import ArgumentParser
import ReplicaStore

extension FieldCLI {
    struct Config: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "config",
            abstract: "Show or change a replica setting: keep (delete after receipt).",
            subcommands: [Set.self, Get.self])

        /// The settings there are; `keep` is the only one.
        enum Setting: String, ExpressibleByArgument, CaseIterable {
            case keep
        }

        struct Set: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "set",
                abstract: "Change a setting of this replica.",
                discussion: """
                    keep sent=all|own|none: which report bodies this device keeps once the hub \
                    has acknowledged them. all (the default) keeps every body; own keeps this \
                    device's own reports and drops others' once the hub holds them; none drops \
                    every acknowledged body. What sync needs (ids, counters, knowledge, \
                    signatures) and everything not yet sent stay; a document in conflict keeps \
                    its versions until it is resolved. Dropped bodies are erased from the files \
                    at once and after every sync; listings show them as "sent, not kept here", \
                    and `get` of such a document exits with 85. Setting all again keeps what \
                    arrives from then on; it does not bring dropped bodies back.

                    Examples:
                      fieldcli config set keep sent=none
                      fieldcli config set keep sent=own
                    """)

            @OptionGroup var options: ReplicaOptions

            @Argument(help: "The setting: keep.")
            var setting: Setting

            @Argument(help: "Its value: sent=all, sent=own or sent=none.")
            var value: String

            func validate() throws { _ = try Self.keep(value) }

            static func keep(_ value: String) throws -> KeepSent {
                guard value.hasPrefix("sent="), let keep = KeepSent(rawValue: String(value.dropFirst(5))) else {
                    throw ValidationError("keep takes sent=all, sent=own or sent=none.")
                }
                return keep
            }

            func run() async throws {
                let keep = try Self.keep(value)
                let dropped = try options.open().setKeepSent(keep)
                if options.json {
                    try JSONOutput.print(["keep": "sent=\(keep.rawValue)", "dropped": dropped])
                } else {
                    print("keep sent=\(keep.rawValue); \(dropped) acknowledged bod\(dropped == 1 ? "y" : "ies") dropped now.")
                }
            }
        }

        struct Get: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                commandName: "get",
                abstract: "Show a setting of this replica.",
                discussion: """
                    Examples:
                      fieldcli config get keep
                    """)

            @OptionGroup var options: ReplicaOptions

            @Argument(help: "The setting: keep.")
            var setting: Setting

            func run() async throws {
                let keep = try options.open().keepSent()
                if options.json {
                    try JSONOutput.print(["keep": "sent=\(keep.rawValue)"])
                } else {
                    print("keep sent=\(keep.rawValue)")
                }
            }
        }
    }
}
