/// A device other than the CPU that holds tensors and runs TensorCore's primitives on them (an
/// NVIDIA GPU, through the CUDA module). TensorCore's primitives check where their operands live
/// and, for a device tensor, launch the kernel of the same name (`DeviceKernel`) or call `gemm`;
/// the algorithms above never know which device runs them.
///
/// Every call is queued on the device's one stream in order; only `download` waits. A failure of
/// the device mid-run (a lost card, a launch error) cannot be recovered from, so the backend
/// stops the process with one line naming the call and the driver's reason.
public protocol DeviceBackend: AnyObject, Sendable {
    /// The device, e.g. `cuda:0`.
    var device: Device { get }
    /// Device memory of at least `bytes`, from the backend's caching allocator.
    func allocate(bytes: Int) -> DeviceBlock
    /// Gives a block back to the allocator.
    func release(_ block: DeviceBlock)
    /// Host → device, ordered after the work queued before it.
    func upload(_ source: UnsafeRawPointer, bytes: Int, to address: UInt64)
    /// Device → host, after the work queued before it (waits).
    func download(from address: UInt64, bytes: Int, to destination: UnsafeMutableRawPointer)
    /// Device → device.
    func copy(from source: UInt64, to destination: UInt64, bytes: Int)
    /// Launches `kernel` with one thread per element of `threads`.
    func launch(_ kernel: DeviceKernel, threads: Int, _ arguments: [KernelArgument])
    /// Row-major `C ← α·op(A)·op(B) + β·C` on device addresses (`lda`, `ldb`, `ldc`: row lengths as stored).
    ///
    /// Shapes: op(A) m×k, op(B) k×n, C m×n.
    func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
              b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int)
    /// Bytes the device can still give tensors (free memory and cached blocks).
    var freeBytes: Int { get }
    /// The most bytes of tensors live at once on the device since the last `resetPeak()`.
    var peakBytes: Int { get }
    /// Starts a new peak window at the bytes live now.
    func resetPeak()
    /// 16 bytes of device memory for the sums a reduction kernel returns to the host (a double
    /// and a 32-bit count), owned by the backend.
    var reductionSlots: UInt64 { get }
    /// Runs `body`, one training step, whose calls the backend may queue as one unit (a CUDA
    /// graph) when it ends; by default they are queued as they come.
    func step(_ body: () -> Void)
    /// The device's convolution library (cuDNN on an NVIDIA GPU), nil when it has none or when
    /// the user asked for the lowering: then `ConvolutionKernel` lowers every convolution to
    /// im2col and a matrix product.
    var convolutionLibrary: (any ConvolutionLibrary)? { get }
    /// The device's milliseconds for the calls of `body` (its own clock: the median of five runs
    /// after one to warm up); the work queued before runs first and is not counted. Waits.
    func milliseconds(_ body: () -> Void) -> Double
}

extension DeviceBackend {
    public func step(_ body: () -> Void) { body() }
}

/// Device memory handed out by a backend: its address and the bytes its size class holds.
public struct DeviceBlock: Sendable, Equatable {
    public let address: UInt64
    public let bytes: Int

    /// A block at `address` of `bytes`.
    public init(address: UInt64, bytes: Int) {
        self.address = address
        self.bytes = bytes
    }
}

/// One argument of a kernel launch, as the kernel's C signature declares it.
public enum KernelArgument: Sendable, Equatable {
    /// A device address (`float*`, `double*`, …).
    case pointer(UInt64)
    case int32(Int32)
    case int64(Int64)
    case float32(Float)
}

/// The device kernels TensorCore launches, by their `extern "C"` names in
/// `Sources/CUDA/Kernels/*.cu` (a test checks that the two lists agree).
public enum DeviceKernel: String, CaseIterable, Sendable {
    // elementwise.cu
    case addScaled = "add_scaled", addScaledByScalar = "add_scaled_by_scalar", sumInOrder = "sum_in_order"
    case fill, scale, multiply, difference, assignSigns = "assign_signs", rowDots = "row_dots", scaleRows = "scale_rows"
    case addBiasRows = "add_bias_rows", accumulateColumnSums = "accumulate_column_sums"
    case reluForward = "relu_forward", reluBackward = "relu_backward", tanhForward = "tanh_forward", tanhBackward = "tanh_backward"
    // losses.cu
    case softmaxCrossEntropy = "softmax_cross_entropy", squaredNormLoss = "squared_norm_loss", candidateLoss = "candidate_loss"
    case blendColumnMeans = "blend_column_means", addCentered = "add_centered"
    case squaredError = "squared_error", sparsemaxRows = "sparsemax_rows", sparsemaxLoss = "sparsemax_loss", addScaledSum = "add_scaled_sum"
    case addCount = "add_count"
    // optimizers.cu
    case adamStep = "adam_step", sgdStep = "sgd_step"
    // rows.cu
    case gatherRows = "gather_rows", addToRows = "add_to_rows", repeatRows = "repeat_rows", setColumns = "set_columns"
    case setLeadingOneHot = "set_leading_onehot", setBlockOneHot = "set_block_onehot", fillLeading = "fill_leading", addTransposed = "add_transposed"
    case countArgmaxMatches = "count_argmax_matches", softmaxRows = "softmax_rows", rowSquaredSums = "row_squared_sums"
    case normalizeRows = "normalize_rows"
    // convolution.cu
    case im2col, col2im, maxPoolForward = "max_pool_forward", maxPoolBackward = "max_pool_backward"
    case channelsLast = "channels_last", channelsFirst = "channels_first"
    case batchNormStatistics = "batch_norm_statistics", batchNormInference = "batch_norm_inference", batchNormForward = "batch_norm_forward"
    case batchNormBackwardSums = "batch_norm_backward_sums", batchNormBackward = "batch_norm_backward", channelMoments = "channel_moments"
    // random.cu
    case uniformFill = "uniform_fill", dropoutMask = "dropout_mask", normalFill = "normal_fill", negativeLabels = "negative_labels"
    case cropFlip = "crop_flip"
}

extension DeviceBackend {
    /// Where a reduction kernel adds its sum (a double) and its count (a 32-bit unsigned).
    var sumSlot: KernelArgument { .pointer(reductionSlots) }
    var countSlot: KernelArgument { .pointer(reductionSlots + 8) }

    /// Zeroes the reduction slots, runs `kernel` (whose arguments name `sumSlot` and
    /// `countSlot` where it adds its results) and returns both.
    func reduce(_ kernel: DeviceKernel, threads: Int, _ arguments: [KernelArgument]) -> (sum: Double, count: Int) {
        zeroReductionSlots()
        launch(kernel, threads: threads, arguments)
        var slots: (Double, UInt32, UInt32) = (0, 0, 0)
        withUnsafeMutableBytes(of: &slots) { download(from: reductionSlots, bytes: 16, to: $0.baseAddress!) }
        return (slots.0, Int(slots.1))
    }

    /// Zeroes the slots by a launch, not a copy: nothing waits.
    private func zeroReductionSlots() {
        launch(.fill, threads: 4, [.pointer(reductionSlots), .int64(4), .float32(0)])
    }

    /// `reduce` without the wait: adds `scale ×` the kernel's sum to `total`'s part on this
    /// device and its count to `counts`'s, queued after the kernel.
    func reduce(_ kernel: DeviceKernel, threads: Int, _ arguments: [KernelArgument], adding scale: Double = 1, to total: LossSum?,
                countingInto counts: LossSum? = nil) {
        zeroReductionSlots()
        launch(kernel, threads: threads, arguments)
        if let total { launch(.addScaledSum, threads: 1, [.pointer(reductionSlots), .pointer(total.address(on: self)), .float32(Float(scale))]) }
        if let counts { launch(.addCount, threads: 1, [.pointer(reductionSlots + 8), .pointer(counts.address(on: self))]) }
    }
}
