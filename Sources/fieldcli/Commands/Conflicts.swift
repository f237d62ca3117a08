import ArgumentParser

extension FieldCLI {
    struct Conflicts: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "conflicts",
            abstract: "List, compare and resolve documents edited concurrently on different replicas.",
            discussion: """
                A conflict is a document with several versions none of which saw the others. \
                Nothing is lost: every version stays in the history. Resolving writes one new \
                version that supersedes them all.

                Examples:
                  fieldcli conflicts list
                  fieldcli conflicts show reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c
                  fieldcli conflicts resolve reports 0190c6a4-7f2b-7c3e-9a51-2d3e4f5a6b7c \\
                    --pick 3f9a12c4:7 --reason "Confirmed by phone with the observer"
                """,
            subcommands: [List.self, Show.self, Resolve.self],
            defaultSubcommand: List.self)
    }
}
