import ArgumentParser
import CUDA
import Experiments
import Foundation
import TensorCore
import Records

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

    @Flag(help: "Compile every CUDA kernel with the NVRTC found (no GPU needed), one line per kernel, and stop.")
    var compileKernels = false

    @Option(help: ArgumentHelp("With --compile-kernels: the GPU architectures (default: the GPUs', else sm_80,sm_90).", valueName: "sm_XY,..."))
    var gpuArchitecture: String?

    @Flag(help: "Check every GPU through bpfree's own host code (kernels compiled and launched, copies, cuBLAS) against the CPU, one line per check, and stop.")
    var checkGpu = false

    func run() throws {
        if compileKernels { return try CompileKernels.run(architectures: gpuArchitecture) }
        if checkGpu { return try Self.checkGPUs() }
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
            ComputeDevice.gpuLines().forEach { print($0) }
        }
    }

    /// `--check-gpu`: `DeviceCheck` on every GPU; fails when a check fails or no GPU can be used.
    static func checkGPUs() throws {
        let driver: CUDADriver
        do { driver = try CUDADriver() } catch { throw RuntimeFailure("--check-gpu: \(error)") }
        let count = try driver.devices().count
        guard count > 0 else { throw RuntimeFailure("--check-gpu: the driver sees no GPU") }
        var failed = 0
        for index in 0..<count {
            let device: CUDADevice
            do { device = try CUDADevice(index: index, driver: driver) } catch {
                print("FAIL cuda:\(index): \(error)")
                failed += 1
                continue
            }
            print("cuda:\(index) \(device.gpu.summary)")
            var blas: CUBLAS?
            do { blas = try CUBLAS(device: device) } catch {
                print("FAIL cuBLAS: \(error)")
                failed += 1
            }
            // Each result as it comes: a library that fails hard (a sticky CUDA error ends the
            // process) leaves the ones before it printed.
            func report(_ result: DeviceCheck.Result) {
                print(result)
                fflush(nil)
                if !result.passed { failed += 1 }
            }
            DeviceCheck.run(device, blas: blas).forEach(report)
            if blas != nil {
                do {
                    let backend = try CUDABackend(index: index, driver: driver)
                    report(DeviceCheck.stepGraph(on: backend))
                    report(DeviceCheck.convolutions(on: backend))
                } catch {
                    report(DeviceCheck.Result(name: "a step as a CUDA graph; cuDNN convolutions", relativeError: nil, note: "\(error)"))
                }
            }
        }
        if failed > 0 { throw RuntimeFailure("--check-gpu: \(failed) check\(failed == 1 ? "" : "s") failed") }
    }

    /// sgemm rates of `bpfree info` run with `OPENBLAS_CORETYPE=core`.
    private func measure(core: String, threads: Int) throws -> InfoReport.CoreRate {
        guard let child = try? Self.report(ofChildWith: ["OPENBLAS_CORETYPE": core], threads: threads) else {
            throw RuntimeFailure("--blas-cores: bpfree info with OPENBLAS_CORETYPE=\(core) failed")
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
            throw RuntimeFailure("bpfree info exited with status \(process.terminationStatus)")
        }
        return try JSONDecoder().decode(InfoReport.self, from: output)
    }
}

/// `bpfree info --compile-kernels`: every kernel source through NVRTC for each architecture.
enum CompileKernels {
    /// A kernel that did not compile (the lines above say which).
    struct Failed: Error, CustomStringConvertible {
        let count: Int
        var description: String { "\(count) kernel source\(count == 1 ? "" : "s") did not compile cleanly" }
    }

    static func run(architectures requested: String?) throws {
        let architectures = try requested.map { text in
            try text.split(separator: ",").map { item -> String in
                guard item.wholeMatch(of: #/sm_[0-9]{2,3}a?/#) != nil else {
                    throw ValidationError("--gpu-architecture: '\(item)' is not an architecture such as sm_90")
                }
                return String(item)
            }
        } ?? {
            let cards = Set(((try? CUDADriver().devices()) ?? []).map(\.architecture)).sorted()
            return cards.isEmpty ? ["sm_80", "sm_90"] : cards
        }()
        let compiler = try NVRTC()
        print("NVRTC \(compiler.version.major).\(compiler.version.minor) from \(compiler.library.path)")
        var failures = 0
        for architecture in architectures {
            for file in KernelCatalog.files {
                let clock = ContinuousClock(), start = clock.now
                do {
                    let (cubin, log) = try compiler.compile(file.source, name: file.name, architecture: architecture)
                    let seconds = String(format: "%.2f s", (clock.now - start).seconds)
                    let symbols = String(decoding: cubin, as: UTF8.self)
                    for kernel in file.kernels {
                        let state = symbols.contains(kernel) ? (log.isEmpty ? "ok" : "warnings: \(log)") : "missing from the CUBIN"
                        print("\(architecture)  \(file.name)  \(kernel)  \(state)")
                    }
                    print("\(architecture)  \(file.name)  \(cubin.count) bytes of CUBIN in \(seconds)")
                    if !log.isEmpty || file.kernels.contains(where: { !symbols.contains($0) }) { failures += 1 }
                } catch {
                    print("\(architecture)  \(file.name)  failed: \(error)")
                    failures += 1
                }
            }
        }
        if failures > 0 { throw Failed(count: failures) }
    }
}
