import ArgumentParser
import SyncHub

extension Syncd.Serve {
    /// The hub's limits as flags, read by the one table ``HubConfiguration/Limits/settings``
    /// (which also names their environment variables): `--NAME N` or `--NAME=N`. An absent flag
    /// keeps the environment's value, else the default.
    struct LimitOptions: ParsableArguments {
        @Argument(parsing: .allUnrecognized, help: ArgumentHelp(visibility: .hidden))
        var arguments: [String] = []

        /// The flags given, in order, with their values.
        func values() throws -> [(setting: HubConfiguration.Limits.Setting, value: Int)] {
            var values: [(HubConfiguration.Limits.Setting, Int)] = []
            var remaining = arguments[...]
            while let argument = remaining.popFirst() {
                let parts = argument.split(separator: "=", maxSplits: 1).map(String.init)
                guard let setting = HubConfiguration.Limits.setting(flag: parts[0]) else {
                    throw ValidationError("Unknown option '\(parts[0])'; see `syncd serve --help`.")
                }
                guard let text = parts.count == 2 ? parts[1] : remaining.popFirst() else {
                    throw ValidationError("\(setting.flag) takes a number.")
                }
                guard let value = Int(text), value >= setting.minimum else {
                    throw ValidationError("\(setting.flag) takes a whole number of at least \(setting.minimum).")
                }
                values.append((setting, value))
            }
            return values
        }

        func validate() throws {
            _ = try values()
        }

        func apply(to limits: inout HubConfiguration.Limits) throws {
            for (setting, value) in try values() { setting.set(value, in: &limits) }
        }

        /// The limits' part of `syncd serve --help`, made from the table.
        static var helpText: String {
            let lines = HubConfiguration.Limits.settings.map { setting in
                "  \(setting.flag) N\n        \(setting.help) (default \(setting.defaultText); $\(setting.environmentKey))."
            }
            return "Limits (a flag wins over its environment variable):\n" + lines.joined(separator: "\n")
        }
    }
}
