import Foundation
import TensorCore

/// TensorCore's device backend on one NVIDIA GPU: tensors in the caching allocator's blocks,
/// every primitive a kernel of `KernelCatalog`, a cuBLAS product or a cuDNN convolution, all on
/// the device's one stream.
///
/// A training step (`step`) is recorded rather than launched call by call, and runs as one CUDA
/// graph (`StepGraph`) once two steps in a row had the same shape, or call by call when not. A
/// step that reads from or writes to the host part-way runs call by call from there on.
/// `BPFREE_CUDA_GRAPHS=off` turns graphs off; a driver that refuses to build one turns them off
/// for the rest of the run, with one line on stderr.
///
/// NOTE: a driver or cuBLAS failure mid-run leaves the context unusable (CUDA's errors are
/// sticky), so it ends the process with one line naming the call and the driver's reason.
public final class CUDABackend: DeviceBackend, @unchecked Sendable {
    public let cuda: CUDADevice
    public let blas: CUBLAS
    public let device: Device
    public let reductionSlots: UInt64
    /// cuBLAS's and cuDNN's math.
    public let math: CUBLAS.Math
    /// Whether training steps were to run as CUDA graphs (not `BPFREE_CUDA_GRAPHS=off`).
    public let graphsRequested: Bool
    /// Whether they still do: a graph the driver refused to build turns them off.
    public private(set) var usesGraphs: Bool
    /// Steps run as a graph so far.
    public private(set) var graphSteps = 0
    /// How convolutions are computed (`BPFREE_CUDA_CONVOLUTIONS`).
    public let convolutions: ConvolutionRoutes
    /// cuDNN, once a convolution asked for it and it loaded; why it did not, when it did not.
    private(set) var cudnn: CUDNN?
    public private(set) var cudnnUnavailable: String?
    private let environment: [String: String]
    /// Each kernel's function, by `DeviceKernel.ordinal`.
    private var functions: [OpaquePointer?] = []
    /// The calls of the step being recorded; nil outside a step, or once it ran call by call.
    private var recording: [StepCall]?
    /// The calls of the last step, and the graphs built so far (the last used first, at most four).
    private var lastStep: [StepCall] = []
    private var graphs: [StepGraph] = []

    /// GPU `index` with every kernel loaded and cuBLAS on its stream (`math`: FP32 unless TF32 is asked for).
    public init(index: Int, driver: CUDADriver, math: CUBLAS.Math = .fp32, images: @escaping CUDADevice.ImageProvider = CUDADevice.compiledImage,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        cuda = try CUDADevice(index: index, driver: driver, images: images)
        blas = try CUBLAS(device: cuda, math: math, environment: environment)
        device = .cuda(index)
        self.math = math
        graphsRequested = environment["BPFREE_CUDA_GRAPHS"] != "off"
        guard let convolutions = ConvolutionRoutes(rawValue: environment["BPFREE_CUDA_CONVOLUTIONS"] ?? "measure") else {
            throw ConvolutionRoutes.Invalid(value: environment["BPFREE_CUDA_CONVOLUTIONS"]!)
        }
        self.convolutions = convolutions
        self.environment = environment
        usesGraphs = graphsRequested
        reductionSlots = try cuda.allocator.block(bytes: 16).address
        functions = DeviceKernel.allCases.map { cuda.function($0.rawValue) }
        cuda.allocator.willEmptyCache = { [unowned self] in flushStep() }
        precondition(DeviceKernel.allCases.enumerated().allSatisfy { $0.offset == $0.element.ordinal }, "DeviceKernel's ordinals")
    }

    func check(_ body: () throws -> Void) {
        do { try body() } catch {
            FileHandle.standardError.write(Data("bpfree: \(device) (\(cuda.gpu.name)): \(error)\n".utf8))
            exit(70)
        }
    }

    public func allocate(bytes: Int) -> DeviceBlock {
        var block: DeviceBlock?
        check { block = try cuda.allocator.block(bytes: bytes) }
        return block!
    }

    public func release(_ block: DeviceBlock) { cuda.allocator.release(block) }

    public var peakBytes: Int { cuda.allocator.peakBytes }
    public var freeBytes: Int {
        var bytes = 0
        check { bytes = try cuda.freeBytes() }
        return bytes
    }
    public func resetPeak() { cuda.allocator.resetPeak() }

    public func upload(_ source: UnsafeRawPointer, bytes: Int, to address: UInt64) {
        flushStep()
        check { try cuda.copy(UnsafeRawBufferPointer(start: source, count: bytes), to: address) }
    }

    public func download(from address: UInt64, bytes: Int, to destination: UnsafeMutableRawPointer) {
        flushStep()
        check { try cuda.copy(from: address, to: UnsafeMutableRawBufferPointer(start: destination, count: bytes)) }
    }

    public func copy(from source: UInt64, to destination: UInt64, bytes: Int) {
        record(.copy(source: source, destination: destination, bytes: bytes))
    }

    public func launch(_ kernel: DeviceKernel, threads: Int, _ arguments: [KernelArgument]) {
        record(.kernel(kernel, threads: threads, arguments))
    }

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
                     b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) {
        record(.gemm(.init(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                           b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)))
    }

    public func milliseconds(_ body: () -> Void) -> Double {
        flushStep()
        var milliseconds = 0.0
        check { milliseconds = try cuda.milliseconds(body) }
        return milliseconds
    }

    // MARK: Convolutions

    /// How the card computes convolutions: each pass of each shape timed both ways and the faster
    /// kept (`measure`, the default), or always cuDNN or always im2col and cuBLAS.
    public enum ConvolutionRoutes: String, Sendable {
        case measure, cudnn, im2col

        /// A `BPFREE_CUDA_CONVOLUTIONS` that names none of them.
        public struct Invalid: Error, CustomStringConvertible {
            let value: String
            public var description: String { "BPFREE_CUDA_CONVOLUTIONS=\(value): expected measure, cudnn or im2col" }
        }
    }

    /// cuDNN, loaded when a convolution first needs it; nil with `im2col`, or when it does not load
    /// (one line on stderr says why, and convolutions are lowered). With `cudnn` asked for by name,
    /// a cuDNN that does not load ends the run.
    public var convolutionLibrary: (any ConvolutionLibrary)? {
        guard convolutions != .im2col else { return nil }
        if cudnn == nil && cudnnUnavailable == nil {
            do { cudnn = try CUDNN(backend: self, math: math, measures: convolutions == .measure, environment: environment) } catch {
                cudnnUnavailable = "\(error)"
                let consequence = convolutions == .cudnn ? "BPFREE_CUDA_CONVOLUTIONS=cudnn cannot be met" : "convolutions run as im2col and cuBLAS"
                FileHandle.standardError.write(Data("bpfree: \(device) (\(cuda.gpu.name)): cuDNN not loaded, \(consequence): \(error)\n".utf8))
                if convolutions == .cudnn { exit(70) }
            }
        }
        return cudnn
    }

    /// The convolution choices made on this card so far, in order, each with whether an earlier
    /// process measured it (and kept it in `convolutionChoiceFile`).
    public var convolutionChoices: [(choice: ConvolutionChoice, earlier: Bool)] { cudnn?.kept ?? [] }
    /// Where measured choices are kept for later processes.
    public var convolutionChoiceFile: String? { cudnn?.file?.path }
    /// The convolution library's name and version, e.g. "cuDNN 9.10.2", once loaded.
    public var convolutionLibraryName: String? { cudnn?.name }

    // MARK: Steps as graphs

    public func step(_ body: () -> Void) {
        guard usesGraphs, recording == nil else { return body() }
        recording = []
        body()
        guard let calls = recording else { return }
        recording = nil
        check {
            if let index = graphs.firstIndex(where: { $0.matches(calls) }) {
                let graph = graphs.remove(at: index)
                graphs.insert(graph, at: 0)
                try graph.launch(calls)
                graphSteps += 1
            } else if calls.hasShape(of: lastStep), let graph = buildGraph(calls) {
                graphs.insert(graph, at: 0)
                if graphs.count > 4 { graphs.removeLast() }
                try graph.launch(calls)
                graphSteps += 1
            } else {
                for call in calls { try issue(call) }
            }
        }
        lastStep = calls
    }

    /// The graph of `calls`, or nil when the driver refuses it: then graphs are off for the rest
    /// of the run (building queues nothing, so the step can still run call by call).
    private func buildGraph(_ calls: [StepCall]) -> StepGraph? {
        do { return try StepGraph(calls, on: self) } catch {
            FileHandle.standardError.write(Data("bpfree: \(device) (\(cuda.gpu.name)): CUDA graphs off for this run, each call launched by itself: \(error)\n".utf8))
            usesGraphs = false
            graphs = []
            return nil
        }
    }

    /// Queues `call` on the stream, or adds it to the step being recorded.
    func record(_ call: StepCall) {
        if recording != nil { recording!.append(call) } else { check { try issue(call) } }
    }

    /// Ends the recording of the step in progress: what it recorded is queued now, and the rest
    /// of the step as it comes.
    func flushStep() {
        guard let calls = recording else { return }
        recording = nil
        lastStep = []
        check { for call in calls { try issue(call) } }
    }

    /// Queues `call` on the stream.
    func issue(_ call: StepCall) throws {
        switch call {
        case let .kernel(kernel, threads, arguments):
            try cuda.launch(functions[kernel.ordinal], named: kernel.rawValue, threads: threads, arguments)
        case let .gemm(p):
            try blas.gemm(transposeA: p.transposeA, transposeB: p.transposeB, m: p.m, n: p.n, k: p.k, alpha: p.alpha, a: p.a, lda: p.lda,
                          b: p.b, ldb: p.ldb, beta: p.beta, c: p.c, ldc: p.ldc)
        case let .copy(source, destination, bytes):
            try cuda.copy(from: source, to: destination, bytes: bytes)
        case let .convolution(convolution):
            try cudnn!.issue(convolution)
        }
    }

    /// A kernel node's parameters for `kernel` over `threads` threads, its arguments marshalled at `parameters`.
    func nodeParameters(_ kernel: DeviceKernel, threads: Int,
                        _ parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>) -> CUDADriver.KernelNodeParameters {
        let blockSize = 256
        return .init(function: functions[kernel.ordinal], gridX: UInt32(CUDADevice.blocks(threads: threads, blockSize: blockSize)),
                     blockX: UInt32(blockSize), parameters: parameters)
    }
}

extension DeviceKernel {
    /// The case's position in `allCases`: a payload-free enum is stored as that number (checked
    /// when a backend opens).
    var ordinal: Int { Int(unsafeBitCast(self, to: UInt8.self)) }
}
