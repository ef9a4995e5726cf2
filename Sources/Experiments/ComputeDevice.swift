import CUDA
import Foundation
import Records
import Synchronization
import TensorCore

/// Where a run computes: checked before any data is loaded, and the device backend it trains on.
public enum ComputeDevice {
    /// A device that cannot run training here, in one line.
    public struct Unavailable: Error, CustomStringConvertible {
        public let device: Device
        public let reason: String
        public var description: String { "--device \(device): \(reason)" }
    }

    /// Returns when `device` is there to train on; otherwise says why in one line (no
    /// libcuda.so.1 and where it was looked for, no such GPU). Makes no context: the run's own
    /// process (IsolatedRun) opens the GPU, and says in one line when a library or kernel will
    /// not load, before it reads any data — a context here would hold the card's memory for the
    /// whole command.
    public static func check(_ device: Device, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        guard case .cuda(let index) = device else { return }
        _ = try driver(for: device, index: index, environment: environment)
    }

    /// The driver with GPU `index` (of `device`) among its GPUs, and the GPUs.
    private static func driver(for device: Device, index: Int, environment: [String: String]) throws -> (CUDADriver, [GPUDevice]) {
        let driver: CUDADriver
        let gpus: [GPUDevice]
        do {
            driver = try CUDADriver(environment: environment)
            gpus = try driver.devices()
        } catch { throw Unavailable(device: device, reason: "\(error)") }
        guard index < gpus.count else {
            throw Unavailable(device: device, reason: "this machine has \(gpus.count) GPU\(gpus.count == 1 ? "" : "s")")
        }
        return (driver, gpus)
    }

    /// The backends opened so far, by GPU and math (`key`).
    private static let opened = Mutex<[String: CUDABackend]>([:])
    private static func key(_ index: Int, _ math: CUBLAS.Math) -> String { "\(index)/\(math.name)" }

    /// The backend of `device` with cuBLAS's `math`, nil for the CPU; one per GPU and math per
    /// process (a study's trials share it).
    public static func backend(for device: Device, math: CUBLAS.Math = .fp32,
                               environment: [String: String] = ProcessInfo.processInfo.environment) throws -> (any DeviceBackend)? {
        guard case .cuda(let index) = device else { return nil }
        return try opened.withLock { opened in
            if let backend = opened[key(index, math)] {
                // This thread may not be the one that opened it.
                do { try backend.cuda.makeCurrent() } catch { throw Unavailable(device: device, reason: "\(error)") }
                return backend
            }
            let (driver, gpus) = try Self.driver(for: device, index: index, environment: environment)
            do {
                let backend = try CUDABackend(index: index, driver: driver, math: math, environment: environment)
                opened[key(index, math)] = backend
                return backend
            } catch { throw Unavailable(device: device, reason: "\(gpus[index].name): \(error)") }
        }
    }

    /// The run record's description of `device`'s GPU, nil for the CPU or a GPU not opened.
    public static func gpuInfo(_ device: Device, math: CUBLAS.Math) -> EnvironmentInfo.GPU? {
        guard case .cuda(let index) = device, let backend = opened.withLock({ $0[key(index, math)] }) else { return nil }
        let gpu = backend.cuda.gpu
        var info = EnvironmentInfo.GPU(name: gpu.name, computeCapability: "\(gpu.computeCapability.major).\(gpu.computeCapability.minor)",
                                       multiprocessors: gpu.multiprocessors, memoryBytes: gpu.memoryBytes,
                                       driverCUDA: "\(gpu.driverVersion / 1000).\(gpu.driverVersion % 1000 / 10)", math: backend.math.name)
        info.nvrtc = (try? NVRTC()).map { "\($0.version.major).\($0.version.minor)" }
        info.graphSteps = backend.graphsRequested ? backend.graphSteps : nil
        info.convolutions = convolutions(of: backend)
        return info
    }

    /// How `backend` computed convolutions, nil when it met none.
    static func convolutions(of backend: CUDABackend) -> EnvironmentInfo.GPU.Convolutions? {
        let choices = backend.convolutionChoices
        let library = backend.convolutionLibraryName ?? backend.cudnnUnavailable.map { "not loaded: \($0)" }
        guard let library = library ?? (backend.convolutions == .im2col ? "not used (BPFREE_CUDA_CONVOLUTIONS=im2col)" : nil) else { return nil }
        let passes = choices.map { choice, earlier in
            var pass = EnvironmentInfo.GPU.Convolutions.Pass(shape: "\(choice.shape)", pass: choice.pass.rawValue, route: choice.usesLibrary ? "cudnn" : "im2col",
                                                             algorithm: choice.algorithm?.name, im2colMilliseconds: choice.loweredMilliseconds,
                                                             cudnnMilliseconds: choice.libraryMilliseconds)
            pass.earlierRun = earlier ? true : nil
            return pass
        }
        var convolutions = EnvironmentInfo.GPU.Convolutions(library: library, selection: backend.convolutions.rawValue, passes: passes)
        convolutions.choiceFile = backend.convolutionChoiceFile
        return convolutions
    }

    /// One line per GPU for `bpfree info`, or one line saying why there is none; with GPUs, a
    /// line per NVIDIA library bpfree loads, where it was found or why not.
    public static func gpuLines(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        let gpus: [GPUDevice]
        do { gpus = try CUDADriver(environment: environment).devices() } catch { return ["GPUs:     none (\(error))"] }
        guard !gpus.isEmpty else { return ["GPUs:     none (the driver sees no device)"] }
        var lines = gpus.map { "GPU:      \($0.summary)" }
        func library(_ name: String, _ body: () throws -> String) {
            do { lines.append("  \(name): \(try body())") } catch { lines.append("  \(name): \(error)") }
        }
        library("cuBLAS") { try SharedLibrary.open(["libcublas.so.13", "libcublas.so.12"], environment: environment).path }
        library("cuDNN") {
            let cudnn = try SharedLibrary.open(["libcudnn.so.9"], environment: environment)
            let version: @convention(c) () -> Int = try cudnn.function("cudnnGetVersion")
            return "\(version() / 10000).\(version() % 10000 / 100).\(version() % 100) at \(cudnn.path)"
        }
        library("NVRTC") {
            let nvrtc = try NVRTC(environment: environment)
            return "\(nvrtc.version.major).\(nvrtc.version.minor) at \(nvrtc.library.path)"
        }
        return lines
    }
}
