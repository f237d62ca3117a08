import ArgumentParser
import HubStore
import HubStoreSQLite
import Foundation
import Logging
import ReplicaStore
import SyncEngine
import SyncHub

extension Syncd {
    /// `syncd devices`: the operator's view of enrolled devices, on the hub machine. Works on the
    /// hub's database directly (no HTTP), also while `syncd serve` runs.
    struct Devices: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Enroll, list and revoke the devices that may sync with this hub.",
            subcommands: [Add.self, List.self, Scopes.self, Revoke.self, Codes.self])

        /// The hub database flag of the commands that work on the hub's SQLite file only (operators,
        /// audit, informant key, bundles); `devices` takes ``HubBackendOptions``.
        struct HubDatabase: ParsableArguments {
            @Option(name: .long, help: "The hub's replica file (default: $VIGIL_HUB_DB, else hub.sqlite).")
            var db: String?

            /// The hub's SQLite replica, created when missing.
            func openStore() throws -> ReplicaStore {
                var configuration = HubConfiguration.fromEnvironment()
                if let db { configuration.databasePath = db }
                let logger = Logger(label: "syncd.devices") { _ in SwiftLogNoOpLogHandler() }
                do {
                    return try SQLiteHubStorage.openOrCreate(path: configuration.databasePath, logger: logger).store
                } catch let error as StoreError {
                    Devices.fail(HubBackendOptions.explain(error))
                }
            }
        }

        /// The read and write scope flags of `add` and `scopes`.
        struct ScopeFlags: ParsableArguments {
            @Option(
                help: ArgumentHelp(
                    "What the device may read: collection/partition patterns such as observations/SD-* (repeat, or separate with commas; * for everything, none for nothing).",
                    valueName: "patterns"))
            var read: [String] = []

            @Option(
                help: ArgumentHelp(
                    "What the device may write, in the same form as --read.", valueName: "patterns"))
            var write: [String] = []

            @Option(help: Syncd.Devices.mediaHelp)
            var media: String?

            /// The media policy given; nil when the flag is absent.
            var mediaPolicy: MediaPolicy? { try? Syncd.Devices.mediaPolicy(media) }

            /// The read scope given; nil when the flag is absent.
            var readScope: Scope? { Self.scope(read) }
            /// The write scope given; nil when the flag is absent.
            var writeScope: Scope? { Self.scope(write) }

            func validate() throws {
                _ = try Syncd.Devices.mediaPolicy(media)
                for (flag, values) in [("--read", read), ("--write", write)] where !values.isEmpty && Self.scope(values) == nil {
                    throw ValidationError(
                        "\(flag) takes collection/partition patterns such as observations/SD-* or situations (each side a name, a prefix and *, or *), separated by commas; * for everything, none for nothing.")
                }
            }

            private static func scope(_ values: [String]) -> Scope? {
                values.isEmpty ? nil : Scope(text: values.joined(separator: ","))
            }
        }

        static func fail(_ message: String, exitCode: ExitCode = ExitCode(1)) -> Never {
            FileHandle.standardError.write(Data("syncd: \(message)\n".utf8))
            Foundation.exit(exitCode.rawValue)
        }

        static func run<T>(_ body: () throws -> T) -> T {
            do {
                return try body()
            } catch {
                fail(HubBackendOptions.explain(error))
            }
        }

        static func time(_ milliseconds: UInt64?) -> String {
            guard let milliseconds else { return "never" }
            return ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
        }
    }
}

extension Syncd.Devices {
    /// `syncd devices add NAME`: prints a one-time enrollment code.
    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Give out a one-time enrollment code for a new device.",
            discussion: """
                Prints the code once (the hub keeps only its hash). On the device: \
                fieldcli enroll --hub URL --code CODE. The code binds the device's public key, \
                this name and its scopes; it works once, until it expires. Give both --read and \
                --write, or --all to let the device read and write everything; on a terminal, a \
                scope not given is asked for; without one (a script), it is a usage error.

                Examples:
                  syncd devices add amina-laptop --read 'observations/SD-*,situations' --write 'observations/SD-DN'
                  syncd devices add hq-analyst --read '*' --write none
                  syncd devices add hub-mirror --all
                """)

        @OptionGroup var hub: HubBackendOptions

        @OptionGroup var scopes: ScopeFlags

        @Flag(help: "Let the device read and write everything (instead of --read and --write).")
        var all = false

        @Argument(help: "The device's name, such as amina-laptop.")
        var name: String

        @Option(help: ArgumentHelp("How long the code stays valid: 30m, 24h, 7d (default 24h).", valueName: "duration"))
        var expires = "24h"

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func validate() throws {
            if DeviceAdministration.parseLifetime(expires) == nil {
                throw ValidationError("--expires takes a duration such as 30m, 24h or 7d (at most a year).")
            }
            if all && (!scopes.read.isEmpty || !scopes.write.isEmpty) {
                throw ValidationError("--all grants everything; give it without --read and --write.")
            }
            if !all && (scopes.read.isEmpty || scopes.write.isEmpty) && isatty(STDIN_FILENO) == 0 {
                throw ValidationError(
                    "Say what the device may read and write with --read and --write (or --all for everything); there is no terminal to ask on.")
            }
        }

        func run() async throws {
            let lifetime = DeviceAdministration.parseLifetime(expires) ?? .seconds(86_400)
            let grants = all
                ? AccessGrants.everything
                : AccessGrants(
                    read: try scopes.readScope ?? Self.ask("read"), write: try scopes.writeScope ?? Self.ask("write"))
            let (code, expiresAt) = await hub.withAdministration { administration in
                let given = try await administration.addDevice(name: name, grants: grants, lifetime: lifetime)
                if let media = scopes.mediaPolicy { try await administration.setMediaPolicy(media, forCode: given.code) }
                return given
            }
            if json {
                let object: [String: Any] = [
                    "name": name, "code": code, "expiresAt": Syncd.Devices.time(expiresAt),
                    "read": grants.read.patterns.map(\.description), "write": grants.write.patterns.map(\.description),
                ]
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
            } else {
                print("Enrollment code for \(name) (valid until \(Syncd.Devices.time(expiresAt)), once; \(grants)):")
                print(code)
            }
        }
    }
}

extension Syncd.Devices.Add {
    /// Asks on the terminal what the device may `access` ("read" or "write"), up to three times.
    static func ask(_ access: String) throws -> Scope {
        for _ in 0..<3 {
            FileHandle.standardError.write(
                Data("What may the device \(access)? Patterns such as observations/SD-*,situations; * for everything, none for nothing: ".utf8))
            guard let line = readLine(strippingNewline: true) else { break }
            if let scope = Scope(text: line.trimmingCharacters(in: .whitespaces)), !line.isEmpty { return scope }
            FileHandle.standardError.write(Data("That is not a scope.\n".utf8))
        }
        throw ValidationError("No \(access) scope was given; nothing was granted.")
    }
}

extension Syncd.Devices {
    /// `syncd devices list`.
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List enrolled devices: status, last seen, lag (versions behind at the last pull) and clock skew.")

        @OptionGroup var hub: HubBackendOptions

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            let devices = await hub.withAdministration { administration in
                var listed: [(device: DeviceRecord, media: MediaPolicy)] = []
                for device in try await administration.list() {
                    listed.append((device, try await administration.mediaPolicy(of: device)))
                }
                return listed
            }
            if json {
                let objects: [[String: Any]] = devices.map { device, media in
                    [
                        "name": device.name, "replica": device.replicaID.hex, "status": device.status.rawValue,
                        "enrolledAt": Syncd.Devices.time(device.enrolledAt),
                        "lastSeenAt": device.lastSeenAt.map { Syncd.Devices.time($0) as Any } ?? NSNull(),
                        "lag": device.lastLag.map { $0 as Any } ?? NSNull(),
                        "skewMilliseconds": device.lastSkewMilliseconds.map { $0 as Any } ?? NSNull(),
                        "pending": device.lastPending.map { $0 as Any } ?? NSNull(),
                        "incarnations": device.incarnations.map(\.hex),
                        "read": device.grants.read.patterns.map(\.description),
                        "write": device.grants.write.patterns.map(\.description),
                        "media": media.rawValue,
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: ["devices": objects], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !devices.isEmpty else {
                print("No devices are enrolled; give one a code with `syncd devices add NAME`.")
                return
            }
            for (device, media) in devices {
                let lag = device.lastLag.map { "\($0) behind" } ?? "-"
                let pending = device.lastPending.map { "\($0) to push" } ?? "- to push"
                let skew = device.lastSkewMilliseconds.map { String(format: "skew %+.1f s", Double($0) / 1000) } ?? "skew -"
                let forks = device.incarnations.isEmpty
                    ? "" : "  forked: also \(device.incarnations.map(\.hex).joined(separator: ", "))"
                print(
                    "\(device.name)  \(device.replicaID.hex)  \(device.status.rawValue)  last seen \(Syncd.Devices.time(device.lastSeenAt))  \(lag)  \(pending)  \(skew)  \(device.grants); media \(media.rawValue)\(forks)")
            }
        }
    }

    /// `syncd devices scopes NAME|ID --read ... --write ...`.
    struct Scopes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change what a device may read or write.",
            discussion: """
                Replaces the scopes given and keeps the other. At its next sync the device \
                receives the documents newly in its read scope, with their history, and forgets \
                those no longer in it (except its own versions the hub has not taken yet). \
                Versions it writes outside its write scope are quarantined at the hub.

                Example:
                  syncd devices scopes amina-laptop --read 'observations/SD-*' --write 'observations/SD-DN,observations/SD-KH'
                """)

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The device's name or replica id.")
        var device: String

        @OptionGroup var scopes: ScopeFlags

        func validate() throws {
            if scopes.read.isEmpty && scopes.write.isEmpty && scopes.media == nil {
                throw ValidationError("Give --read, --write, --media or several: what to set.")
            }
        }

        func run() async throws {
            await hub.withAdministration { administration in
                if let media = scopes.mediaPolicy {
                    let named = try await administration.setMediaPolicy(media, of: device)
                    print("\(named.name) (\(named.replicaID.hex)) now receives \(media.rawValue) attachments at each sync.")
                    if scopes.read.isEmpty && scopes.write.isEmpty { return }
                }
                let (changed, previous) = try await administration.setScopes(
                    read: scopes.readScope, write: scopes.writeScope, of: device)
                print(
                    "\(changed.name) (\(changed.replicaID.hex)) may now \(changed.grants) (was: \(previous)); it takes effect at its next sync.")
            }
        }
    }

    /// `syncd devices revoke NAME|ID`.
    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a device: its credential stops working at once; what it wrote stays.")

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The device's name or replica id.")
        var device: String

        func run() async throws {
            let revoked = await hub.withAdministration { try await $0.revoke(device) }
            print("Revoked \(revoked.name) (\(revoked.replicaID.hex)); it can no longer sync with this hub.")
        }
    }
}

extension Syncd.Devices {
    /// `syncd devices codes list|cancel`: the enrollment codes given out and not used yet.
    struct Codes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List or cancel enrollment codes that have not been used yet.",
            subcommands: [ListCodes.self, CancelCode.self])
    }

    /// `syncd devices codes list`.
    struct ListCodes: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List unused, unexpired codes: the device name, when given out, until when, the scopes.",
            discussion: """
                The codes themselves are never shown (the hub keeps only their SHA-256); each is \
                named by the first 12 hexadecimal digits of that hash, which `codes cancel` takes.
                """)

        @OptionGroup var hub: HubBackendOptions

        @Flag(help: "Print one JSON document on stdout.")
        var json = false

        func run() async throws {
            let codes = await hub.withAdministration { try await $0.unusedCodes() }
            if json {
                let objects: [[String: Any]] = codes.map { code in
                    [
                        "hash": code.hashPrefix, "name": code.deviceName, "createdAt": Syncd.Devices.time(code.createdAt),
                        "expiresAt": Syncd.Devices.time(code.expiresAt), "read": code.grants.read.patterns.map(\.description),
                        "write": code.grants.write.patterns.map(\.description),
                    ]
                }
                let data = try JSONSerialization.data(withJSONObject: ["codes": objects], options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            guard !codes.isEmpty else {
                print("No unused enrollment codes.")
                return
            }
            for code in codes {
                print(
                    "\(code.hashPrefix)  \(code.deviceName)  given \(Syncd.Devices.time(code.createdAt))  expires \(Syncd.Devices.time(code.expiresAt))  \(code.grants)")
            }
        }
    }

    /// `syncd devices codes cancel NAME|HASH-PREFIX`.
    struct CancelCode: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel the unused codes of a device name, or one code by the hash digits `codes list` shows.")

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "A device name, or 6 or more leading hexadecimal digits of a code's hash.")
        var code: String

        func run() async throws {
            let cancelled = await hub.withAdministration { try await $0.cancelCodes(code) }
            for code in cancelled {
                print("Cancelled the code \(code.hashPrefix) for \(code.deviceName); it can no longer enroll a device.")
            }
        }
    }
}
