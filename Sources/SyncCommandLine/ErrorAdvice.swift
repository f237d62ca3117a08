public import ReplicaStore
public import SyncClient
public import SyncEngine

// What to do after a library's failure, naming commands and flags: the libraries say what
// happened (and give the facts), the command line says how to go on. `fieldcli` and `syncd run`
// show these; the hub's commands word their own.

extension SyncClientError {
    /// The message followed by what to do.
    public var messageWithAdvice: String {
        switch code {
        case .notEnrolled, .unauthorized:
            return message + " Enroll this device with `fieldcli enroll --hub URL --code CODE` (the hub operator gives out codes)."
        case .invalidHubAddress:
            return message + " Pass the hub's address as --hub https://host:port."
        case .insecureHubAddress:
            return message + " Use https, or pass --allow-insecure-http to send the token and records in clear."
        case .credentialHubMismatch:
            return message
                + " To sync with that hub, pass --token with a credential it issued, or enroll with it (`fieldcli enroll --hub URL --code CODE`); without --hub the saved hub is used."
        case .credentialFileExposed:
            return message + " Run `chmod 600` on it, or enroll again if others may have read it."
        case .redirected:
            return message + " If the hub has moved, pass its new address with --hub and --token."
        case .answerTooLarge:
            return message + " Local data is kept; ask the hub operator to check the hub."
        case .untrustedHub:
            return message
                + " Local data is kept. Check that --hub (or VIGIL_HUB, or the hub saved by `fieldcli enroll`) names the hub this device enrolled with; if it does, ask the hub operator to check the hub."
        default:
            return message
        }
    }
}

extension StoreError {
    /// The message followed by what to do.
    public var messageWithAdvice: String {
        switch code {
        case .replicaMissing:
            return message + " Run `fieldcli init` to create one, or point --db (or VIGIL_DB) at an existing replica."
        case .replicaExists:
            return message + " Choose another path with --db, or use the replica that is there."
        case .notAReplica:
            return message
                + " Point --db (or VIGIL_DB) at a Vigil replica (restore a damaged one from a backup), or create one with `fieldcli init`."
        case .keyFileExposed:
            return message + " Run `chmod 600` on it, or make a new replica if others may have read it."
        case .documentNotFound:
            guard let collection = facts[.collection] else { return message }
            return message + " `fieldcli list \(collection)` shows the ids there are."
        default:
            return message
        }
    }
}

extension SyncEngineError {
    /// The message followed by what to do.
    public var messageWithAdvice: String {
        guard let collection = facts[.collection] else { return message }
        switch code {
        case .conflict:
            guard let id = facts[.documentID] else { return message }
            return message
                + " See its versions with `fieldcli conflicts show \(collection) \(id)`, then resolve them with `fieldcli conflicts resolve \(collection) \(id)`."
        case .partitionMismatch:
            return message + " Leave --partition out for \(collection): its records are filed by their region."
        default:
            return message
        }
    }
}
