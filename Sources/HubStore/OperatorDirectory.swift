public import Foundation
public import Records

/// The operators of a hub's console and the network's informant key, whatever keeps them:
/// accounts (a password hash only, never a password), one-time setup links and second factors,
/// sessions (found by the hash of their token, with an idle timeout and a lifetime), the failed
/// logins and every change audited in the hub's audit log, operators' key pairs and the informant
/// private key sealed to each eligible operator. The SQLite hub keeps them in its replica
/// (`SQLiteOperatorDirectory`), the PostgreSQL hub in its schema (`PostgresOperatorDirectory`),
/// shared by every hub process; both pass the same conformance suite.
///
/// Times are milliseconds since 1970 by the directory's clock (``now()``).
public protocol OperatorDirectory: Sendable {
    /// The directory's clock: sessions, setup links and second-factor codes count from it.
    func now() -> UInt64

    // MARK: Accounts

    /// Adds an operator with a one-time setup token (by its hash) valid until `setupExpiresAt`;
    /// audited (`operator.added`). A name taken already adds nothing.
    func addOperator(name: String, role: OperatorRole, setupHash: Data, setupExpiresAt: UInt64) async throws
        -> OperatorAddition

    /// Removes an operator and ends every session of theirs (audited); false when there is none of that name.
    func removeOperator(name: String) async throws -> Bool

    /// Up to `limit` operators by name (byte order), after `name` when given, and whether more follow.
    func operators(after name: String?, limit: Int) async throws -> (operators: [OperatorRecord], more: Bool)

    /// The operator whose unexpired setup token has this hash; nil otherwise.
    func operatorForSetup(hash: Data) async throws -> String?

    /// Sets the password (its stored hash) of the operator whose unexpired setup token has this
    /// hash, using the token up (of two concurrent uses, one wins) and ending their sessions;
    /// audited. Returns the operator's name, nil when the token does not work.
    func completeOperatorSetup(hash: Data, passwordHash: String) async throws -> String?

    /// The stored password hash and role of an operator who set a password; nil otherwise.
    func operatorCredentials(name: String) async throws -> OperatorCredentials?

    // MARK: Sessions

    /// Starts a session (by the hash of its token) for an operator, until `expiresAt`; the login
    /// is audited with the client's address. Sessions past their expiry are removed on the way.
    func startOperatorSession(
        tokenHash: Data, operator name: String, csrfToken: String, expiresAt: UInt64, address: String
    ) async throws

    /// Audits a failed login (the name tried, shortened to 64 characters, and the client's
    /// address); `factor` names what was wrong when it was not the name or password.
    func auditFailedLogin(name: String, address: String, factor: String?) async throws

    /// The unexpired session whose token has this hash, used now, with its operator's current
    /// role: its expiry moves to `idle` milliseconds from now, never past `lifetime` milliseconds
    /// after its start.
    func useOperatorSession(tokenHash: Data, idle: UInt64, lifetime: UInt64) async throws -> OperatorSession?

    /// Ends the session whose token has this hash; audited when there was one.
    func endOperatorSession(tokenHash: Data) async throws

    // MARK: Second factor

    /// Sets (or, with nil, removes) the TOTP secret of the operator `name`, forgetting the steps
    /// used, and ends their sessions; audited. False when there is no operator of that name.
    func setOperatorTOTP(name: String, secret: Data?) async throws -> Bool

    /// The TOTP secret of the operator `name`; nil without one (or without such an operator).
    func operatorTOTPSecret(name: String) async throws -> Data?

    /// Uses up the time step `step` of the operator `name`'s codes: true when it is later than
    /// every step accepted before (so a code, once accepted, never is again; of two concurrent
    /// uses of one step, exactly one is true).
    func useOperatorTOTPStep(name: String, step: UInt64) async throws -> Bool

    // MARK: The informant key

    /// Makes `key` the network's informant key: saves its statement signed with the hub's key and
    /// seals the private key to every eligible operator with a key pair, in one transaction;
    /// audited. Throws ``InformantKeyError`` `exists` when there is one already. Returns the
    /// statement and the names granted.
    func createInformantKey(_ key: InformantPrivateKey, keyFileWritten: Bool) async throws
        -> (statement: InformantKeyStatement, granted: [String])

    /// The network's informant key statement; nil while there is none.
    func informantKey() async throws -> InformantKeyStatement?

    /// The key pair of the operator `name`, with their role (the sealed informant key only for
    /// resolvers and admins); nil when they have none.
    func operatorKey(name: String) async throws -> OperatorKeyRecord?

    /// How many resolvers and admins have a key pair (those a new informant key is sealed to).
    func eligibleOperatorKeyCount() async throws -> Int

    /// Saves the operator `name`'s key pair; one they have already is kept. Returns whether it was saved.
    @discardableResult
    func setOperatorKey(name: String, publicKey: InformantPublicKey, wrappedPrivateKey: String) async throws -> Bool

    /// Seals `key` (which must be the network's) to every resolver and admin with a key pair and
    /// no copy yet; audited per operator with `actor`. Returns their names.
    @discardableResult
    func grantInformantKeyToPending(_ key: InformantPrivateKey, by actor: String) async throws -> [String]

    /// Seals `key` to the operator `name`; audited. Throws ``InformantKeyError``: `missing`,
    /// `wrongKey`, `noSuchOperator`, `notEligible`, `noOperatorKey`.
    func grantInformantKey(_ key: InformantPrivateKey, to name: String, by actor: String) async throws
}

/// What checks an operator's password: its stored hash and the operator's role.
public struct OperatorCredentials: Sendable, Hashable {
    public var passwordHash: String
    public var role: OperatorRole

    public init(passwordHash: String, role: OperatorRole) {
        self.passwordHash = passwordHash
        self.role = role
    }
}

/// What an informant private key is sealed under when granted to an operator, on every backend.
public enum InformantKeyGrant {
    /// The `info` of the ``X25519Box``.
    public static let info = "vigil.informant-key.grant.1"

    /// The associated data binding a sealed copy to its operator and key.
    public static func aad(operator name: String, keyID: String) -> Data { Data("\(name)\u{0}\(keyID)".utf8) }

    /// `key` sealed to the operator `name` whose public key is `publicKey`.
    public static func seal(_ key: InformantPrivateKey, to name: String, _ publicKey: InformantPublicKey) throws -> Data {
        try X25519Box.seal(
            key.rawRepresentation, to: publicKey, info: info, aad: aad(operator: name, keyID: key.publicKey.keyID))
    }
}

/// The audit actor of an operator of the console, on every backend: `operator:NAME`.
public func operatorAuditActor(_ name: String) -> String { "operator:\(name)" }

/// What an operator of the hub's console may do: viewers read, resolvers also resolve conflicts,
/// admins also enroll and revoke devices.
public struct OperatorRole: RawRepresentable, Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String
    private let rank: Int

    public init?(rawValue: String) {
        guard let rank = Self.ranks[rawValue] else { return nil }
        self.rawValue = rawValue
        self.rank = rank
    }

    private init(_ rawValue: String, _ rank: Int) {
        self.rawValue = rawValue
        self.rank = rank
    }

    public static let viewer = OperatorRole("viewer", 0)
    public static let resolver = OperatorRole("resolver", 1)
    public static let admin = OperatorRole("admin", 2)
    public static let all: [OperatorRole] = [.viewer, .resolver, .admin]
    private static let ranks = ["viewer": 0, "resolver": 1, "admin": 2]

    public static func < (lhs: OperatorRole, rhs: OperatorRole) -> Bool { lhs.rank < rhs.rank }
    public var description: String { rawValue }
}

/// An operator account of the hub's console (never its password hash).
public struct OperatorRecord: Sendable, Hashable {
    public var name: String
    public var role: OperatorRole
    public var createdAt: UInt64
    /// Whether a password was set (with the one-time setup link).
    public var hasPassword: Bool
    /// Until when the setup link works; nil once it was used.
    public var setupExpiresAt: UInt64?
    /// Whether logging in also takes a TOTP code.
    public var hasSecondFactor = false

    public init(
        name: String, role: OperatorRole, createdAt: UInt64, hasPassword: Bool, setupExpiresAt: UInt64?,
        hasSecondFactor: Bool = false
    ) {
        self.name = name
        self.role = role
        self.createdAt = createdAt
        self.hasPassword = hasPassword
        self.setupExpiresAt = setupExpiresAt
        self.hasSecondFactor = hasSecondFactor
    }
}

/// A console session as the hub holds it: found by the hash of its cookie's token.
public struct OperatorSession: Sendable, Hashable {
    public var operatorName: String
    public var role: OperatorRole
    /// The token every form of this session carries (compared in constant time by the console).
    public var csrfToken: String
    public var expiresAt: UInt64

    public init(operatorName: String, role: OperatorRole, csrfToken: String, expiresAt: UInt64) {
        self.operatorName = operatorName
        self.role = role
        self.csrfToken = csrfToken
        self.expiresAt = expiresAt
    }
}

/// How adding an operator ended.
public enum OperatorAddition: Sendable, Hashable {
    case added
    case nameTaken
}

/// An operator's own X25519 key pair at the hub: the private key wrapped under a key derived
/// from their password (never stored in clear), and the informant key sealed to them when granted.
public struct OperatorKeyRecord: Sendable, Hashable {
    public var name: String
    public var role: OperatorRole
    public var publicKey: InformantPublicKey
    /// `scrypt$logN$r$p$salt$box` (base64): the private key in a ChaChaPoly box.
    public var wrappedPrivateKey: String
    /// The informant private key sealed to ``publicKey`` (an ``X25519Box``), when granted.
    public var sealedInformantKey: Data?

    public init(
        name: String, role: OperatorRole, publicKey: InformantPublicKey, wrappedPrivateKey: String, sealedInformantKey: Data?
    ) {
        self.name = name
        self.role = role
        self.publicKey = publicKey
        self.wrappedPrivateKey = wrappedPrivateKey
        self.sealedInformantKey = sealedInformantKey
    }
}
