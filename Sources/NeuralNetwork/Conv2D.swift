import TensorCore

/// A 2-D convolution over channels-last feature maps, as im2col and one sgemm per pass.
///
/// Feature maps are N×H×W×C (channels innermost), so the im2col matrix has one row per output
/// pixel and the product `columns·Wᵀ` is already the N×Ho×Wo×O output: no transposes.
public final class Conv2D: Layer {
    /// The kernels, outputChannels×(kernelSize·kernelSize·inputChannels), each row in (ky, kx, c) order.
    public let weight: Parameter
    /// One bias per output channel (absent for bias-free convolutions).
    public let bias: Parameter?
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    private var columns = Tensor(zeros: [0])
    private var output = Tensor(zeros: [0])
    private var columnGradient = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    private var inputShape: [Int] = []
    private var hasCache = false

    /// A convolution with PyTorch's default initialisation: weight and bias `U(±1/√fan_in)`,
    /// fan_in = inputChannels·kernelSize².
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, name: String = "conv", using generator: inout SeededGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0)
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        let fanIn = inputChannels * kernelSize * kernelSize
        let bound = 1 / Float(fanIn).squareRoot()
        weight = Parameter(name: name + ".weight", value: Tensor(shape: [outputChannels, fanIn], uniformIn: -bound...bound, using: &generator))
        self.bias = bias ? Parameter(name: name + ".bias", value: Tensor(shape: [outputChannels], uniformIn: -bound...bound, using: &generator)) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }

    /// The output extent of a spatial extent.
    public func outputExtent(_ extent: Int) -> Int { (extent + 2 * padding - kernelSize) / stride + 1 }

    /// Shapes: input N×H×W×C → output N×Ho×Wo×O.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[3] == inputChannels, "Conv2D: input \(x.shape) is not N×H×W×\(inputChannels)")
        let (n, h, w) = (x.shape[0], x.shape[1], x.shape[2])
        let (ho, wo) = (outputExtent(h), outputExtent(w))
        precondition(ho > 0 && wo > 0, "Conv2D: input \(x.shape) is smaller than the kernel")
        inputShape = x.shape
        im2col(x, into: &columns)
        // Y = columns·Wᵀ   ((N·Ho·Wo)×K · K×O)
        Tensor.matmul(columns, .none, weight.value, .transposed, into: &output)
        if let bias { BiasKernels.addRows(&output, bias: bias.value) }
        output = output.reshaped([n, ho, wo, outputChannels])
        hasCache = mode == .training
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "Conv2D.backward without a training-mode forward")
        hasCache = false
        let g2 = g.reshaped([g.count / outputChannels, outputChannels])
        // db += Σ_rows G;  dW += Gᵀ·columns   (O×M · M×K)
        if let bias { BiasKernels.accumulateColumnSums(of: g2, into: &bias.gradient) }
        Tensor.matmul(g2, .transposed, columns, .none, into: &weight.gradient, beta: 1)
        guard inputGradient == .needed else { return nil }
        // dcolumns = G·W   (M×O · O×K), then scattered back onto the input pixels.
        Tensor.matmul(g2, .none, weight.value, .none, into: &columnGradient)
        col2im(columnGradient, into: &inputGradientBuffer)
        return inputGradientBuffer
    }

    /// One row per output pixel: the kernelSize×kernelSize×C patch under it (zeros outside).
    ///
    /// Shapes: x N×H×W×C → columns (N·Ho·Wo)×(k·k·C).
    func im2col(_ x: Tensor, into columns: inout Tensor) {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        columns.resize(to: [n * outputExtent(h) * outputExtent(w), kernelSize * kernelSize * c])
        x.withUnsafePointer { src in
            columns.withUnsafeMutablePointer { dst in
                let (source, target) = (UnsafeSendable(src), UnsafeSendable(UnsafePointer(dst)))
                forEachPatchSlice(n: n, h: h, w: w, c: c) { column, pixel in
                    let row = UnsafeMutablePointer(mutating: target.pointer) + column
                    if let pixel { row.update(from: source.pointer + pixel, count: c) } else { row.update(repeating: 0, count: c) }
                }
            }
        }
    }

    /// The adjoint of `im2col`: every patch row added back onto the pixels it came from.
    ///
    /// Shapes: columns (N·Ho·Wo)×(k·k·C) → dx N×H×W×C (the last input's shape).
    func col2im(_ columns: Tensor, into dx: inout Tensor) {
        let (n, h, w, c) = (inputShape[0], inputShape[1], inputShape[2], inputShape[3])
        dx.resize(to: inputShape)
        dx.fill(0)
        columns.withUnsafePointer { src in
            dx.withUnsafeMutablePointer { dst in
                let (source, target) = (UnsafeSendable(src), UnsafeSendable(UnsafePointer(dst)))
                forEachPatchSlice(n: n, h: h, w: w, c: c) { column, pixel in
                    guard let pixel else { return }
                    let (row, target) = (source.pointer + column, UnsafeMutablePointer(mutating: target.pointer) + pixel)
                    for channel in 0..<c { target[channel] += row[channel] }
                }
            }
        }
    }

    /// Visits every C-long slice of every patch row, images split between the kernel threads
    /// (an image's rows and pixels are its own, so no two threads touch the same memory):
    /// `body(offset in the columns, offset of the input pixel or nil in the padding)`.
    @inline(__always)
    private func forEachPatchSlice(n: Int, h: Int, w: Int, c: Int, _ body: @escaping @Sendable (Int, Int?) -> Void) {
        let (ho, wo, k, s, p) = (outputExtent(h), outputExtent(w), kernelSize, stride, padding)
        let rowLength = k * k * c
        Parallel.forEachChunk(count: n, grain: max(1, 16_384 / max(ho * wo * rowLength / 64, 1))) { images in
            for image in images {
                for oy in 0..<ho {
                    for ox in 0..<wo {
                        var column = ((image * ho + oy) * wo + ox) * rowLength
                        for ky in 0..<k {
                            let iy = oy * s - p + ky
                            for kx in 0..<k {
                                let ix = ox * s - p + kx
                                body(column, iy >= 0 && iy < h && ix >= 0 && ix < w ? ((image * h + iy) * w + ix) * c : nil)
                                column += c
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A pointer carried into a parallel chunk (each chunk writes a disjoint part).
struct UnsafeSendable<T>: @unchecked Sendable {
    let pointer: UnsafePointer<T>
    init(_ pointer: UnsafePointer<T>) { self.pointer = pointer }
}
