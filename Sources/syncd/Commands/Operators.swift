import ArgumentParser
import Foundation
import HubConsole
import HubStore
import Logging
import ReplicaStore
import SyncHub

extension Syncd {
    /// `syncd operators`: the accounts of the hub's web console (`/console`), on the hub machine.
    struct Operators: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add, list and remove the operators who may log in to the hub's console.",
            subcommands: [Add.self, List.self, Remove.self, SecondFactor.self])

        /// Runs `body` with the operators' administration on the hub's database (SQLite or PostgreSQL).
        static func with<T>(_ hub: HubBackendOptions, _ body: (OperatorAdministration) async throws -> T) async throws -> T {
            try await hub.withOperators { operators in try await body(OperatorAdministration(operators: operators)) }
        }
    }
}

extension Syncd.Operators {
    /// `syncd operators add NAME --role viewer|resolver|admin`: prints a one-time setup link.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an operator and print the one-time link where they set their password.",
            discussion: """
                Roles: viewer (reads every page), resolver (also resolves conflicts), admin (also \
                enrolls and revokes devices). The link works once, until it expires; the hub keeps \
                only its hash. Send it to the operator over a channel you trust.

                Example:
                  syncd operators add amina.k --role resolver --url https://hub.example.org:8443
                """)

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The operator's login name: letters, digits, dots, dashes, underscores.")
        var name: String

        @Option(help: ArgumentHelp("viewer, resolver or admin.", valueName: "role"))
        var role: String

        @Option(help: ArgumentHelp("The hub's address as operators reach it (default: http://127.0.0.1:8080).", valueName: "url"))
        var url = "http://127.0.0.1:8080"

        @Option(help: ArgumentHelp("How long the link stays valid: 30m, 24h, 7d (default 24h).", valueName: "duration"))
        var expires = "24h"

        func validate() throws {
            if OperatorRole(rawValue: role) == nil { throw ValidationError("--role takes viewer, resolver or admin.") }
            if DeviceAdministration.parseLifetime(expires) == nil {
                throw ValidationError("--expires takes a duration such as 30m, 24h or 7d (at most a year).")
            }
            guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil else {
                throw ValidationError("--url takes the hub's address, such as https://hub.example.org:8443.")
            }
        }

        func run() async throws {
            let lifetime = DeviceAdministration.parseLifetime(expires) ?? .seconds(86_400)
            let role = OperatorRole(rawValue: role) ?? .viewer
            let (token, expiresAt) = try await Syncd.Operators.with(hub) { administration in
                try await administration.add(name: name, role: role, lifetime: lifetime)
            }
            print("Setup link for \(name) (\(role), valid once until \(Syncd.Devices.time(expiresAt))):")
            print(OperatorAdministration.setupLink(baseURL: url, token: token))
        }
    }

    /// `syncd operators list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the console's operators and their roles.")

        @OptionGroup var hub: HubBackendOptions

        func run() async throws {
            let operators = try await Syncd.Operators.with(hub) { administration in try await administration.list() }
            guard !operators.isEmpty else {
                print("No operators; add one with `syncd operators add NAME --role admin`.")
                return
            }
            for record in operators {
                let state = record.hasPassword
                    ? "password set" : "setup link valid until \(Syncd.Devices.time(record.setupExpiresAt))"
                let factor = record.hasSecondFactor ? "  TOTP" : ""
                print("\(record.name)  \(record.role)  added \(Syncd.Devices.time(record.createdAt))  \(state)\(factor)")
            }
        }
    }

    /// `syncd operators remove NAME`.
    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove an operator; their sessions end at once.")

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The operator's name.")
        var name: String

        func run() async throws {
            guard try await Syncd.Operators.with(hub, { administration in try await administration.remove(name: name) }) else {
                Syncd.Devices.fail("No operator is called '\(name)'; see `syncd operators list`.")
            }
            print("Removed \(name); their sessions have ended.")
        }
    }
}

extension Syncd.Operators {
    /// `syncd operators totp NAME [--remove]`: a second factor for logging in.
    struct SecondFactor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "totp",
            abstract: "Give an operator a second factor (a TOTP authenticator app), or remove it.",
            discussion: """
                Prints a new secret once, as an otpauth:// URI and in base32, for an authenticator \
                app (RFC 6238: SHA-1, 6 digits, 30 seconds). From then on the console asks for the \
                app's code after the password. Running it again replaces the secret; either way \
                the operator's sessions end. Recommended for every admin.
                """)

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The operator's name.")
        var name: String

        @Flag(help: "Remove the operator's second factor instead.")
        var remove = false

        func run() async throws {
            if remove {
                try await Syncd.Operators.with(hub) { administration in try await administration.removeSecondFactor(name: name) }
                print("\(name) logs in with a password alone now; their sessions have ended.")
                return
            }
            let secret = try await Syncd.Operators.with(hub) { administration in try await administration.enrollSecondFactor(name: name) }
            print("Second factor for \(name), shown only now; add it to their authenticator app:")
            print(TOTP.uri(secret: secret, account: name, issuer: "Vigil"))
            print("Or type this key: \(TOTP.base32(secret))")
        }
    }
}
