public import AtRest
import Crypto
import CryptoExtras
import Foundation

/// Operators' passwords, stored as `scrypt$logN$r$p$salt$hash` (base64): scrypt is memory-hard,
/// so a stolen hub database costs an attacker memory and time for every guess.
public struct PasswordHasher: Sendable, Hashable {
    /// scrypt's cost, as replicas' passphrases use it.
    public var parameters: ScryptParameters

    public init(parameters: ScryptParameters) {
        self.parameters = parameters
    }

    /// N = 2^15, r = 8, p = 1: 32 MiB and about 0.1 s a derivation.
    public static let standard = PasswordHasher(parameters: ScryptParameters(logN: 15, r: 8, p: 1))
    /// Cheap parameters for tests only (1 MiB).
    public static let testing = PasswordHasher(parameters: .testing)

    /// The shortest password accepted; the longest is 256 characters.
    public static let minimumLength = 12
    static let maximumLength = 256

    /// The stored form of `password`, with a fresh salt.
    func hash(_ password: String) throws -> String {
        let salt = ConsoleTokens.randomBytes(16)
        let derived = try derive(password, salt: salt, parameters)
        return [
            "scrypt", "\(parameters.logN)", "\(parameters.r)", "\(parameters.p)", salt.base64EncodedString(),
            derived.base64EncodedString(),
        ]
            .joined(separator: "$")
    }

    /// Whether `password` matches `stored`; false for a stored form this program did not write
    /// or whose parameters are out of bounds.
    func verify(_ password: String, against stored: String) -> Bool {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]),
            let p = Int(parts[3]), (10...20).contains(logN), (1...16).contains(r), (1...4).contains(p),
            let salt = Data(base64Encoded: parts[4]), let expected = Data(base64Encoded: parts[5]), expected.count == 32,
            let derived = try? derive(password, salt: salt, ScryptParameters(logN: logN, r: r, p: p))
        else { return false }
        return ConsoleTokens.constantTimeEquals(derived, expected)
    }

    /// Spends the time of one verification, for a name that has no password (so that timing
    /// does not tell which names exist).
    func spendVerification(_ password: String) {
        _ = try? derive(password, salt: Data(repeating: 0, count: 16), parameters)
    }

    /// The bounds checked before (logN ≤ 20, r ≤ 16, p ≤ 4 at login; ``ScryptParameters/validate()``
    /// here) keep one attempt's cost bounded whatever the stored form says.
    private func derive(_ password: String, salt: Data, _ parameters: ScryptParameters) throws -> Data {
        try parameters.validate()
        let key = try KDF.Scrypt.deriveKey(
            from: Data(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << parameters.logN,
            blockSize: parameters.r, parallelism: parameters.p)
        return key.withUnsafeBytes { Data($0) }
    }
}
