public import Foundation
import Crypto
public import SyncEngine

/// The public half of the network's informant key (X25519): devices seal informant references
/// to it. Its id is the first 8 bytes of the SHA-256 of the key, as 16 hexadecimal digits.
public struct InformantPublicKey: Sendable, Hashable {
    public let rawRepresentation: Data

    /// Throws ``InformantSealError`` (`badKey`) unless `rawRepresentation` is an X25519 public key.
    public init(rawRepresentation: Data) throws {
        guard rawRepresentation.count == 32, (try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: rawRepresentation)) != nil
        else { throw InformantSealError(.badKey) }
        self.rawRepresentation = Data(rawRepresentation)
    }

    init(_ key: Curve25519.KeyAgreement.PublicKey) { rawRepresentation = key.rawRepresentation }

    func agreementKey() throws -> Curve25519.KeyAgreement.PublicKey {
        try Curve25519.KeyAgreement.PublicKey(rawRepresentation: rawRepresentation)
    }

    /// The key's 8-byte id.
    public var idBytes: Data { Data(SHA256.hash(data: rawRepresentation).prefix(8)) }

    /// The key's id as 16 lowercase hexadecimal digits.
    public var keyID: String { Array(idBytes).hexString }
}

/// A private X25519 key: the network's informant key, or an operator's own key at the hub.
/// Never logged; its description says nothing of it.
public struct InformantPrivateKey: Sendable, CustomStringConvertible {
    let key: Curve25519.KeyAgreement.PrivateKey

    /// A new random key.
    public init() { key = Curve25519.KeyAgreement.PrivateKey() }

    /// Throws ``InformantSealError`` (`badKey`) unless the bytes are an X25519 private key.
    public init(rawRepresentation: Data) throws {
        guard rawRepresentation.count == 32, let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: rawRepresentation)
        else { throw InformantSealError(.badKey) }
        self.key = key
    }

    /// The 32 secret bytes (for sealing the key to someone, or writing it to a private file).
    public var rawRepresentation: Data { key.rawRepresentation }

    public var publicKey: InformantPublicKey { InformantPublicKey(key.publicKey) }

    public var description: String { "InformantPrivateKey(\(publicKey.keyID))" }

    /// The text of a key file: `vigil-informant-key-1:` and the base64 of the 32 bytes, one line.
    public var fileText: String { "\(Self.filePrefix)\(rawRepresentation.base64EncodedString())\n" }

    static let filePrefix = "vigil-informant-key-1:"

    /// Reads a key file's text (``fileText``); throws `badKey` for anything else.
    public init(fileText: String) throws {
        let line = fileText.trimmingCharacters(in: .whitespacesAndNewlines)
        guard line.hasPrefix(Self.filePrefix), let data = Data(base64Encoded: String(line.dropFirst(Self.filePrefix.count)))
        else { throw InformantSealError(.badKey) }
        try self.init(rawRepresentation: data)
    }
}

/// Sealing bytes to an X25519 public key (ECIES): an ephemeral key pair, HKDF-SHA256 over the
/// shared secret (salted with both public keys, `info` naming the purpose), ChaChaPoly with
/// `aad`. Layout: ephemeral public key (32) ‖ nonce (12) ‖ ciphertext ‖ tag (16). Pure.
public enum X25519Box {
    /// Bytes a box adds to its plaintext.
    public static let overhead = 32 + 12 + 16

    public static func seal(_ plaintext: Data, to recipient: InformantPublicKey, info: String, aad: Data) throws -> Data {
        let ephemeral = Curve25519.KeyAgreement.PrivateKey()
        let key = try derive(ephemeral.sharedSecretFromKeyAgreement(with: recipient.agreementKey()),
                             ephemeral: ephemeral.publicKey.rawRepresentation, recipient: recipient.rawRepresentation, info: info)
        let box = try ChaChaPoly.seal(plaintext, using: key, authenticating: aad)
        return ephemeral.publicKey.rawRepresentation + box.combined
    }

    /// The plaintext; throws `doesNotOpen` for another key, altered bytes or another `aad`.
    public static func open(_ sealed: Data, with recipient: InformantPrivateKey, info: String, aad: Data) throws -> Data {
        let sealed = Data(sealed)
        guard sealed.count >= overhead,
            let ephemeral = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: sealed.prefix(32)),
            let shared = try? recipient.key.sharedSecretFromKeyAgreement(with: ephemeral),
            let box = try? ChaChaPoly.SealedBox(combined: sealed.dropFirst(32))
        else { throw InformantSealError(.doesNotOpen) }
        let key = derive(shared, ephemeral: ephemeral.rawRepresentation, recipient: recipient.publicKey.rawRepresentation, info: info)
        guard let plaintext = try? ChaChaPoly.open(box, using: key, authenticating: aad) else {
            throw InformantSealError(.doesNotOpen)
        }
        return plaintext
    }

    private static func derive(_ shared: SharedSecret, ephemeral: Data, recipient: Data, info: String) -> SymmetricKey {
        shared.hkdfDerivedSymmetricKey(
            using: SHA256.self, salt: ephemeral + recipient, sharedInfo: Data(info.utf8), outputByteCount: 32)
    }
}

/// The sealed informant reference: `vigil-sealed-1:` and the base64 of the key id (8 bytes) and
/// an ``X25519Box`` of the padded reference, bound (as associated data) to the collection, the
/// document id and the key id, so a sealed value copied into another record does not open.
/// The reference is padded to a multiple of 32 bytes, so the length shows only its size class.
public enum InformantSeal {
    public static let prefix = "vigil-sealed-1:"
    /// The longest reference sealed, in characters (as in clear) and in UTF-8 bytes.
    public static let maxCharacters = 500
    public static let maxBytes = 2_000
    static let block = 32
    static let info = "vigil.informant-ref.1"
    static let minBoxed = 8 + X25519Box.overhead + block
    static let maxBoxed = 8 + X25519Box.overhead + paddedCount(maxBytes)

    /// The longest sealed value, in characters (the validation bound of a sealed `informant_ref`).
    public static let maxSealedLength = prefix.count + (maxBoxed + 2) / 3 * 4

    static func paddedCount(_ bytes: Int) -> Int { (2 + bytes + block - 1) / block * block }

    /// Whether `text` has the shape of a sealed reference (prefix, base64, a possible size).
    /// Says nothing of whether it opens: only key holders can tell.
    public static func isSealed(_ text: String) -> Bool {
        guard text.hasPrefix(prefix), text.utf8.count <= maxSealedLength,
            let data = Data(base64Encoded: String(text.dropFirst(prefix.count)))
        else { return false }
        return (minBoxed...maxBoxed).contains(data.count) && (data.count - 8 - X25519Box.overhead) % block == 0
    }

    /// The id of the key `sealed` was sealed to (16 hexadecimal digits), nil when it is not sealed.
    public static func keyID(of sealed: String) -> String? {
        guard isSealed(sealed), let data = Data(base64Encoded: String(sealed.dropFirst(prefix.count))) else { return nil }
        return Array(data.prefix(8)).hexString
    }

    /// `reference` sealed to `key` for the document `collection`/`id`. Throws `tooLong` above
    /// ``maxCharacters`` characters or ``maxBytes`` bytes, `empty` for blank text.
    public static func seal(_ reference: String, to key: InformantPublicKey, collection: CollectionName, id: DocumentID) throws -> String {
        let utf8 = Data(reference.utf8)
        guard !reference.allSatisfy(\.isWhitespace) else { throw InformantSealError(.empty) }
        guard reference.count <= maxCharacters, utf8.count <= maxBytes else { throw InformantSealError(.tooLong) }
        var padded = Data([UInt8(utf8.count >> 8), UInt8(utf8.count & 0xFF)]) + utf8
        padded.append(Data(count: paddedCount(utf8.count) - padded.count))
        let box = try X25519Box.seal(padded, to: key, info: info, aad: aad(collection, id, key.idBytes))
        return prefix + (key.idBytes + box).base64EncodedString()
    }

    /// The reference `sealed` holds, opened with `key`. Throws `notSealed` for another shape,
    /// `wrongKey` when it was sealed to another key, `doesNotOpen` when it was altered or
    /// belongs to another document.
    public static func open(_ sealed: String, with key: InformantPrivateKey, collection: CollectionName, id: DocumentID) throws -> String {
        guard isSealed(sealed), let data = Data(base64Encoded: String(sealed.dropFirst(prefix.count))) else {
            throw InformantSealError(.notSealed)
        }
        let keyID = Data(data.prefix(8))
        guard keyID == key.publicKey.idBytes else { throw InformantSealError(.wrongKey) }
        let padded = try X25519Box.open(Data(data.dropFirst(8)), with: key, info: info, aad: aad(collection, id, keyID))
        guard padded.count >= 2 else { throw InformantSealError(.doesNotOpen) }
        let count = Int(padded[padded.startIndex]) << 8 | Int(padded[padded.startIndex + 1])
        guard count <= padded.count - 2, let text = String(data: padded.dropFirst(2).prefix(count), encoding: .utf8) else {
            throw InformantSealError(.doesNotOpen)
        }
        return text
    }

    /// The reference in clear an observation body holds (`source_protection.informant_ref`, not
    /// sealed); nil for another collection, a body that is no JSON object, or none.
    public static func referenceInClear(in body: Data, collection: CollectionName) -> String? {
        guard RecordKind(collection: collection) == .observation, case .object(let fields)? = try? JSONValue(parsing: body),
            case .object(let protection)? = fields["source_protection"],
            case .string(let reference)? = protection["informant_ref"], !isSealed(reference)
        else { return nil }
        return reference
    }

    /// `body` (of the document `collection`/`id`) with its reference in clear sealed to `key`, as
    /// canonical JSON; nil when it holds none (then the bytes stay as written). Throws like ``seal(_:to:collection:id:)``.
    public static func sealingReference(in body: Data, to key: InformantPublicKey, collection: CollectionName, id: DocumentID) throws -> Data? {
        guard let reference = referenceInClear(in: body, collection: collection),
            case .object(var fields)? = try? JSONValue(parsing: body), case .object(var protection)? = fields["source_protection"]
        else { return nil }
        protection["informant_ref"] = .string(try seal(reference, to: key, collection: collection, id: id))
        fields["source_protection"] = .object(protection)
        return JSONValue.object(fields).canonicalData
    }

    static func aad(_ collection: CollectionName, _ id: DocumentID, _ keyID: Data) -> Data {
        var bytes = SignedBytes(domain: info)
        bytes.append(collection.rawValue)
        bytes.append(id.rawValue)
        bytes.append(keyID.base64EncodedString())
        return bytes.data
    }
}

/// Sealing or opening failed; the code says why (never the reference or a key).
public struct InformantSealError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: Sendable, Hashable {
        /// Not a key of the expected kind and size.
        case badKey
        /// The reference is blank.
        case empty
        /// The reference is longer than ``InformantSeal/maxCharacters`` or ``InformantSeal/maxBytes``.
        case tooLong
        /// The value is not a sealed reference.
        case notSealed
        /// It was sealed to another informant key.
        case wrongKey
        /// It does not open: altered, or copied from another document.
        case doesNotOpen
    }

    public let code: Code
    public init(_ code: Code) { self.code = code }

    public var description: String {
        switch code {
        case .badKey: "The bytes are not an X25519 key."
        case .empty: "The informant reference is blank."
        case .tooLong: "The informant reference is longer than \(InformantSeal.maxCharacters) characters (\(InformantSeal.maxBytes) bytes)."
        case .notSealed: "The value is not a sealed informant reference."
        case .wrongKey: "The informant reference was sealed to another informant key."
        case .doesNotOpen: "The sealed informant reference does not open: it was altered or belongs to another record."
        }
    }
}
