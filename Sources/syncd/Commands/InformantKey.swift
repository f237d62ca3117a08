import ArgumentParser
import Foundation
import HubStore
import HubStoreSQLite
import HubStorePostgres
import Logging
import ReplicaStore
import SyncEngine
import SyncHub
import Records

extension Syncd {
    /// `syncd informant-key`: the network's informant key, to which devices seal informant references.
    struct InformantKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "informant-key",
            abstract: "Make the network's informant key, or grant it to a console operator.",
            discussion: """
                Devices seal the informant reference of an observation to this key before they \
                sign it: the hub's database, relays and other devices hold it sealed. Resolvers and \
                admins open it in the console (the key is sealed to each of them and opens with \
                their password at login); the holder of the key file opens it with \
                `syncd informant-refs open`.
                """,
            subcommands: [Init.self, Grant.self])

        /// The code of a key that does not open a reference, or is not the network's key.
        static let keyRefused = ExitCode(78)

        /// The informant key in `path`: refused when other users can read the file.
        static func readKeyFile(_ path: String) -> InformantPrivateKey {
            guard let data = FileManager.default.contents(atPath: path) else {
                Devices.fail("Cannot read the key file \(path); check the path and its permissions.")
            }
            if PrivateFile.isExposed(path) == true {
                Devices.fail("The key file \(path) can be read by other users; run `chmod 600 \(path)` and try again.")
            }
            guard let key = try? InformantPrivateKey(fileText: String(decoding: data, as: UTF8.self)) else {
                Devices.fail("The file \(path) holds no informant key (written by `syncd informant-key init --out`).")
            }
            return key
        }
    }
}

extension Syncd.InformantKey {
    /// `syncd informant-key init [--out FILE]`.
    struct Init: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make the network's informant key (once).",
            discussion: """
                The private key is sealed to every resolver and admin who has logged in to the \
                console since this version (their key pair is made at login or setup); others get \
                it when one of those logs in, or with `syncd informant-key grant`. --out also \
                writes it to a new file only you can read, for an offline holder (recovery, and \
                opening references without the console): keep that file off the hub. Without --out, \
                at least one such operator is needed, or the key would be lost.
                """)

        @OptionGroup var hub: HubBackendOptions

        @Option(help: ArgumentHelp("Also write the private key to this new file (mode 0600).", valueName: "path"))
        var out: String?

        func run() async throws {
            let out = self.out
            try await hub.withOperators { operators in
                let key = InformantPrivateKey()
                if out == nil, try await operators.eligibleOperatorKeyCount() == 0 {
                    Syncd.Devices.fail(
                        "No resolver or admin has a key pair yet (one is made when they log in to the console), so the key would be lost; give --out FILE, or have an admin log in first.")
                }
                if let out {
                    do {
                        try PrivateFile.createEmpty(at: out)
                        try PrivateFile.write(Data(key.fileText.utf8), to: out)
                    } catch {
                        Syncd.Devices.fail("Cannot write the key file \(out) (it must not exist yet): \(error)")
                    }
                }
                let created: (statement: InformantKeyStatement, granted: [String])
                do {
                    created = try await operators.createInformantKey(key, keyFileWritten: out != nil)
                } catch let error as InformantKeyError where error.code == .exists {
                    if let out { try? FileManager.default.removeItem(atPath: out) }
                    let held = (try? await operators.informantKey())?.publicKey.keyID ?? "unknown"
                    Syncd.Devices.fail("This hub already has an informant key (\(held)); it is made once.")
                } catch {
                    if let out { try? FileManager.default.removeItem(atPath: out) }
                    throw error
                }
                print("Informant key \(created.statement.publicKey.keyID) made; devices fetch it at their next sync.")
                print(created.granted.isEmpty ? "Sealed to no operator yet." : "Sealed to: \(created.granted.joined(separator: ", ")).")
                if let out { print("Private key written to \(out); keep it offline, off the hub.") }
            }
        }
    }

    /// `syncd informant-key grant NAME --key-file FILE`.
    struct Grant: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Seal the informant key to a resolver or admin of the console.",
            discussion: "The operator must have logged in once since this version (their key pair is made then).")

        @OptionGroup var hub: HubBackendOptions

        @Argument(help: "The operator's name.")
        var name: String

        @Option(help: ArgumentHelp("The key file written by `syncd informant-key init --out`.", valueName: "path"))
        var keyFile: String

        func run() async throws {
            let key = Syncd.InformantKey.readKeyFile(keyFile)
            let name = self.name
            try await hub.withOperators { operators in
                do {
                    try await operators.grantInformantKey(key, to: name, by: AuditEntry.operatorActor)
                } catch let error as InformantKeyError {
                    switch error.code {
                    case .missing: Syncd.Devices.fail("This hub has no informant key; make it with `syncd informant-key init`.")
                    case .wrongKey:
                        FileHandle.standardError.write(Data("syncd: The key file holds another key than this hub's informant key.\n".utf8))
                        throw Syncd.InformantKey.keyRefused
                    case .noSuchOperator: Syncd.Devices.fail("No operator is called '\(name)'; see `syncd operators list`.")
                    case .notEligible: Syncd.Devices.fail("\(name) is a viewer; only resolvers and admins may see informant references.")
                    default: Syncd.Devices.fail("\(name) has no key pair yet; it is made when they log in to the console. Grant again after that.")
                    }
                }
            }
            print("Informant key sealed to \(name); it opens at their next login.")
        }
    }
}

extension Syncd {
    /// `syncd informant-refs open COLLECTION ID --key-file FILE`: the offline key holder's view.
    struct InformantRefs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "informant-refs",
            abstract: "Open sealed informant references with the informant key file.",
            subcommands: [Open.self])

        struct Open: AsyncParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Print the informant reference of each current version of a record.",
                discussion: """
                    One line per current version: its dot and the reference (or '(none)'). Exit \
                    code 78 when a reference does not open with the key (another key, or altered). \
                    Reads the hub's SQLite file (--db) or its PostgreSQL schema (--postgres).
                    """)

            @OptionGroup var hub: HubBackendOptions

            @Argument(help: "The collection, such as observations.") var collection: String
            @Argument(help: "The record's id.") var id: String

            @Option(help: ArgumentHelp("The key file written by `syncd informant-key init --out`.", valueName: "path"))
            var keyFile: String

            func run() async throws {
                guard let collectionName = CollectionName(collection), let documentID = DocumentID(id) else {
                    throw ValidationError("Give a collection name and a document id, such as observations 0190c6a4-….")
                }
                let key = Syncd.InformantKey.readKeyFile(keyFile)
                guard let document = await document(DocumentKey(collection: collectionName, id: documentID)) else {
                    Syncd.Devices.fail("The hub holds no \(collection) record \(id).")
                }
                var refused = false
                for version in document.siblings {
                    guard let body = version.body, case .object(let fields)? = try? JSONValue(parsing: body),
                        case .object(let protection)? = fields["source_protection"],
                        case .string(let reference)? = protection["informant_ref"]
                    else {
                        print("\(version.dot)  (none)")
                        continue
                    }
                    guard InformantSeal.isSealed(reference) else {
                        print("\(version.dot)  \(reference)  (kept in clear)")
                        continue
                    }
                    do {
                        print("\(version.dot)  \(try InformantSeal.open(reference, with: key, collection: collectionName, id: documentID))")
                    } catch {
                        print("\(version.dot)  (does not open: \(error))")
                        refused = true
                    }
                }
                if refused { throw Syncd.InformantKey.keyRefused }
            }

            /// The record `key` with its current versions, from the hub's SQLite file (created when
            /// missing, as before) or its PostgreSQL schema; exits with one sentence when the hub's
            /// data cannot be read.
            private func document(_ key: DocumentKey) async -> StoredDocument? {
                let logger = Logger(label: "syncd.informant-refs") { _ in SwiftLogNoOpLogHandler() }
                do {
                    switch hub.location(HubConfiguration.fromEnvironment()) {
                    case .sqlite(let path):
                        return try SQLiteHubStorage.openOrCreate(path: path, logger: logger).store.document(key)
                    case .postgres(let address, let schema, let keyFile):
                        return try await PostgresHub.withHub(address: address, schema: schema, keyFile: keyFile, logger: logger) { hub in
                            try await hub.backend().documents?.document(key)
                        }
                    }
                } catch {
                    Syncd.Devices.fail(HubBackendOptions.explain(error), exitCode: HubBackendOptions.exitCode(of: error))
                }
            }
        }
    }
}
