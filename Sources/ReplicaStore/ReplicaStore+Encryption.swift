import AtRest
public import Foundation
import GRDB

/// Encryption at rest (Docs/Security.md): a replica created with a passphrase seals its bodies,
/// its device key and its hub credential under a random data key, wrapped in `<replica>.datakey`
/// by a key derived from the passphrase. Everything is sealed and opened at one place, the SQL
/// functions `vigil_seal`, `vigil_open` and `vigil_open_text` registered on every connection, so
/// the store's queries read the same whichever the cipher.
extension ReplicaStore {
    /// Where the wrapped data key of the replica at `path` is kept.
    public static func dataKeyPath(forReplicaAt path: String) -> String { path + ".datakey" }

    /// Whether the replica at `path` is encrypted: its wrapped data key is beside it.
    public static func isEncrypted(at path: String) -> Bool {
        FileManager.default.fileExists(atPath: dataKeyPath(forReplicaAt: path))
    }

    /// Whether `content` (of a file kept beside a replica) was sealed by an encrypted replica.
    public static func isSealedFile(_ content: Data) -> Bool { DataKeyCipher.isSealed(content) }

    /// Whether this replica seals its bodies, device key and credential.
    public var isEncrypted: Bool { cipher.isEncrypting }

    /// The content of a file kept beside the replica for `purpose` (the hub credential), as it is
    /// to be written: sealed on an encrypted replica, unchanged otherwise.
    public func sealFile(_ content: Data, purpose: String) throws -> Data {
        try cipher.seal(content, label: SealLabel("vigil.file", purpose))
    }

    /// The content of a file written by ``sealFile(_:purpose:)``. On an encrypted replica a file in
    /// clear or sealed for another purpose is refused (``StoreError/Code/keyFile``).
    public func openFile(_ stored: Data, purpose: String) throws -> Data {
        do {
            return try cipher.open(stored, label: SealLabel("vigil.file", purpose))
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "The \(purpose) file of the encrypted replica \(path) does not open: \(error.message)")
        }
    }

    /// The cipher of the replica at `path`: plaintext when it has no wrapped data key, else its
    /// data key, from `options.unlockedKey` or unwrapped with the passphrase `options.passphrase`
    /// gives. Nothing is written, unless the passphrase is the duress one
    /// (``unwrap(_:wrapped:passphrase:options:)``).
    static func unlock(_ path: String, options: Options) throws -> any BodyCipher {
        let keyPath = dataKeyPath(forReplicaAt: path)
        guard let exposed = PrivateFile.isExposed(keyPath) else { return PlaintextCipher() }
        guard !exposed else {
            throw StoreError(.keyFileExposed, "The data key file \(keyPath) can be read or written by other users; it is not used.")
        }
        let wrapped = try readWrappedKey(keyPath)
        if let key = options.unlockedKey?(wrapped.keyID), key.id == wrapped.keyID { return DataKeyCipher(key: key) }
        guard let ask = options.passphrase else {
            throw StoreError(.locked, "The replica \(path) is encrypted and no passphrase was given.")
        }
        return DataKeyCipher(key: try unwrap(path, wrapped: wrapped, passphrase: try ask(), options: options))
    }

    /// The wrapped data key in the file at `keyPath`.
    static func readWrappedKey(_ keyPath: String) throws -> WrappedDataKey {
        do {
            guard let handle = FileHandle(forReadingAtPath: keyPath) else {
                throw StoreError(.keyFile, "The data key file \(keyPath) cannot be read.")
            }
            defer { try? handle.close() }
            return try WrappedDataKey.decode(try handle.read(upToCount: WrappedDataKey.maximumFileSize + 1) ?? Data())
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "The data key file \(keyPath) cannot be used: \(error.message)")
        }
    }

    /// Makes a new data key, wraps it under `passphrase` and writes it beside the replica at
    /// `path` (0600); returns its cipher.
    static func createDataKey(forReplicaAt path: String, passphrase: Passphrase, options: Options) throws -> DataKeyCipher {
        let key = DataKey.random()
        let wrapped: Data
        do {
            wrapped = try WrappedDataKey.wrap(key, passphrase: passphrase, parameters: options.keyDerivation).encoded()
        } catch let error as AtRestError {
            throw StoreError(.keyFile, "Cannot make the data key: \(error.message)")
        }
        let keyPath = dataKeyPath(forReplicaAt: path)
        try PrivateFile.createEmpty(at: keyPath)
        try PrivateFile.write(wrapped, to: keyPath)
        return DataKeyCipher(key: key)
    }

    /// Refuses a data key that is not the one the replica recorded, and a replica that recorded
    /// one opened without it (its key file removed).
    static func checkDataKey(_ db: Database, cipher: any BodyCipher, path: String) throws {
        let recorded = try String.fetchOne(db, sql: "SELECT data_key_id FROM replica")
        guard recorded != cipher.keyID else { return }
        if recorded == nil {
            throw StoreError(.keyFile, "The data key file \(dataKeyPath(forReplicaAt: path)) belongs to no encryption of this replica, which is not encrypted.")
        }
        if cipher.keyID == nil {
            throw StoreError(.keyFile, "The replica \(path) is encrypted but its data key file \(dataKeyPath(forReplicaAt: path)) is missing.")
        }
        throw StoreError(.keyFile, "The data key file \(dataKeyPath(forReplicaAt: path)) belongs to another replica.")
    }

    /// The SQL functions through which every sealed column is written and read.
    static func sealingFunctions(_ cipher: any BodyCipher) -> [DatabaseFunction] {
        [
            DatabaseFunction("vigil_seal", pure: false) { values in
                guard let value = values.first, !value.isNull, cipher.isEncrypting else { return values.first }
                return try cipher.seal(try bytes(value), label: label(values.dropFirst()))
            },
            DatabaseFunction("vigil_open", pure: true) { values in
                guard let value = values.first, !value.isNull, cipher.isEncrypting else { return values.first }
                return try cipher.open(try bytes(value), label: label(values.dropFirst()))
            },
            // For checking every row (`fieldcli verify`): NULL where a sealed value does not open,
            // so one altered row is reported rather than failing the whole read.
            DatabaseFunction("vigil_open_or_null", pure: true) { values in
                guard let value = values.first, !value.isNull, cipher.isEncrypting else { return values.first }
                return try? cipher.open(try bytes(value), label: label(values.dropFirst()))
            },
            DatabaseFunction("vigil_open_text", pure: true) { values in
                guard let value = values.first, !value.isNull, cipher.isEncrypting else { return values.first }
                return String(decoding: try cipher.open(try bytes(value), label: label(values.dropFirst())), as: UTF8.self)
            },
        ]
    }

    private static func bytes(_ value: DatabaseValue) throws -> Data {
        switch value.storage {
        case .blob(let data): return data
        case .string(let text): return Data(text.utf8)
        default: throw AtRestError(.notSealed, "A value to seal or open is neither text nor bytes.")
        }
    }

    private static func label(_ values: ArraySlice<DatabaseValue>) -> SealLabel {
        SealLabel(values.map { value in
            switch value.storage {
            case .null: ""
            case .int64(let number): String(number)
            case .double(let number): String(number)
            case .string(let text): text
            case .blob(let data): data.base64EncodedString()
            }
        })
    }
}
