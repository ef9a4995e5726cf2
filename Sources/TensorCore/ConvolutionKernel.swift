import CDNNL

/// A 2-D convolution over channels-last maps, computed by oneDNN's JIT kernels (the library
/// PyTorch's CPU convolutions use) with bpfree's own layouts: maps N×H×W×C, weights
/// O×(kh·kw·C). The only door to oneDNN.
///
/// Measured side by side on the study CNN at batch 128, 2 threads (AMD EPYC, AVX-512), against
/// im2col + OpenBLAS sgemm, forward + backward ms: 1→32 on 28×28 1.0 vs 10.7, 32→128 on 14×14
/// 30.8 vs 43.6, 128→512 on 7×7 97.1 vs 119.2. The weights are reordered into oneDNN's blocked
/// layout on every call (they change every step; it costs a few µs), the weight gradient back.
///
/// On a device, each pass of each shape runs either lowered to im2col and a matrix product or
/// through the device's convolution library (cuDNN), whichever the device timed faster the first
/// time they met (`route`).
public final class ConvolutionKernel {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    /// Primitives for each input extent met so far (batch sizes differ between training,
    /// validation and the last partial batch; creating one JIT-compiles it, so they are kept).
    private var plans: [Extent: Plan] = [:]
    /// On a device: the input's im2col rows and their gradient, reused from call to call.
    private var columns = Tensor(zeros: [0])
    private var columnGradient = Tensor(zeros: [0])

    struct Extent: Hashable { let n, h, w: Int }

    /// A kernel of the given geometry.
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int, padding: Int) {
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
    }

    /// The output extent of a spatial extent.
    public func outputExtent(_ extent: Int) -> Int { (extent + 2 * padding - kernelSize) / stride + 1 }

    /// The convolution library and the instruction set its kernels dispatch to, e.g.
    /// "oneDNN 2.6.3 (avx512_core_bf16)".
    public static var library: String {
        let version = dnnl_version().pointee
        let isas: [(dnnl_cpu_isa_t, String)] = [
            (dnnl_cpu_isa_avx512_core_amx, "avx512_core_amx"), (dnnl_cpu_isa_avx512_core_bf16, "avx512_core_bf16"),
            (dnnl_cpu_isa_avx512_core_vnni, "avx512_core_vnni"), (dnnl_cpu_isa_avx512_core, "avx512_core"),
            (dnnl_cpu_isa_avx2_vnni, "avx2_vnni"), (dnnl_cpu_isa_avx2, "avx2"), (dnnl_cpu_isa_avx, "avx"), (dnnl_cpu_isa_sse41, "sse41"),
        ]
        let effective = dnnl_get_effective_cpu_isa()
        let isa = isas.first { $0.0 == effective }?.1 ?? "isa \(effective.rawValue)"
        return "oneDNN \(version.major).\(version.minor).\(version.patch) (\(isa))"
    }

    /// The number of threads oneDNN's kernels use (set with BLAS's by `Parallel.threads`).
    static func setThreads(_ count: Int) { omp_set_num_threads(Int32(count)) }

    /// `y = x ⊛ W`; counts 2·N·Ho·Wo·O·k²·C FLOPs.
    ///
    /// Shapes: x N×H×W×C, weights O×(k·k·C) → y N×Ho×Wo×O.
    public func forward(_ x: Tensor, weights: Tensor, into y: inout Tensor) {
        if let device = x.backend {
            let shape = self.shape(of: x.shape)
            guard case let .library(library, algorithm) = route(.forward, shape, on: device) else { return lowerForward(x, weights: weights, into: &y) }
            y.resize(to: [shape.batch, shape.outputHeight, shape.outputWidth, outputChannels], on: device)
            OperationCounter.addFLOPs(shape.flops)
            return library.run(.forward, shape, algorithm, x: x.address, w: weights.address, y: y.mutableAddress())
        }
        let plan = self.plan(for: x.shape)
        y.resize(to: [plan.extent.n, outputExtent(plan.extent.h), outputExtent(plan.extent.w), outputChannels])
        OperationCounter.addFLOPs(plan.flops)
        weights.withUnsafePointer { plan.forwardWeights.load(from: $0, stream: plan.stream) }
        x.withUnsafePointer { xp in
            y.withUnsafeMutablePointer { yp in
                plan.execute(plan.forward, plan.forwardArguments, source: UnsafeMutableRawPointer(mutating: xp),
                             destination: UnsafeMutableRawPointer(yp))
            }
        }
    }

    /// `dx = g ⊛ᵀ W` (the input gradient); counts as many FLOPs as the forward pass.
    ///
    /// Shapes: g N×Ho×Wo×O (of the input `shape`), weights O×(k·k·C) → dx N×H×W×C.
    public func backwardData(_ g: Tensor, weights: Tensor, inputShape shape: [Int], into dx: inout Tensor) {
        if let device = g.backend {
            let convolution = self.shape(of: shape)
            guard case let .library(library, algorithm) = route(.backwardData, convolution, on: device) else {
                return lowerBackwardData(g, weights: weights, inputShape: shape, into: &dx)
            }
            dx.resize(to: shape, on: device)
            OperationCounter.addFLOPs(convolution.flops)
            return library.run(.backwardData, convolution, algorithm, x: dx.mutableAddress(), w: weights.address, y: g.address)
        }
        let plan = self.plan(for: shape)
        let (primitive, arguments) = plan.backwardData()
        dx.resize(to: shape)
        OperationCounter.addFLOPs(plan.flops)
        weights.withUnsafePointer { plan.backwardWeightsLayout.load(from: $0, stream: plan.stream) }
        g.withUnsafePointer { gp in
            dx.withUnsafeMutablePointer { dp in
                plan.execute(primitive, arguments, source: UnsafeMutableRawPointer(dp), destination: UnsafeMutableRawPointer(mutating: gp))
            }
        }
    }

    /// `dW += xᵀ ⊛ g` (the weight gradient, accumulated); counts as many FLOPs as the forward pass.
    ///
    /// Shapes: x N×H×W×C, g N×Ho×Wo×O, dW O×(k·k·C).
    public func backwardWeights(_ x: Tensor, _ g: Tensor, accumulatingInto dW: inout Tensor) {
        if let device = x.backend {
            let shape = self.shape(of: x.shape)
            guard case let .library(library, algorithm) = route(.backwardWeights, shape, on: device) else {
                return lowerBackwardWeights(x, g, accumulatingInto: &dW)
            }
            OperationCounter.addFLOPs(shape.flops)
            return library.run(.backwardWeights, shape, algorithm, x: x.address, w: dW.mutableAddress(), y: g.address)
        }
        let plan = self.plan(for: x.shape)
        let (primitive, arguments) = plan.backwardWeights()
        OperationCounter.addFLOPs(plan.flops)
        x.withUnsafePointer { xp in
            g.withUnsafePointer { gp in
                plan.execute(primitive, arguments, source: UnsafeMutableRawPointer(mutating: xp),
                             destination: UnsafeMutableRawPointer(mutating: gp))
            }
        }
        dW.withUnsafeMutablePointer { plan.weightGradient.accumulate(into: $0, stream: plan.stream) }
    }

    // MARK: On a device

    /// How a pass runs on a device: lowered to im2col and a matrix product, or by the device's library.
    enum Route {
        case lowered
        case library(any ConvolutionLibrary, ConvolutionAlgorithm)
    }

    /// The convolution of an input of `shape` (N×H×W×C).
    private func shape(of shape: [Int]) -> ConvolutionShape {
        precondition(shape.count == 4 && shape[3] == inputChannels, "ConvolutionKernel: input \(shape) is not N×H×W×\(inputChannels)")
        return ConvolutionShape(batch: shape[0], height: shape[1], width: shape[2], inputChannels: inputChannels, outputChannels: outputChannels,
                                kernelSize: kernelSize, stride: stride, padding: padding)
    }

    /// How `pass` over `shape` runs on `device`: as chosen the first time the device met them
    /// (uncounted: the choice is not part of the work).
    private func route(_ pass: ConvolutionPass, _ shape: ConvolutionShape, on device: any DeviceBackend) -> Route {
        guard let library = device.convolutionLibrary else { return .lowered }
        let choice = library.choice(for: pass, shape) ?? OperationCounter.uncounted { choose(pass, shape, on: device, library) }
        return choice.usesLibrary ? .library(library, choice.algorithm!) : .lowered
    }

    /// The device library's fastest algorithm for `pass` when it is faster than the lowering
    /// (both timed by the device on the same drawn operands: never on zeros), or when the user
    /// asked for the library; the lowering otherwise. The library keeps the choice (and may
    /// answer with one another process kept meanwhile).
    private func choose(_ pass: ConvolutionPass, _ shape: ConvolutionShape, on device: any DeviceBackend,
                        _ library: any ConvolutionLibrary) -> ConvolutionChoice {
        var x = Tensor(uninitialized: [shape.batch, shape.height, shape.width, inputChannels], on: device)
        var w = Tensor(uninitialized: [outputChannels, kernelSize * kernelSize * inputChannels], on: device)
        var y = Tensor(uninitialized: [shape.batch, shape.outputHeight, shape.outputWidth, outputChannels], on: device)
        x.fillUniform(in: -1...1, key: 0xC0_0001)
        w.fillUniform(in: -1...1, key: 0xC0_0002)
        y.fillUniform(in: -1...1, key: 0xC0_0003)
        let algorithm = library.fastestAlgorithm(for: pass, shape, x: x.mutableAddress(), w: w.mutableAddress(), y: y.mutableAddress())
        var choice = ConvolutionChoice(shape: shape, pass: pass, algorithm: algorithm, usesLibrary: algorithm != nil,
                                       loweredMilliseconds: nil, libraryMilliseconds: nil)
        if library.measures {
            let lowered = device.milliseconds {
                switch pass {
                case .forward: lowerForward(x, weights: w, into: &y)
                case .backwardData: lowerBackwardData(y, weights: w, inputShape: x.shape, into: &x)
                case .backwardWeights: lowerBackwardWeights(x, y, accumulatingInto: &w)
                }
            }
            let byLibrary = algorithm.map { algorithm in
                device.milliseconds { library.run(pass, shape, algorithm, x: x.mutableAddress(), w: w.mutableAddress(), y: y.mutableAddress()) }
            }
            choice = ConvolutionChoice(shape: shape, pass: pass, algorithm: algorithm, usesLibrary: byLibrary.map { $0 < lowered } ?? false,
                                       loweredMilliseconds: lowered, libraryMilliseconds: byLibrary)
        }
        return library.note(choice)
    }

    /// `y = cols(x)·Wᵀ` (N·Ho·Wo × k²C · k²C × O), channels-last out.
    private func lowerForward(_ x: Tensor, weights: Tensor, into y: inout Tensor) {
        let (n, ho, wo) = lowerToColumns(x)
        Tensor.matmul(columns, .none, weights, .transposed, into: &y)
        y = y.reshaped([n, ho, wo, outputChannels])
    }

    /// `dcols = G·W` (N·Ho·Wo × O · O × k²C), then each input sums the columns it fed.
    private func lowerBackwardData(_ g: Tensor, weights: Tensor, inputShape shape: [Int], into dx: inout Tensor) {
        let (n, h, w) = (shape[0], shape[1], shape[2])
        let (ho, wo) = (outputExtent(h), outputExtent(w))
        Tensor.matmul(g.reshaped([n * ho * wo, outputChannels]), .none, weights, .none, into: &columnGradient)
        dx.resize(to: shape, on: g.backend)
        g.backend!.launch(.col2im, threads: dx.count, [.pointer(columnGradient.address), .pointer(dx.mutableAddress())] + geometry(n, h, w, ho, wo))
    }

    /// `dW += Gᵀ·cols(x)` (O × N·Ho·Wo · N·Ho·Wo × k²C).
    private func lowerBackwardWeights(_ x: Tensor, _ g: Tensor, accumulatingInto dW: inout Tensor) {
        let (n, ho, wo) = lowerToColumns(x)
        Tensor.matmul(g.reshaped([n * ho * wo, outputChannels]), .transposed, columns, .none, into: &dW, beta: 1)
    }

    /// `columns = im2col(x)` on x's device. Shapes: x N×H×W×C → columns (N·Ho·Wo)×(k²·C).
    private func lowerToColumns(_ x: Tensor) -> (n: Int, ho: Int, wo: Int) {
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (ho, wo) = (outputExtent(h), outputExtent(w))
        columns.resize(to: [n * ho * wo, kernelSize * kernelSize * inputChannels], on: x.backend)
        x.backend!.launch(.im2col, threads: columns.count, [.pointer(x.address), .pointer(columns.mutableAddress())] + geometry(n, h, w, ho, wo))
        return (n, ho, wo)
    }

    /// The trailing arguments of im2col and col2im.
    private func geometry(_ n: Int, _ h: Int, _ w: Int, _ ho: Int, _ wo: Int) -> [KernelArgument] {
        [n, h, w, inputChannels, kernelSize, stride, padding, ho, wo].map { .int32(Int32($0)) }
    }

    private func plan(for shape: [Int]) -> Plan {
        precondition(shape.count == 4 && shape[3] == inputChannels, "ConvolutionKernel: input \(shape) is not N×H×W×\(inputChannels)")
        let extent = Extent(n: shape[0], h: shape[1], w: shape[2])
        if let plan = plans[extent] { return plan }
        precondition(outputExtent(extent.h) > 0 && outputExtent(extent.w) > 0, "ConvolutionKernel: input \(shape) is smaller than the kernel")
        let plan = Plan(kernel: self, extent: extent)
        plans[extent] = plan
        return plan
    }

    /// The primitives and memories of one input extent.
    final class Plan {
        let extent: Extent
        let flops: Int
        let stream: dnnl_stream_t
        /// User memories over bpfree's buffers (the data pointer is set on every call).
        let source: dnnl_memory_t, destination: dnnl_memory_t
        let forward: dnnl_primitive_t
        let forwardWeights: Reordered
        /// The forward primitive's arguments (the memories stay; their buffers are set per call).
        let forwardArguments: [dnnl_exec_arg_t]
        private let forwardDescriptor: dnnl_primitive_desc_t
        private var descriptors: (convolution: dnnl_convolution_desc_t, source: dnnl_memory_desc_t, destination: dnnl_memory_desc_t,
                                  anyWeights: dnnl_memory_desc_t, userWeights: dnnl_memory_desc_t, strides: [Int64], padding: [Int64])
        private var backward: (data: dnnl_primitive_t, weights: Reordered, arguments: [dnnl_exec_arg_t])?
        private var gradient: (primitive: dnnl_primitive_t, weights: Reordered, arguments: [dnnl_exec_arg_t])?

        init(kernel: ConvolutionKernel, extent: Extent) {
            self.extent = extent
            let (n, c, o, k) = (extent.n, kernel.inputChannels, kernel.outputChannels, kernel.kernelSize)
            let (ho, wo) = (kernel.outputExtent(extent.h), kernel.outputExtent(extent.w))
            flops = 2 * n * ho * wo * o * k * k * c
            var stream: dnnl_stream_t?
            check(dnnl_stream_create(&stream, DNNL.engine, dnnl_stream_default_flags.rawValue), "creating a stream")
            self.stream = stream!
            let source = DNNL.descriptor([n, c, extent.h, extent.w], dnnl_nhwc)
            let destination = DNNL.descriptor([n, o, ho, wo], dnnl_nhwc)
            let anyWeights = DNNL.descriptor([o, c, k, k], dnnl_format_tag_any)
            let userWeights = DNNL.descriptor([o, c, k, k], dnnl_ohwi)
            let strides = [Int64(kernel.stride), Int64(kernel.stride)], padding = [Int64(kernel.padding), Int64(kernel.padding)]
            var convolution = dnnl_convolution_desc_t()
            withUnsafePointer(to: source) { s in
                withUnsafePointer(to: anyWeights) { w in
                    withUnsafePointer(to: destination) { d in
                        check(dnnl_convolution_forward_desc_init(&convolution, dnnl_forward_training, dnnl_convolution_direct,
                                                                 s, w, nil, d, strides, padding, padding), "describing the convolution")
                    }
                }
            }
            descriptors = (convolution, source, destination, anyWeights, userWeights, strides, padding)
            forwardDescriptor = DNNL.primitiveDescriptor(&convolution, hint: nil)
            forward = DNNL.primitive(forwardDescriptor)
            self.source = DNNL.userMemory(source)
            self.destination = DNNL.userMemory(destination)
            forwardWeights = Reordered(user: userWeights, library: dnnl_primitive_desc_query_md(forwardDescriptor, dnnl_query_weights_md, 0).pointee,
                                       direction: .toLibrary)
            forwardArguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: self.source),
                                dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS_0, memory: forwardWeights.memory),
                                dnnl_exec_arg_t(arg: DNNL_ARG_DST_0, memory: self.destination)]
        }

        /// The input-gradient primitive and its arguments, created on first use.
        func backwardData() -> (dnnl_primitive_t, [dnnl_exec_arg_t]) {
            if backward == nil {
                let (primitive, weights) = backwardPrimitive("the input gradient", weights: dnnl_query_weights_md, direction: .toLibrary) {
                    dnnl_convolution_backward_data_desc_init($0, dnnl_convolution_direct, $1, $2, $3, $4, $5, $5)
                }
                backward = (primitive, weights, [dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_SRC_0, memory: source),
                                                 dnnl_exec_arg_t(arg: DNNL_ARG_WEIGHTS_0, memory: weights.memory),
                                                 dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST_0, memory: destination)])
            }
            return (backward!.data, backward!.arguments)
        }

        var backwardWeightsLayout: Reordered { backward!.weights }

        /// The weight-gradient primitive and its arguments, created on first use.
        func backwardWeights() -> (dnnl_primitive_t, [dnnl_exec_arg_t]) {
            if gradient == nil {
                let (primitive, weights) = backwardPrimitive("the weight gradient", weights: dnnl_query_diff_weights_md,
                                                             direction: .accumulateToUser) {
                    dnnl_convolution_backward_weights_desc_init($0, dnnl_convolution_direct, $1, $2, nil, $3, $4, $5, $5)
                }
                gradient = (primitive, weights, [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: source),
                                                 dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_DST_0, memory: destination),
                                                 dnnl_exec_arg_t(arg: DNNL_ARG_DIFF_WEIGHTS_0, memory: weights.memory)])
            }
            return (gradient!.primitive, gradient!.arguments)
        }

        var weightGradient: Reordered { gradient!.weights }

        /// A backward primitive from `describe(descriptor, source, weights (any layout), output
        /// gradient, strides, padding)`, with the reorder of its weights.
        private func backwardPrimitive(_ what: String, weights query: dnnl_query_t, direction: Reordered.Direction,
                                       _ describe: (UnsafeMutablePointer<dnnl_convolution_desc_t>, UnsafePointer<dnnl_memory_desc_t>,
                                                    UnsafePointer<dnnl_memory_desc_t>, UnsafePointer<dnnl_memory_desc_t>,
                                                    [Int64], [Int64]) -> dnnl_status_t) -> (dnnl_primitive_t, Reordered) {
            var d = dnnl_convolution_desc_t()
            withUnsafePointer(to: descriptors.source) { s in
                withUnsafePointer(to: descriptors.anyWeights) { w in
                    withUnsafePointer(to: descriptors.destination) { g in
                        check(describe(&d, s, w, g, descriptors.strides, descriptors.padding), "describing \(what)")
                    }
                }
            }
            let pd = DNNL.primitiveDescriptor(&d, hint: forwardDescriptor)
            defer { dnnl_primitive_desc_destroy(pd) }
            let weights = Reordered(user: descriptors.userWeights, library: dnnl_primitive_desc_query_md(pd, query, 0).pointee,
                                    direction: direction)
            return (DNNL.primitive(pd), weights)
        }

        /// Runs `primitive` with its stored arguments on bpfree's buffers for the input-side
        /// (`source`) and output-side (`destination`) maps; weights stay in their own memories.
        func execute(_ primitive: dnnl_primitive_t, _ arguments: [dnnl_exec_arg_t],
                     source buffer: UnsafeMutableRawPointer, destination outputSide: UnsafeMutableRawPointer) {
            check(dnnl_memory_set_data_handle(source, buffer), "setting a buffer")
            check(dnnl_memory_set_data_handle(destination, outputSide), "setting a buffer")
            check(dnnl_primitive_execute(primitive, stream, Int32(arguments.count), arguments), "running a convolution")
            check(dnnl_stream_wait(stream), "waiting for a convolution")
        }

        deinit {
            for primitive in [forward, backward?.data, gradient?.primitive].compactMap({ $0 }) { dnnl_primitive_destroy(primitive) }
            dnnl_primitive_desc_destroy(forwardDescriptor)
            dnnl_memory_destroy(source)
            dnnl_memory_destroy(destination)
            dnnl_stream_destroy(stream)
        }
    }

    /// Weights in bpfree's O×(kh·kw·C) layout and in the layout a primitive wants, with the
    /// reorder between them (none when they agree).
    final class Reordered {
        enum Direction { case toLibrary, accumulateToUser }
        let memory: dnnl_memory_t
        private let user: dnnl_memory_t
        private let reorder: dnnl_primitive_t?
        private let buffer: UnsafeMutableRawPointer?
        let direction: Direction
        /// The reorder's source and destination, in its direction.
        private var arguments: [dnnl_exec_arg_t] = []

        init(user userDescriptor: dnnl_memory_desc_t, library libraryDescriptor: dnnl_memory_desc_t, direction: Direction) {
            self.direction = direction
            user = DNNL.userMemory(userDescriptor)
            var (u, l) = (userDescriptor, libraryDescriptor)
            let same = dnnl_memory_desc_equal(&u, &l) != 0 && direction == .toLibrary
            if same {
                (memory, buffer, reorder) = (user, nil, nil)
                return
            }
            let bytes = dnnl_memory_desc_get_size(&l)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(bytes, 64), alignment: 64)
            var memory: dnnl_memory_t?
            check(dnnl_memory_create(&memory, &l, DNNL.engine, buffer), "creating a weight buffer")
            self.memory = memory!
            self.buffer = buffer
            // The gradient is added to what bpfree's buffer holds (dW +=): a reorder with a sum post-op.
            var attributes: dnnl_primitive_attr_t?
            check(dnnl_primitive_attr_create(&attributes), "creating attributes")
            defer { dnnl_primitive_attr_destroy(attributes) }
            if direction == .accumulateToUser {
                var postOps: dnnl_post_ops_t?
                check(dnnl_post_ops_create(&postOps), "creating post-ops")
                check(dnnl_post_ops_append_sum(postOps, 1), "adding a sum post-op")
                check(dnnl_primitive_attr_set_post_ops(attributes, postOps), "setting post-ops")
                dnnl_post_ops_destroy(postOps)
            }
            var pd: dnnl_primitive_desc_t?
            if direction == .toLibrary {
                check(dnnl_reorder_primitive_desc_create(&pd, &u, DNNL.engine, &l, DNNL.engine, attributes), "describing a weight reorder")
            } else {
                check(dnnl_reorder_primitive_desc_create(&pd, &l, DNNL.engine, &u, DNNL.engine, attributes), "describing a gradient reorder")
            }
            reorder = DNNL.primitive(pd!)
            dnnl_primitive_desc_destroy(pd)
            let (from, to) = direction == .toLibrary ? (user, self.memory) : (self.memory, user)
            arguments = [dnnl_exec_arg_t(arg: DNNL_ARG_SRC_0, memory: from), dnnl_exec_arg_t(arg: DNNL_ARG_DST_0, memory: to)]
        }

        /// Fills the library-layout memory from bpfree's weights.
        func load(from weights: UnsafePointer<Float>, stream: dnnl_stream_t) {
            check(dnnl_memory_set_data_handle(user, UnsafeMutableRawPointer(mutating: weights)), "setting the weights")
            guard let reorder else { return }
            run(reorder, stream: stream)
        }

        /// Adds the library-layout gradient onto bpfree's buffer.
        func accumulate(into gradient: UnsafeMutablePointer<Float>, stream: dnnl_stream_t) {
            check(dnnl_memory_set_data_handle(user, UnsafeMutableRawPointer(gradient)), "setting the gradient")
            run(reorder!, stream: stream)
        }

        private func run(_ primitive: dnnl_primitive_t, stream: dnnl_stream_t) {
            check(dnnl_primitive_execute(primitive, stream, 2, arguments), "reordering weights")
            check(dnnl_stream_wait(stream), "waiting for a reorder")
        }

        deinit {
            if let reorder { dnnl_primitive_destroy(reorder) }
            if buffer != nil { dnnl_memory_destroy(memory) }
            dnnl_memory_destroy(user)
            buffer?.deallocate()
        }
    }
}

/// oneDNN's CPU engine and descriptor helpers.
enum DNNL {
    nonisolated(unsafe) static let engine: dnnl_engine_t = {
        var engine: dnnl_engine_t?
        check(dnnl_engine_create(&engine, dnnl_cpu, 0), "creating the CPU engine")
        return engine!
    }()

    /// A plain f32 memory descriptor; `dims` in oneDNN's logical order (N, C, H, W or O, I, H, W).
    static func descriptor(_ dims: [Int], _ tag: dnnl_format_tag_t) -> dnnl_memory_desc_t {
        var descriptor = dnnl_memory_desc_t()
        check(dnnl_memory_desc_init_by_tag(&descriptor, Int32(dims.count), dims.map(Int64.init), dnnl_f32, tag), "describing \(dims)")
        return descriptor
    }

    /// A memory without a buffer of its own (bpfree's buffer is set before each call).
    static func userMemory(_ descriptor: dnnl_memory_desc_t) -> dnnl_memory_t {
        var d = descriptor, memory: dnnl_memory_t?
        check(dnnl_memory_create(&memory, &d, engine, nil), "creating a memory")
        return memory!
    }

    static func primitiveDescriptor(_ operation: UnsafeMutablePointer<dnnl_convolution_desc_t>, hint: dnnl_primitive_desc_t?) -> dnnl_primitive_desc_t {
        var pd: dnnl_primitive_desc_t?
        check(dnnl_primitive_desc_create(&pd, operation, nil, engine, hint), "choosing a convolution kernel")
        return pd!
    }

    static func primitive(_ descriptor: dnnl_primitive_desc_t) -> dnnl_primitive_t {
        var primitive: dnnl_primitive_t?
        check(dnnl_primitive_create(&primitive, descriptor), "creating a primitive")
        return primitive!
    }
}

/// oneDNN calls fail only on bad descriptors or exhausted memory: both are bpfree bugs or fatal.
private func check(_ status: dnnl_status_t, _ what: @autoclosure () -> String) {
    precondition(status == dnnl_success, "oneDNN failed \(what()) (status \(status.rawValue))")
}
