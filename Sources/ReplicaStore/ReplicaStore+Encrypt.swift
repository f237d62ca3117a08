public import AtRest
import Foundation
import GRDB
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ReplicaStore {
    /// Encrypts the replica in clear at `path` under a new data key wrapped by `passphrase`:
    /// writes the wrapped key, then seals every body (and set-aside or forked version) in one
    /// transaction with `secure_delete` on (the cleartext cells are zeroed, not just freed) after
    /// emptying the WAL, then seals the device key and credential files over their own blocks.
    ///
    /// Interrupted, it is run again with the same passphrase and goes on where it stopped. No
    /// other process may use the replica meanwhile (stop `syncd run` first). Blocks the file system
    /// freed earlier (an older WAL, files replaced by renaming) are beyond its reach.
    public static func encrypt(at path: String, passphrase: Passphrase, options: Options = Options()) throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StoreError(.replicaMissing, "There is no replica at \(path).")
        }
        try checkIsReplica(at: path, options: options)
        var resuming = options
        resuming.passphrase = { passphrase }
        let cipher = try isEncrypted(at: path)
            ? unlock(path, options: resuming)
            : createDataKey(forReplicaAt: path, passphrase: passphrase, options: options)
        try seal(at: path, cipher: cipher, options: options)
    }

    /// Seals the rows and the device key and credential files of the replica at `path` with
    /// `cipher`, whose wrapped key is already beside it, unless they are sealed already.
    static func seal(at path: String, cipher: any BodyCipher, options: Options) throws {
        let database = try StoreError.translating(path: path) {
            try DatabasePool(path: path, configuration: configuration(options, cipher: cipher))
        }
        try StoreError.translating(path: path) {
            let migrator = Schema.migrator(for: options.role, path: path)
            if try !database.read({ try migrator.hasCompletedMigrations($0) }) {
                try migrator.migrate(database)
            }
            try database.read { try checkRole($0, options.role, path: path) }
            try sealRows(database, cipher: cipher, path: path)
        }
        try database.close()
        try resealFile(path + ".key", cipher: cipher, label: DeviceKeyFile.label, base64: true)
        try resealFile(path + ".credential", cipher: cipher, label: SealLabel("vigil.file", "credential"), base64: false)
    }

    /// Seals every value in clear of the tables that hold bodies, and records the data key's id.
    private static func sealRows(_ database: DatabasePool, cipher: any BodyCipher, path: String) throws {
        try database.writeWithoutTransaction { db in
            let recorded = try String.fetchOne(db, sql: "SELECT data_key_id FROM replica")
            if let recorded {
                guard recorded == cipher.keyID else {
                    throw StoreError(.keyFile, "The data key file \(dataKeyPath(forReplicaAt: path)) belongs to another replica.")
                }
                return
            }
            try db.execute(sql: "PRAGMA secure_delete = ON")
            // Frames of earlier writes leave the WAL before the cleartext is overwritten.
            _ = try db.checkpoint(.truncate)
            try db.inTransaction(.immediate) {
                let clear = "IS NOT NULL AND substr(CAST(%@ AS BLOB), 1, 3) <> x'005601'"
                try db.execute(sql: """
                    UPDATE versions SET body = vigil_seal(body, 'versions', origin, counter, collection, document_id)
                    WHERE body \(clear.replacingOccurrences(of: "%@", with: "body"));
                    UPDATE verification_failures SET version = vigil_seal(version, 'verification_failures', origin, counter)
                    WHERE version \(clear.replacingOccurrences(of: "%@", with: "version"));
                    UPDATE forked_versions SET version = vigil_seal(version, 'forked_versions', origin, counter)
                    WHERE version \(clear.replacingOccurrences(of: "%@", with: "version"));
                    UPDATE attachment_chunks SET data = vigil_seal(data, 'attachment_chunks', hash)
                    WHERE data \(clear.replacingOccurrences(of: "%@", with: "data"));
                    """)
                try db.execute(sql: "UPDATE replica SET data_key_id = ?", arguments: [cipher.keyID])
                return .commit
            }
            _ = try db.checkpoint(.truncate)
        }
    }

    /// Seals the file at `path` (the device key, as base64; the credential, as bytes) unless it is
    /// sealed already, writing over its own blocks: the sealed content is longer, so it covers
    /// every byte of the cleartext.
    private static func resealFile(_ path: String, cipher: any BodyCipher, label: SealLabel, base64: Bool) throws {
        guard let stored = FileManager.default.contents(atPath: path) else { return }
        let text = String(decoding: stored, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let raw = base64 ? Data(base64Encoded: text) : stored
        guard let raw, !DataKeyCipher.isSealed(raw) else { return }
        let sealed = try cipher.seal(raw, label: label)
        let content = base64 ? Data((sealed.base64EncodedString() + "\n").utf8) : sealed
        let descriptor = systemOpenForWriting(path)
        guard descriptor >= 0 else { throw PrivateFile.failure("seal", path) }
        defer { close(descriptor) }
        let written = content.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == content.count, ftruncate(descriptor, off_t(content.count)) == 0, fsync(descriptor) == 0 else {
            throw PrivateFile.failure("seal", path)
        }
    }
}

/// The C library's `open`, which the store's own `open` hides inside it.
private func systemOpenForWriting(_ path: String) -> Int32 { open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC) }
