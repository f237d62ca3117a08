import ArgumentParser
import ReplicaStore
import SyncCommandLine
import SyncEngine
import Records

/// The exit codes of `fieldcli`, one per kind of failure, so scripts can tell them apart.
///
/// | code | meaning |
/// |---|---|
/// | 0 | success |
/// | 1 | unexpected failure |
/// | 64 | usage: a bad flag or argument |
/// | 65 | invalid input: malformed or non-object JSON, a bad collection, id, partition or dot |
/// | 66 | no replica at the path (run `fieldcli init`) |
/// | 67 | document not found |
/// | 68 | conflict: the document is in conflict, there is nothing to resolve, or a partition change |
/// | 69 | hub unreachable (sync) |
/// | 70 | not a replica: a corrupt or foreign SQLite file, or a newer schema |
/// | 71 | a replica already exists at the path |
/// | 73 | cannot write (read-only) |
/// | 74 | disk full or I/O error |
/// | 75 | replica busy: try again |
/// | 76 | device key or credential file problem |
/// | 77 | refused by the hub (authentication) |
/// | 78 | protocol mismatch |
/// | 79 | wrong passphrase for an encrypted replica |
/// | 80 | encrypted replica and no passphrase to be had: no terminal and no passphrase file, or an unusable one |
/// | 81 | sync: another hub answered than the one this replica enrolled with (or a hub claimed a fork without proof) |
/// | 82 | import: some lines are invalid; nothing was written |
/// | 83 | import with `--skip-invalid`: the valid lines were written, the invalid ones skipped |
/// | 84 | the unlock agent cannot be used: its folder is not private, or it did not start |
/// | 85 | the document's body was sent and not kept here (`fieldcli config set keep sent=…`) |
/// | 86 | the attachment is not on this device (`fieldcli attachments fetch`) |
/// | 87 | the hub refused an attachment (over its size limit or the device's quota), or one failed its SHA-256 check |
/// | 90 | bundle import: the file is no bundle, cut short, altered or damaged (its SHA-256 does not match), or in a newer format; nothing was imported |
/// | 91 | bundle import: the bundle was written under another hub than this replica's; nothing was imported |
/// | 92 | record observation: an informant reference and no informant key on this device to seal it to (sync once); nothing was written |
extension ExitCode {
    static let unexpected = ExitCode(1)
    static let usage = ExitCode(64)
    static let invalidInput = ExitCode(65)
    static let noReplica = ExitCode(66)
    static let documentNotFound = ExitCode(67)
    static let conflict = ExitCode(68)
    static let hubUnreachable = ExitCode(69)
    static let notAReplica = ExitCode(70)
    static let replicaExists = ExitCode(71)
    static let cannotWrite = ExitCode(73)
    static let diskOrIO = ExitCode(74)
    static let busy = ExitCode(75)
    static let keyFile = ExitCode(76)
    static let refusedByHub = ExitCode(77)
    static let protocolMismatch = ExitCode(78)
    static let wrongPassphrase = ExitCode(79)
    static let locked = ExitCode(80)
    static let untrustedHub = ExitCode(81)
    static let importRefused = ExitCode(82)
    static let importSkipped = ExitCode(83)
    static let agentUnavailable = ExitCode(84)
    static let bodyNotKept = ExitCode(85)
    static let attachmentMissing = ExitCode(86)
    static let attachmentRefused = ExitCode(87)
    static let bundleDamaged = ExitCode(90)
    static let bundleForeign = ExitCode(91)
    static let noInformantKey = ExitCode(92)
}

extension StoreError.Code {
    /// The exit code `fieldcli` ends with on this failure.
    var exitCode: ExitCode {
        switch self {
        case .replicaMissing: .noReplica
        case .replicaExists: .replicaExists
        case .notAReplica, .roleMismatch: .notAReplica
        case .readOnly: .cannotWrite
        case .diskFull, .io: .diskOrIO
        case .busy: .busy
        case .documentNotFound: .documentNotFound
        case .keyFile, .keyFileExposed: .keyFile
        case .fork: .conflict
        case .wrongPassphrase: .wrongPassphrase
        case .locked: .locked
        case .bodyNotKept: .bodyNotKept
        default: .unexpected
        }
    }
}

extension SyncEngineError.Code {
    /// The exit code `fieldcli` ends with on this failure.
    var exitCode: ExitCode {
        switch self {
        case .invalidBody, .invalidIdentifier: .invalidInput
        case .conflict, .partitionMismatch: .conflict
        case .invalidKey: .keyFile
        case .invalidMessage, .unsupportedProtocol: .protocolMismatch
        default: .unexpected
        }
    }
}

/// A failure said to the user: one sentence and the exit code that goes with it.
struct Diagnostic: Sendable {
    var message: String
    var exitCode: ExitCode

    /// The diagnostic for an error thrown by a command; nil for errors ArgumentParser reports
    /// itself (help requests, usage errors).
    init?(_ error: any Error) {
        switch error {
        case let error as StoreError where error.code == .roleMismatch:
            self.init(
                message: "\(error.message) fieldcli works on a device's replica: point --db (or VIGIL_DB) at one; the hub's database is for syncd and the hub's console.",
                exitCode: .notAReplica)
        case let error as StoreError: self.init(message: error.messageWithAdvice, exitCode: error.code.exitCode)
        case let error as SyncEngineError: self.init(message: error.messageWithAdvice, exitCode: error.code.exitCode)
        case let error as InvalidInput: self.init(message: error.message, exitCode: .invalidInput)
        case let error as ImportIssue: self.init(message: "Nothing was imported: \(error).", exitCode: .importRefused)
        case let error as PassphraseError:
            self.init(message: error.message, exitCode: error.code == .mismatch || error.code == .empty ? .usage : .locked)
        case let error as UnlockAgentError: self.init(message: error.message, exitCode: .agentUnavailable)
        case let error as InformantKeyMissing: self.init(message: error.description, exitCode: .noInformantKey)
        case let error as SyncBundleError:
            self.init(message: error.message, exitCode: error.code == .foreignNetwork ? .bundleForeign : .bundleDamaged)
        default: return nil
        }
    }

    init(message: String, exitCode: ExitCode) {
        self.message = message
        self.exitCode = exitCode
    }
}
