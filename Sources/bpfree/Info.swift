import ArgumentParser
import Experiments
import Foundation
import TensorCore

/// `bpfree info`: the machine, BLAS and measured speeds.
struct Info: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the machine, the BLAS configuration and measured sgemm (and kernel) speeds.")

    @Option(help: "BLAS and kernel threads (default: the number of cores).")
    var threads: Int?

    @Flag(help: "Also time the hot kernels (Linear forward+backward, AdamW step, softmax cross-entropy).")
    var kernels = false

    @Flag(help: "Also measure sgemm under every OpenBLAS core this CPU can run, each in a process of its own.")
    var blasCores = false

    @Flag(help: "Print JSON instead of text.")
    var json = false

    @Option(help: "CPU TDP in watts for the energy estimate (default: 4 W per logical CPU).")
    var cpuTdpWatts: Double?

    func run() throws {
        let threads = self.threads ?? ProcessInfo.processInfo.activeProcessorCount
        guard threads >= 1 else { throw ValidationError("--threads: must be at least 1, got \(threads)") }
        var report = InfoReport.measure(threads: threads, kernels: kernels,
                                        measurement: MeasurementConfiguration(cpuTDPWatts: cpuTdpWatts))
        if blasCores {
            report.coreRates = try InfoReport.candidateCores(for: .current()).map { try measure(core: $0, threads: threads) }
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            print(report.text)
        }
    }

    /// sgemm rates of `bpfree info` run with `OPENBLAS_CORETYPE=core`.
    private func measure(core: String, threads: Int) throws -> InfoReport.CoreRate {
        guard let child = try? Self.report(ofChildWith: ["OPENBLAS_CORETYPE": core], threads: threads) else {
            throw ValidationError("--blas-cores: bpfree info with OPENBLAS_CORETYPE=\(core) failed")
        }
        return InfoReport.CoreRate(requested: core, loaded: child.environment.blasCore, sgemmGflops: child.sgemmGflops)
    }

    /// `bpfree info --json` of a new process of `executable`, started with this environment less
    /// the kernel settings (OpenBLAS's core and bpfree's own) plus `settings`.
    static func report(ofChildWith settings: [String: String], threads: Int,
                       executable: String = BPFree.executablePath) throws -> InfoReport {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = ["info", "--json", "--threads", String(threads)]
        var environment = ProcessInfo.processInfo.environment
        for name in ["OPENBLAS_CORETYPE", BLASCoreChoice.libraryCoreVariable, BLASCoreChoice.policyVariable] { environment[name] = nil }
        process.environment = environment.merging(settings) { $1 }
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ValidationError("bpfree info exited with status \(process.terminationStatus)")
        }
        return try JSONDecoder().decode(InfoReport.self, from: output)
    }
}
