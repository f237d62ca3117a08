import Foundation
import TestSupport

/// A small tmpfs mounted on a temporary folder, to make a real full or read-only disk.
///
/// Mounting needs root (or CAP_SYS_ADMIN); tests that use it are enabled only when
/// ``isPermitted`` found that a mount works here.
final class TemporaryMount: Sendable {
    let directory: URL

    /// Whether this process may mount a tmpfs (checked once by trying).
    static let isPermitted: Bool = {
        guard getuid() == 0, let mount = try? TemporaryMount(kilobytes: 64) else { return false }
        mount.unmount()
        return true
    }()

    init(kilobytes: Int) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vigil-mount-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        guard Self.tool("mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", directory.path]) else {
            try? FileManager.default.removeItem(at: directory)
            throw CLIRunnerError("Cannot mount a tmpfs on \(directory.path).")
        }
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// Remounts the file system read-only (`true`) or writable again.
    func setReadOnly(_ readOnly: Bool) throws {
        guard Self.tool("mount", ["-o", "remount,\(readOnly ? "ro" : "rw")", directory.path]) else {
            throw CLIRunnerError("Cannot remount \(directory.path).")
        }
    }

    /// Fills the free space with a file called `filler`.
    func fill() {
        _ = Self.tool("dd", ["if=/dev/zero", "of=\(path("filler"))", "bs=4096"])
    }

    /// Unmounts (lazily, so a straggling reader cannot keep it) and removes the folder.
    func unmount() {
        _ = Self.tool("umount", ["-l", directory.path])
        try? FileManager.default.removeItem(at: directory)
    }

    @discardableResult
    private static func tool(_ name: String, _ arguments: [String]) -> Bool {
        let process = SpawnedProcess()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [name] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try spawn(process) } catch { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
