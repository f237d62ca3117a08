public import SyncClient

extension SyncClientError {
    /// The message followed by what to do, naming commands and flags: the library says what
    /// happened, the command line says how to go on.
    public var messageWithAdvice: String {
        switch code {
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
