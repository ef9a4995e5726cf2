import Foundation

/// A Python virtual environment with packages from PyPI, for tests that check bpfree against
/// the tools its users run (Optuna, optuna-dashboard, CodeCarbon). Made once under
/// `~/.cache/bpfree/venvs/NAME` (or `$BPFREE_TEST_VENVS/NAME`) and reused by later runs.
public enum PythonEnvironment {
    /// A failure to make the environment, with pip's output.
    public struct SetupError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The environment's interpreter, making the environment with `packages` first if needed.
    public static func python(named name: String, packages: [String]) throws -> String {
        let root = ProcessInfo.processInfo.environment["BPFREE_TEST_VENVS"]
            ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/bpfree/venvs"
        let folder = root + "/" + name
        let python = folder + "/bin/python"
        let marker = folder + "/.bpfree-packages"
        let wanted = packages.joined(separator: " ")
        if (try? String(contentsOfFile: marker, encoding: .utf8)) == wanted, FileManager.default.isExecutableFile(atPath: python) {
            return python
        }
        try? FileManager.default.removeItem(atPath: folder)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        try run("/usr/bin/env", ["python3", "-m", "venv", folder])
        try run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check"] + packages)
        try wanted.write(toFile: marker, atomically: true, encoding: .utf8)
        return python
    }

    /// Runs a program; its standard output, or an error with its output when it fails.
    @discardableResult
    public static func run(_ program: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        // Standard error goes to a file, so that a chatty program never blocks on a full pipe.
        let errorPath = IDXFiles.temporaryFolder() + "/stderr"
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle(forWritingAtPath: errorPath)
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            let messages = (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? ""
            throw SetupError(description: "\(program) \(arguments.joined(separator: " ")) exited with \(process.terminationStatus): "
                             + text + messages)
        }
        return text
    }
}
