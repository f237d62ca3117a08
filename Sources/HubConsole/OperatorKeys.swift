import AtRest
import Crypto
import CryptoExtras
import Foundation
import HubStore
import Synchronization
import SyncEngine
import Records

/// An operator's own X25519 private key at rest: in a ChaChaPoly box under a key derived from
/// their password with scrypt (a salt of its own, apart from the password hash's), stored as
/// `scrypt$logN$r$p$salt$box` (base64). Only the password opens it, so a stolen hub database
/// gives an attacker one scrypt per guess per operator, as the password hash does.
struct OperatorKeyWrap {
    static let domain = "vigil.operator-key.1"

    /// `key` wrapped under `password`, bound to the operator's name.
    static func wrap(_ key: InformantPrivateKey, name: String, password: String, parameters: ScryptParameters) throws -> String {
        let salt = ConsoleTokens.randomBytes(16)
        let wrapping = try derive(password, salt: salt, parameters)
        let box = try ChaChaPoly.seal(key.rawRepresentation, using: wrapping, authenticating: aad(name))
        return [
            "scrypt", "\(parameters.logN)", "\(parameters.r)", "\(parameters.p)", salt.base64EncodedString(),
            box.combined.base64EncodedString(),
        ].joined(separator: "$")
    }

    /// The key `stored` holds, opened with `password`; nil for a wrong password, another name,
    /// or a form this program did not write (parameters out of bounds included).
    static func unwrap(_ stored: String, name: String, password: String) -> InformantPrivateKey? {
        let parts = stored.split(separator: "$").map(String.init)
        guard parts.count == 6, parts[0] == "scrypt", let logN = Int(parts[1]), let r = Int(parts[2]), let p = Int(parts[3]),
            (10...20).contains(logN), (1...16).contains(r), (1...4).contains(p),
            let salt = Data(base64Encoded: parts[4]), let combined = Data(base64Encoded: parts[5]),
            let wrapping = try? derive(password, salt: salt, ScryptParameters(logN: logN, r: r, p: p)),
            let box = try? ChaChaPoly.SealedBox(combined: combined),
            let raw = try? ChaChaPoly.open(box, using: wrapping, authenticating: aad(name))
        else { return nil }
        return try? InformantPrivateKey(rawRepresentation: raw)
    }

    private static func aad(_ name: String) -> Data { Data("\(domain)\u{0}\(name)".utf8) }

    private static func derive(_ password: String, salt: Data, _ parameters: ScryptParameters) throws -> SymmetricKey {
        try parameters.validate()
        return try KDF.Scrypt.deriveKey(
            from: Data(password.utf8), salt: salt, outputByteCount: 32, rounds: 1 << parameters.logN,
            blockSize: parameters.r, parallelism: parameters.p)
    }
}

/// The informant keys opened at login, by session (its CSRF token, unique to it): in memory
/// only, never written anywhere; dropped at logout and once the session has expired. A restart
/// of the hub forgets them: the operator logs in again.
final class InformantKeyring: Sendable {
    private struct Entry {
        var key: InformantPrivateKey
        var expiresAt: UInt64
    }

    static let maxEntries = 1_000
    private let table = Mutex<[String: Entry]>([:])

    /// Keeps `key` for the session until `expiresAt` (extended as the session is used).
    func put(_ key: InformantPrivateKey, session csrf: String, expiresAt: UInt64, now: UInt64) {
        table.withLock { table in
            table = table.filter { $0.value.expiresAt > now }
            if table.count >= Self.maxEntries, let oldest = table.min(by: { $0.value.expiresAt < $1.value.expiresAt })?.key {
                table[oldest] = nil
            }
            table[csrf] = Entry(key: key, expiresAt: expiresAt)
        }
    }

    /// The key of `session` when it holds one and its role may see informant references.
    func key(for session: OperatorSession, now: UInt64) -> InformantPrivateKey? {
        table.withLock { table in
            guard var entry = table[session.csrfToken], entry.expiresAt > now else {
                table[session.csrfToken] = nil
                return nil
            }
            guard session.role >= .resolver else {
                table[session.csrfToken] = nil
                return nil
            }
            entry.expiresAt = max(entry.expiresAt, session.expiresAt)
            table[session.csrfToken] = entry
            return entry.key
        }
    }

    /// Forgets the key of the session (logout).
    func drop(session csrf: String) { _ = table.withLock { $0.removeValue(forKey: csrf) } }
}

extension HubConsole {
    /// What resolvers and admins see for an informant reference stored in clear.
    static let keptInClear = "\(SealedFields.placeholder) (stored in clear by an older device)"

    /// At a login of `name` (role `role`) whose password was right: makes their key pair when they
    /// have none yet (resolvers and admins), opens the informant key sealed to them, and seals it
    /// to every other eligible operator still without it. Nil for viewers and for operators not
    /// granted the key yet. Never throws for a key that does not open: the login goes on without it.
    static func openInformantKey(
        operators: any OperatorDirectory, name: String, role: OperatorRole, password: String, hasher: PasswordHasher
    ) async throws -> InformantPrivateKey? {
        guard role >= .resolver else { return nil }
        guard let record = try await operators.operatorKey(name: name) else {
            try await makeOperatorKey(operators: operators, name: name, password: password, hasher: hasher)
            return nil
        }
        guard let sealed = record.sealedInformantKey, let statement = try await operators.informantKey() else { return nil }
        let wrapped = record.wrappedPrivateKey
        // scrypt runs off Swift's cooperative threads.
        let own = try await HubStore.offload { OperatorKeyWrap.unwrap(wrapped, name: name, password: password) }
        guard let own,
            let raw = try? X25519Box.open(
                sealed, with: own, info: InformantKeyGrant.info,
                aad: InformantKeyGrant.aad(operator: name, keyID: statement.publicKey.keyID)),
            let key = try? InformantPrivateKey(rawRepresentation: raw), key.publicKey == statement.publicKey
        else { return nil }
        try await operators.grantInformantKeyToPending(key, by: operatorAuditActor(name))
        return key
    }

    /// Makes the key pair of `name` (a resolver or admin) when they have none, wrapped under `password`.
    static func makeOperatorKey(
        operators: any OperatorDirectory, name: String, password: String, hasher: PasswordHasher
    ) async throws {
        let key = InformantPrivateKey()
        let parameters = hasher.parameters
        let wrapped = try await HubStore.offload {
            try OperatorKeyWrap.wrap(key, name: name, password: password, parameters: parameters)
        }
        try await operators.setOperatorKey(name: name, publicKey: key.publicKey, wrappedPrivateKey: wrapped)
    }

    /// `body` as `session` may see it: sealed fields as "(sealed)", except that a resolver or
    /// admin sees a sealed informant reference opened with the key their session holds. One kept
    /// in clear (by a device of an older version) stays hidden, as before sealing existed; a
    /// resolver or admin is told that it is stored in clear (the key file's holder reads it with
    /// `syncd informant-refs open`).
    func shownBody(_ body: Data?, key: DocumentKey, session: OperatorSession) -> Data? {
        guard let body else { return nil }
        let paths = SealedFields.paths(in: key.collection)
        guard !paths.isEmpty, session.role >= .resolver, var object = try? JSONValue(parsing: body),
            case .object(var fields) = object, case .object(var protection)? = fields["source_protection"],
            case .string(let reference)? = protection["informant_ref"]
        else { return SealedFields.redacted(body, in: key.collection) }
        if InformantSeal.isSealed(reference) {
            guard let informantKey = informantKeys.key(for: session, now: operators.now()),
                let opened = try? InformantSeal.open(reference, with: informantKey, collection: key.collection, id: key.id)
            else { return SealedFields.redacted(body, in: key.collection) }
            protection["informant_ref"] = .string(opened)
        } else {
            protection["informant_ref"] = .string(Self.keptInClear)
        }
        fields["source_protection"] = .object(protection)
        object = .object(fields)
        return object.canonicalData
    }
}
