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

    /// This program's file (the target of /proc/self/exe, so that a re-executed process keeps
    /// its name in `ps` and `pgrep`).
    static var executablePath: String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? "/proc/self/exe"
    }

    /// OpenBLAS's idle worker threads spin for ~2²⁸ cycles after each product and then compete
    /// with the kernel threads (e.g. the optimizer step) for the cores. The timeout is read only
    /// when the library loads, so the process re-executes itself once with
    /// `OPENBLAS_THREAD_TIMEOUT=16` unless the user set it: 2¹⁶ cycles (~25 µs) keeps the
    /// workers awake between products separated by small elementwise kernels, and asleep during
    /// an optimizer pass of milliseconds. (4, the minimum, made every product wake them:
    /// mlp-3x2000 epochs were 4–8% slower, medians of 7 interleaved runs.)
    static func shortenBLASSpinning() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] == nil else { return }
        setenv("OPENBLAS_THREAD_TIMEOUT", "16", 1)
        execv(executablePath, CommandLine.unsafeArgv)
        // execv returns only on failure; carry on with the default spinning.
    }
}
