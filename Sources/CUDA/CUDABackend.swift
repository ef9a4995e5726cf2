import Foundation
import TensorCore

/// TensorCore's device backend on one NVIDIA GPU: tensors in the caching allocator's blocks,
/// every primitive a kernel of `KernelCatalog` or a cuBLAS product, all on the device's one stream.
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
    /// cuBLAS's math mode.
    public let math: CUBLAS.Math
    /// Whether training steps were to run as CUDA graphs (not `BPFREE_CUDA_GRAPHS=off`).
    public let graphsRequested: Bool
    /// Whether they still do: a graph the driver refused to build turns them off.
    public private(set) var usesGraphs: Bool
    /// Steps run as a graph so far.
    public private(set) var graphSteps = 0
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
        usesGraphs = graphsRequested
        reductionSlots = try cuda.allocator.block(bytes: 16).address
        functions = DeviceKernel.allCases.map { cuda.function($0.rawValue) }
        cuda.allocator.willEmptyCache = { [unowned self] in flushStep() }
        precondition(DeviceKernel.allCases.enumerated().allSatisfy { $0.offset == $0.element.ordinal }, "DeviceKernel's ordinals")
    }

    private func check(_ body: () throws -> Void) {
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
    private func record(_ call: StepCall) {
        if recording != nil { recording!.append(call) } else { check { try issue(call) } }
    }

    /// Ends the recording of the step in progress: what it recorded is queued now, and the rest
    /// of the step as it comes.
    private func flushStep() {
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
