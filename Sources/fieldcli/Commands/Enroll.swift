import ArgumentParser
import Foundation
import ReplicaStore
import SyncClient
import SyncCommandLine
import SyncEngine

extension FieldCLI {
    struct Enroll: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "enroll",
            abstract: "Enroll this replica's device with a hub, using a one-time code from the hub operator.",
            discussion: """
                Sends the replica's id and public key with the code; the hub answers with this \
                device's credential, kept with the hub's URL and the --ca-file or --pin given here in \
                PATH.credential (mode 0600). Afterwards `fieldcli sync` and `syncd run` need no flags; \
                the credential is only ever sent to this hub.

                Example:
                  fieldcli enroll --hub https://hub.example:8443 --code 7K2M-Q9XD-4TAB-H3WN --ca-file network-ca.pem
                """)

        @OptionGroup var options: ReplicaOptions

        @Option(help: ArgumentHelp("The hub's URL.", valueName: "url"))
        var hub: String

        @Option(help: ArgumentHelp("The one-time enrollment code the hub operator gave out.", valueName: "code"))
        var code: String

        @Option(help: ArgumentHelp("A name to suggest for this device (the operator's name wins).", valueName: "name"))
        var name: String?

        @Option(help: ArgumentHelp("Seconds without progress before the request fails (whole seconds, at least 1).", valueName: "seconds"))
        var timeout = 30

        @OptionGroup(title: "Hub trust") var trustOptions: TrustOptions

        func validate() throws {
            if !(hub.hasPrefix("http://") || hub.hasPrefix("https://")) || URL(string: hub)?.host == nil {
                throw ValidationError("--hub takes an http:// or https:// URL, such as http://127.0.0.1:8080.")
            }
            if code.isEmpty { throw ValidationError("--code takes the enrollment code the hub operator gave out.") }
            if timeout < 1 { throw ValidationError("--timeout takes whole seconds, at least 1.") }
        }

        func run() async throws {
            let store = try options.open()
            guard let url = URL(string: hub) else { throw ValidationError("--hub takes an http:// or https:// URL.") }
            do {
                let answer = try await DeviceEnrollment.enroll(
                    store, hub: url, code: code, name: name, timeoutSeconds: timeout, trust: trustOptions.trust)
                let hubName = HubCredentials.peerName(for: url)
                let fingerprint = answer.hubKey?.fingerprint
                if options.json {
                    try JSONOutput.print([
                        "hub": hubName, "hubReplica": answer.hub.hex, "name": answer.name, "replica": store.replicaID.hex,
                        "hubKey": fingerprint ?? NSNull(),
                    ])
                } else {
                    print("Enrolled this replica as '\(answer.name)' at \(hubName); `fieldcli sync` and `syncd run` need no flags now.")
                    if let fingerprint {
                        print("Pinned the hub's key \(fingerprint): compare it with the one `syncd serve` logs (hub.key) before trusting this device's reports.")
                    }
                }
            } catch let error as SyncClientError {
                Console.diagnose(error.messageWithAdvice)
                throw error.code.exitCode
            }
        }
    }
}
