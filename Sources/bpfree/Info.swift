import ArgumentParser
import Experiments
import Foundation

/// `bpfree info`: the machine, BLAS and measured speeds.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the machine, the BLAS configuration and measured sgemm (and kernel) speeds.")

    @Option(help: "BLAS and kernel threads (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Also time the hot kernels (Linear forward+backward, AdamW step, softmax cross-entropy).")
    var kernels = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "CPU TDP in watts for the energy estimate (default: 4 W per logical CPU).")
    var cpuTdpWatts: Double?

    func run() throws {
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard threads >= 1 else { throw ValidationError("--threads: must be at least 1, got \(threads)") }
        let report = InfoReport.measure(threads: threads, kernels: kernels,
                                        measurement: MeasurementConfiguration(cpuTDPWatts: cpuTdpWatts))
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }
}
