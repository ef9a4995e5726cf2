import TensorCore

/// One call a training step queues on the card.
enum StepCall {
    case kernel(DeviceKernel, threads: Int, [KernelArgument])
    case gemm(MatrixProduct)
    case copy(source: UInt64, destination: UInt64, bytes: Int)
    case convolution(Convolution)

    /// A cuBLAS product's arguments (`DeviceBackend.gemm`).
    struct MatrixProduct: Equatable {
        var transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int
        var b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int
    }

    /// A cuDNN convolution's arguments (`CUDNN.run`): the pass writes one of x, w and y.
    struct Convolution: Equatable {
        var pass: ConvolutionPass, shape: ConvolutionShape, algorithm: Int32, x: UInt64, w: UInt64, y: UInt64
        var workspace: UInt64, workspaceBytes: Int
    }

    /// Whether a graph built from `self` can run `other`: the same kernel over the same threads
    /// (its arguments may differ: a graph patches them), or the same product, copy or
    /// convolution exactly.
    func hasShape(of other: StepCall) -> Bool {
        switch (self, other) {
        case let (.kernel(kernel, threads, _), .kernel(otherKernel, otherThreads, _)): kernel == otherKernel && threads == otherThreads
        case let (.gemm(product), .gemm(otherProduct)): product == otherProduct
        case let (.copy(source, destination, bytes), .copy(otherSource, otherDestination, otherBytes)):
            source == otherSource && destination == otherDestination && bytes == otherBytes
        case let (.convolution(convolution), .convolution(otherConvolution)): convolution == otherConvolution
        default: false
        }
    }
}

extension [StepCall] {
    /// Whether a graph built from these calls can run `other`'s: the same calls in order, up to
    /// kernel arguments.
    func hasShape(of other: [StepCall]) -> Bool {
        count == other.count && zip(self, other).allSatisfy { $0.hasShape(of: $1) }
    }
}

/// A training step as one CUDA graph, replayed for every step of the same shape: its kernels as
/// kernel nodes, its cuBLAS products, cuDNN convolutions and copies as child graphs captured
/// from the stream, each node after the one before, as the stream ran them. A step's kernel arguments that differ from
/// the graph's (the batch's offset in the epoch order, a draw's key, Adam's bias corrections) are
/// patched into the executable graph before it launches; nothing else may differ (`matches`).
///
/// NOTE: the driver launches one graph for the tens of kernels of a step, which is what takes
/// the per-kernel launch cost off a small batch's step.
final class StepGraph {
    private let backend: CUDABackend
    private var calls: [StepCall]
    /// The kernel node of each call, nil for a child graph.
    private var nodes: [OpaquePointer?] = []
    private var graph: OpaquePointer?
    private var executable: OpaquePointer?

    /// The graph of `calls`, instantiated.
    init(_ calls: [StepCall], on backend: CUDABackend) throws {
        self.backend = backend
        self.calls = calls
        let (cuda, driver) = (backend.cuda, backend.cuda.driver)
        try driver.check(driver.cuGraphCreate(&graph, 0), "cuGraphCreate")
        var previous: OpaquePointer?
        for call in calls {
            var node: OpaquePointer?
            switch call {
            case let .kernel(kernel, threads, arguments):
                try cuda.withMarshalled(arguments) { parameters in
                    var parameters = backend.nodeParameters(kernel, threads: threads, parameters)
                    try withDependency(previous) { dependencies, count in
                        try driver.check(driver.cuGraphAddKernelNode(&node, graph, dependencies, count, &parameters), "cuGraphAddKernelNode_v2 (\(kernel.rawValue))")
                    }
                }
                nodes.append(node)
            case .gemm, .copy, .convolution:
                let child = try cuda.capture { try backend.issue(call) }
                defer { _ = driver.cuGraphDestroy(child) }
                try withDependency(previous) { try driver.check(driver.cuGraphAddChildGraphNode(&node, graph, $0, $1, child), "cuGraphAddChildGraphNode") }
                nodes.append(nil)
            }
            previous = node
        }
        try driver.check(driver.cuGraphInstantiateWithFlags(&executable, graph, 0), "cuGraphInstantiateWithFlags")
    }

    deinit {
        let driver = backend.cuda.driver
        if let executable { _ = driver.cuGraphExecDestroy(executable) }
        if let graph { _ = driver.cuGraphDestroy(graph) }
    }

    private func withDependency(_ node: OpaquePointer?, _ body: (UnsafePointer<OpaquePointer?>?, Int) throws -> Void) throws {
        guard node != nil else { return try body(nil, 0) }
        var dependency = node
        try withUnsafePointer(to: &dependency) { try body($0, 1) }
    }

    /// Whether this graph can run a step of `calls`.
    func matches(_ calls: [StepCall]) -> Bool { self.calls.hasShape(of: calls) }

    /// Runs a step of `calls` (which `matches`): patches the kernel nodes whose arguments
    /// differ, then launches the graph on the stream.
    func launch(_ calls: [StepCall]) throws {
        let driver = backend.cuda.driver
        for index in calls.indices {
            guard case let .kernel(kernel, threads, arguments) = calls[index], case let .kernel(_, _, current) = self.calls[index],
                  arguments != current else { continue }
            try backend.cuda.withMarshalled(arguments) { parameters in
                var parameters = backend.nodeParameters(kernel, threads: threads, parameters)
                try driver.check(driver.cuGraphExecKernelNodeSetParams(executable, nodes[index], &parameters),
                                 "cuGraphExecKernelNodeSetParams_v2 (\(kernel.rawValue))")
            }
            self.calls[index] = calls[index]
        }
        try driver.check(driver.cuGraphLaunch(executable, backend.cuda.stream), "cuGraphLaunch")
    }
}
