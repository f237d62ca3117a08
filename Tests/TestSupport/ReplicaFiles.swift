import Foundation

/// Files of replicas in a test folder, copied as a backup or a second machine would copy them.
public enum ReplicaFiles {
    /// Copies every file of replica `name` (database, WAL, key, credential; not the shared-memory
    /// index, which SQLite rebuilds from the WAL) to replica `target`, replacing what `target` had.
    /// The caller makes sure no connection writes to either meanwhile, and that `target` is closed.
    public static func copy(_ folder: TemporaryReplica, _ name: String, to target: String) throws {
        let manager = FileManager.default
        let source = folder.path(name)
        let destination = folder.path(target)
        for file in try manager.contentsOfDirectory(atPath: folder.directory.path) {
            let path = folder.directory.appendingPathComponent(file).path
            if path.hasPrefix(destination) && Self.isPart(String(path.dropFirst(destination.count))) {
                try manager.removeItem(atPath: path)
            }
        }
        for file in try manager.contentsOfDirectory(atPath: folder.directory.path) {
            let path = folder.directory.appendingPathComponent(file).path
            guard path.hasPrefix(source) else { continue }
            let suffix = String(path.dropFirst(source.count))
            guard Self.isPart(suffix), suffix != "-shm" else { continue }
            try manager.copyItem(atPath: path, toPath: destination + suffix)
        }
    }

    /// Whether `suffix` after a replica's path names one of its files (not another replica's whose
    /// name merely starts the same).
    static func isPart(_ suffix: String) -> Bool {
        suffix.isEmpty || suffix.hasPrefix("-") || suffix.hasPrefix(".")
    }
}
