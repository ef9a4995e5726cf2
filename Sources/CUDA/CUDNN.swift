import Foundation
import TensorCore

/// cuDNN 9 (`libcudnn.so.9`, from PyPI's `nvidia-cudnn-cu13` or a CUDA install), loaded at run
/// time through its legacy convolution API: the card's convolution library, used for a pass of a
/// shape when it beats im2col and cuBLAS there (`ConvolutionKernel` times both; the choice is kept
/// for later processes in a `ConvolutionChoiceFile`), or always, with the algorithm its heuristics
/// rank first, when `BPFREE_CUDA_CONVOLUTIONS=cudnn`.
///
/// bpfree's layouts are cuDNN's NHWC: maps N×H×W×C, filters O×kh×kw×C (KRSC), cross-correlation
/// as in PyTorch. Only deterministic algorithms are chosen (the same seed trains to the same
/// bits); FP32 math unless TF32 was asked for, as for cuBLAS.
///
/// NOTE: `libcudnn.so.9` is a shim that opens its sub-libraries (`libcudnn_cnn.so.9`, …) by name,
/// which fails when their folder is not on the loader path (a wheel's): they are opened first
/// from the folder `libcudnn.so.9` was found in (pytorch/pytorch PR 189043).
final class CUDNN: ConvolutionLibrary, @unchecked Sendable {
    typealias Status = Int32
    typealias Descriptor = OpaquePointer?
    let library: SharedLibrary
    /// e.g. "cuDNN 9.10.2".
    let name: String
    let measures: Bool
    private unowned let backend: CUDABackend
    private let handle: OpaquePointer?
    private let mathType: Int32
    /// The workspace every call gets: as large as the largest chosen algorithm needs.
    private var workspace: DeviceAllocator.Block?
    /// The descriptors of each shape met.
    private var descriptors: [ConvolutionShape: Descriptors] = [:]
    /// This process's choices, each with whether an earlier process measured it (`file`).
    private(set) var kept: [(choice: ConvolutionChoice, earlier: Bool)] = []
    /// Where measured choices are kept for later processes (measuring only).
    let file: ConvolutionChoiceFile?

    private let getErrorString: @convention(c) (Status) -> UnsafePointer<CChar>?
    private let createTensorDescriptor, createFilterDescriptor, createConvolutionDescriptor: @convention(c) (UnsafeMutablePointer<Descriptor>) -> Status
    private let setTensor4dDescriptor: @convention(c) (Descriptor, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    private let setFilter4dDescriptor: @convention(c) (Descriptor, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    private let setConvolution2dDescriptor: @convention(c) (Descriptor, Int32, Int32, Int32, Int32, Int32, Int32, Int32, Int32) -> Status
    private let setConvolutionMathType: @convention(c) (Descriptor, Int32) -> Status
    /// `cudnnFind…AlgorithmEx(handle, desc, operand, desc, operand, convolution, desc, written operand, requested, returned, results,
    /// workspace, bytes)`: forward (x, w → y), backward data (w, dy → dx), backward filter (x, dy → dw).
    private typealias Find = @convention(c) (OpaquePointer?, Descriptor, UInt64, Descriptor, UInt64, Descriptor, Descriptor, UInt64, Int32,
                                             UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer, UInt64, Int) -> Status
    private let find: [ConvolutionPass: Find]
    /// `cudnnGet…Algorithm_v7(handle, desc, desc, convolution, desc, requested, returned, results)`: the algorithms ranked by
    /// cuDNN's heuristics, nothing run: forward (x, w, convolution, y), backward data (w, dy, convolution, dx), backward filter
    /// (x, dy, convolution, dw).
    private typealias Rank = @convention(c) (OpaquePointer?, Descriptor, Descriptor, Descriptor, Descriptor, Int32,
                                             UnsafeMutablePointer<Int32>, UnsafeMutableRawPointer) -> Status
    private let rank: [ConvolutionPass: Rank]
    /// `cudnnConvolution…(handle, α, desc, operand, desc, operand, convolution, algorithm, workspace, bytes, β, desc, written operand)`.
    private typealias Run = @convention(c) (OpaquePointer?, UnsafeRawPointer, Descriptor, UInt64, Descriptor, UInt64, Descriptor, Int32,
                                            UInt64, Int, UnsafeRawPointer, Descriptor, UInt64) -> Status
    private let runs: [ConvolutionPass: Run]

    /// A cuDNN call that failed, with cuDNN's words.
    struct Failure: Error, CustomStringConvertible {
        let call: String
        let status: Int32
        let message: String
        var description: String { "\(call) failed: \(message) (cuDNN status \(status))" }
    }

    /// The x, w and y descriptors of a shape and its convolution's.
    private struct Descriptors {
        let x: Descriptor, w: Descriptor, y: Descriptor, convolution: Descriptor

        /// The operands of `pass` with their descriptors in the order its every call takes them,
        /// the one it writes last: forward (x, w → y), backward data (w, dy → dx), backward
        /// filter (x, dy → dw).
        func operands(_ pass: ConvolutionPass, x: UInt64, w: UInt64, y: UInt64)
            -> ((Descriptor, UInt64), (Descriptor, UInt64), (Descriptor, UInt64)) {
            switch pass {
            case .forward: ((self.x, x), (self.w, w), (self.y, y))
            case .backwardData: ((self.w, w), (self.y, y), (self.x, x))
            case .backwardWeights: ((self.x, x), (self.y, y), (self.w, w))
            }
        }
    }

    /// The algorithms of each pass by their code (`cudnnConvolution{Fwd,BwdData,BwdFilter}Algo_t`).
    static let algorithmNames: [ConvolutionPass: [String]] = [
        .forward: ["IMPLICIT_GEMM", "IMPLICIT_PRECOMP_GEMM", "GEMM", "DIRECT", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"],
        .backwardData: ["ALGO_0", "ALGO_1", "FFT", "FFT_TILING", "WINOGRAD", "WINOGRAD_NONFUSED"],
        .backwardWeights: ["ALGO_0", "ALGO_1", "FFT", "ALGO_3", "WINOGRAD", "WINOGRAD_NONFUSED", "FFT_TILING"],
    ]

    /// The calls of each pass: its algorithm search, its heuristics' ranking, and the pass itself.
    static let calls: [ConvolutionPass: (find: String, rank: String, run: String)] = [
        .forward: ("cudnnFindConvolutionForwardAlgorithmEx", "cudnnGetConvolutionForwardAlgorithm_v7", "cudnnConvolutionForward"),
        .backwardData: ("cudnnFindConvolutionBackwardDataAlgorithmEx", "cudnnGetConvolutionBackwardDataAlgorithm_v7", "cudnnConvolutionBackwardData"),
        .backwardWeights: ("cudnnFindConvolutionBackwardFilterAlgorithmEx", "cudnnGetConvolutionBackwardFilterAlgorithm_v7",
                           "cudnnConvolutionBackwardFilter"),
    ]

    /// The most workspace an algorithm may use (Find gets this much, or what the card can spare).
    static let findWorkspaceBytes = 256 << 20

    /// cuDNN on `backend`'s stream, with FP32 math (`CUDNN_FMA_MATH`: no tensor cores) unless
    /// `math` is TF32 (`CUDNN_DEFAULT_MATH`, which lets FP32 convolutions use TF32 tensor cores).
    init(backend: CUDABackend, math: CUBLAS.Math, measures: Bool, environment: [String: String]) throws {
        let library = try SharedLibrary.open(["libcudnn.so.9"], environment: environment)
        if let folder = library.folder { SharedLibrary.preload(in: folder, prefix: "libcudnn_", suffix: ".so.9") }
        self.library = library
        // The shim exports the whole API; should a build not, the sub-library that defines a call has it.
        var subLibraries: [SharedLibrary]?
        func function<T>(_ name: String) throws -> T {
            do { return try library.function(name) } catch let missing as SharedLibrary.MissingSymbol {
                subLibraries = subLibraries ?? ["libcudnn_cnn.so.9", "libcudnn_ops.so.9", "libcudnn_graph.so.9"].compactMap {
                    try? SharedLibrary.open([$0], environment: environment)
                }
                for subLibrary in subLibraries! { if let found: T = try? subLibrary.function(name) { return found } }
                throw missing
            }
        }
        self.backend = backend
        self.measures = measures
        mathType = math == .fp32 ? 3 : 0
        getErrorString = try function("cudnnGetErrorString")
        createTensorDescriptor = try function("cudnnCreateTensorDescriptor")
        createFilterDescriptor = try function("cudnnCreateFilterDescriptor")
        createConvolutionDescriptor = try function("cudnnCreateConvolutionDescriptor")
        setTensor4dDescriptor = try function("cudnnSetTensor4dDescriptor")
        setFilter4dDescriptor = try function("cudnnSetFilter4dDescriptor")
        setConvolution2dDescriptor = try function("cudnnSetConvolution2dDescriptor")
        setConvolutionMathType = try function("cudnnSetConvolutionMathType")
        var (find, rank, runs): ([ConvolutionPass: Find], [ConvolutionPass: Rank], [ConvolutionPass: Run]) = ([:], [:], [:])
        for (pass, names) in Self.calls {
            (find[pass], rank[pass], runs[pass]) = (try function(names.find), try function(names.rank), try function(names.run))
        }
        (self.find, self.rank, self.runs) = (find, rank, runs)
        let getVersion: @convention(c) () -> Int = try function("cudnnGetVersion")
        let create: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Status = try function("cudnnCreate")
        let setStream: @convention(c) (OpaquePointer?, OpaquePointer?) -> Status = try function("cudnnSetStream")
        precondition(MemoryLayout<Performance>.stride == 48 && MemoryLayout<Performance>.offset(of: \.memory) == 16, "cudnnConvolution*AlgoPerf_t's layout")
        let version = getVersion()
        name = "cuDNN \(version / 10000).\(version % 10000 / 100).\(version % 100)"
        let gpu = backend.cuda.gpu
        file = measures ? ConvolutionChoiceFile(card: "\(gpu.name) \(gpu.architecture) driver \(gpu.driverVersion)", library: name, math: math.name,
                                                environment: environment) : nil
        var handle: OpaquePointer?
        let created = create(&handle)
        self.handle = handle
        try check(created, "cudnnCreate")
        try check(setStream(handle, backend.cuda.stream), "cudnnSetStream")
    }

    private func check(_ status: Status, _ call: @autoclosure () -> String) throws {
        guard status != 0 else { return }
        throw Failure(call: call(), status: status, message: getErrorString(status).map { String(cString: $0) } ?? "unknown status")
    }

    /// The descriptors of `shape`, made on first use (NHWC float tensors, a KRSC filter).
    private func descriptors(_ shape: ConvolutionShape) throws -> Descriptors {
        if let made = descriptors[shape] { return made }
        var (x, w, y, convolution): (Descriptor, Descriptor, Descriptor, Descriptor) = (nil, nil, nil, nil)
        let (nhwc, float) = (Int32(1), Int32(0))
        func int(_ value: Int) -> Int32 { Int32(value) }
        try check(createTensorDescriptor(&x), "cudnnCreateTensorDescriptor")
        try check(setTensor4dDescriptor(x, nhwc, float, int(shape.batch), int(shape.inputChannels), int(shape.height), int(shape.width)),
                  "cudnnSetTensor4dDescriptor (input \(shape))")
        try check(createFilterDescriptor(&w), "cudnnCreateFilterDescriptor")
        try check(setFilter4dDescriptor(w, float, nhwc, int(shape.outputChannels), int(shape.inputChannels), int(shape.kernelSize), int(shape.kernelSize)),
                  "cudnnSetFilter4dDescriptor (\(shape))")
        try check(createTensorDescriptor(&y), "cudnnCreateTensorDescriptor")
        try check(setTensor4dDescriptor(y, nhwc, float, int(shape.batch), int(shape.outputChannels), int(shape.outputHeight), int(shape.outputWidth)),
                  "cudnnSetTensor4dDescriptor (output \(shape))")
        try check(createConvolutionDescriptor(&convolution), "cudnnCreateConvolutionDescriptor")
        // Padding, stride and dilation in both dimensions; CUDNN_CROSS_CORRELATION; float compute.
        try check(setConvolution2dDescriptor(convolution, int(shape.padding), int(shape.padding), int(shape.stride), int(shape.stride), 1, 1, 1, float),
                  "cudnnSetConvolution2dDescriptor (\(shape))")
        try check(setConvolutionMathType(convolution, mathType), "cudnnSetConvolutionMathType")
        let made = Descriptors(x: x, w: w, y: y, convolution: convolution)
        descriptors[shape] = made
        return made
    }

    /// `cudnnConvolution{Fwd,BwdData,BwdFilter}AlgoPerf_t`: all three have this layout (48 bytes).
    private struct Performance {
        var algorithm: Int32 = 0, status: Int32 = 0
        var milliseconds: Float = 0
        var memory: Int = 0
        var determinism: Int32 = 0, mathType: Int32 = 0
        var reserved: (Int32, Int32, Int32) = (0, 0, 0)
    }

    /// When measuring, cuDNN's fastest as its search times them on the card
    /// (`cudnnFind…AlgorithmEx`); with cuDNN asked for by name, the first of its heuristics'
    /// ranking (`cudnnGet…Algorithm_v7`, as PyTorch without `cudnn.benchmark`), which nothing
    /// timed can change from one process to the next. A search that cuDNN refuses (a shape it does
    /// not support) leaves the pass to im2col, with one line on stderr, unless cuDNN was asked for
    /// by name: then it ends the run.
    func fastestAlgorithm(for pass: ConvolutionPass, _ shape: ConvolutionShape, x: UInt64, w: UInt64, y: UInt64) -> ConvolutionAlgorithm? {
        var fastest: ConvolutionAlgorithm?
        backend.check {
            do { fastest = try search(pass, shape, x: x, w: w, y: y) } catch let failure as Failure where measures {
                FileHandle.standardError.write(Data("bpfree: \(backend.device) (\(backend.cuda.gpu.name)): \(failure); the \(pass.rawValue) pass of \(shape) runs as im2col and cuBLAS\n".utf8))
            }
        }
        return fastest
    }

    private func search(_ pass: ConvolutionPass, _ shape: ConvolutionShape, x: UInt64, w: UInt64, y: UInt64) throws -> ConvolutionAlgorithm? {
        let d = try descriptors(shape)
        backend.flushStep()
        var results = [Performance](repeating: .init(), count: 8)
        var returned: Int32 = 0
        let (scratch, bytes) = measures ? try backend.cuda.scratch(upTo: Self.findWorkspaceBytes) : (0, Self.findWorkspaceBytes)
        defer { backend.cuda.freeScratch(scratch) }
        let (a, b, c) = d.operands(pass, x: x, w: w, y: y)
        try results.withUnsafeMutableBytes { results in
            if measures {
                try check(find[pass]!(handle, a.0, a.1, b.0, b.1, d.convolution, c.0, c.1, 8, &returned, results.baseAddress!, scratch, bytes),
                          "\(Self.calls[pass]!.find) (\(shape))")
            } else {
                try check(rank[pass]!(handle, a.0, b.0, d.convolution, c.0, 8, &returned, results.baseAddress!), "\(Self.calls[pass]!.rank) (\(shape))")
            }
        }
        // Sorted fastest first; CUDNN_STATUS_SUCCESS and CUDNN_DETERMINISTIC only.
        guard let best = results.prefix(Int(returned)).first(where: { $0.status == 0 && $0.determinism == 1 && $0.memory <= bytes }) else { return nil }
        let names = Self.algorithmNames[pass]!
        try growWorkspace(to: best.memory)
        return ConvolutionAlgorithm(code: best.algorithm, name: names.indices.contains(Int(best.algorithm)) ? names[Int(best.algorithm)] : "\(best.algorithm)",
                                    workspaceBytes: best.memory)
    }

    /// Makes the workspace at least `bytes`: between steps (a graph built before holds the old
    /// block's address in its calls, so it matches no later step).
    private func growWorkspace(to bytes: Int) throws {
        guard bytes > (workspace?.bytes ?? 0) else { return }
        if let workspace { backend.cuda.allocator.release(workspace) }
        workspace = try backend.cuda.allocator.block(bytes: bytes)
    }

    func run(_ pass: ConvolutionPass, _ shape: ConvolutionShape, _ algorithm: ConvolutionAlgorithm, x: UInt64, w: UInt64, y: UInt64) {
        precondition(algorithm.workspaceBytes <= (workspace?.bytes ?? 0), "cuDNN: \(algorithm.name) needs more workspace than chosen")
        backend.record(.convolution(.init(pass: pass, shape: shape, algorithm: algorithm.code, x: x, w: w, y: y,
                                          workspace: workspace?.address ?? 0, workspaceBytes: workspace?.bytes ?? 0)))
    }

    /// Queues `call` on the stream: α = 1, β = 0 but for the weight gradient, which accumulates.
    func issue(_ call: StepCall.Convolution) throws {
        let d = try descriptors(call.shape)
        var (alpha, beta): (Float, Float) = (1, call.pass == .backwardWeights ? 1 : 0)
        let (a, b, c) = d.operands(call.pass, x: call.x, w: call.w, y: call.y)
        try check(runs[call.pass]!(handle, &alpha, a.0, a.1, b.0, b.1, d.convolution, call.algorithm, call.workspace, call.workspaceBytes,
                                   &beta, c.0, c.1), "\(Self.calls[call.pass]!.run) (\(call.shape))")
    }

    func choice(for pass: ConvolutionPass, _ shape: ConvolutionShape) -> ConvolutionChoice? {
        if let made = kept.first(where: { $0.choice.pass == pass && $0.choice.shape == shape }) { return made.choice }
        return file?.choice(for: pass, shape).map { adopt($0, earlier: true) }
    }

    func note(_ choice: ConvolutionChoice) -> ConvolutionChoice {
        let (chosen, earlier) = file?.keep(choice) ?? (choice, false)
        return adopt(chosen, earlier: earlier)
    }

    /// Takes `choice` for this process, its algorithm's workspace made ready (between steps).
    private func adopt(_ choice: ConvolutionChoice, earlier: Bool) -> ConvolutionChoice {
        if choice.usesLibrary, let algorithm = choice.algorithm, algorithm.workspaceBytes > (workspace?.bytes ?? 0) {
            backend.flushStep()
            backend.check { try growWorkspace(to: algorithm.workspaceBytes) }
        }
        kept.append((choice, earlier))
        return choice
    }
}
