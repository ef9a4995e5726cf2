import ArgumentParser
import Experiments
import Foundation

/// The `bpfree` command: train networks with and without backpropagation, and measure the cost.
@main
struct BPFree: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bpfree",
        abstract: "Train neural networks with backpropagation and backprop-free algorithms, and measure what it costs.",
        version: EnvironmentInfo.version,
        subcommands: [Train.self, Tune.self, Bench.self, Info.self, AlgorithmsCommand.self, DataCommand.self, RunsCommand.self, StudiesCommand.self, ExportCommand.self, ReportCommand.self]
    )

    static func main() {
        shortenBLASSpinning()
        BPFree.main(nil)
    }

    /// OpenBLAS's idle worker threads spin for a long while after each product and then compete
    /// with the kernel threads for the cores (13–20% of a training step on 2 cores). The timeout
    /// is read only when the library loads, so the process re-executes itself once with
    /// `OPENBLAS_THREAD_TIMEOUT=4` (2⁴ cycles) unless the user set it.
    /// This program's file (the target of /proc/self/exe, so that a re-executed process keeps
    /// its name in `ps` and `pgrep`).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    }

    static func shortenBLASSpinning() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "4", 1)
        execv(executablePath, CommandLine.unsafeArgv)
        // execv returns only on failure; carry on with the default spinning.
    }
}
