import ArgumentParser
import Experiments
import Foundation
import Records
import TensorCore

/// The `bpfree` command: train networks with and without backpropagation, and measure the cost.
@main
struct BPFree: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpfree",
        abstract: "Train neural networks with backpropagation and backprop-free algorithms, and measure what it costs.",
        version: EnvironmentInfo.version,
        subcommands: [Train.self, Evaluate.self, Tune.self, Bench.self, Info.self, AlgorithmsCommand.self, DataCommand.self, RunsCommand.self, StudiesCommand.self, ExportCommand.self, ReportCommand.self, RunChild.self]
    )

    static func main() {
        configureNumericLibraries()
        // Trials and a bench's final runs each run in a process of their own (IsolatedRun).
        IsolatedRun.executable.withLock { $0 = executablePath }
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let interrupted as Interrupted {
            // train, tune and bench stop cleanly on SIGINT or SIGTERM, with a status of their own.
            FileHandle.standardError.write(Data("bpfree: \(interrupted)\n".utf8))
            Foundation.exit(interrupted.exitStatus)
        } catch {
            exit(withError: error)
        }
    }

    /// This program's file (the target of /proc/self/exe, so that a re-executed process keeps
    /// its name in `ps` and `pgrep`).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    }

    /// Re-executes this program once with the settings of `NumericLibraries.startupEnvironment`
    /// (OpenBLAS's thread timeout and kernel family, OpenMP's wait policy), which the libraries
    /// read only when they load.
    static func configureNumericLibraries() {
        let changes = NumericLibraries.startupEnvironment()
        guard !changes.isEmpty else { return }
        let previous = changes.keys.map { ($0, ProcessInfo.processInfo.environment[$0]) }
        for (name, value) in changes { setenv(name, value, 1) }
        execv(executablePath, CommandLine.unsafeArgv)
        // execv returns only on failure: carry on with the library's settings.
        for (name, value) in previous {
            if let value { setenv(name, value, 1) } else { unsetenv(name) }
        }
    }
}

/// A failure while the command runs (a tool that failed, a job that ended early): printed as one
/// error line without the usage text that argument errors get, and exit status 1.
struct RuntimeFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
