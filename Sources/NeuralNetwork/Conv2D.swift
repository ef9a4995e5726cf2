import TensorCore

/// A 2-D convolution over channels-last feature maps (oneDNN's kernels, see `ConvolutionKernel`).
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
    private let kernel: ConvolutionKernel
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    /// The last training-mode input (backward needs it for dW), released by backward.
    private var input: Tensor?

    /// A convolution initialised by `initialisation` (PyTorch's default: weight and bias
    /// `U(±1/√fan_in)`), fan_in = inputChannels·kernelSize².
    public init(inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, initialisation: WeightInit = .pytorch, name: String = "conv", using generator: inout SeededGenerator) {
        precondition(inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && padding >= 0)
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        kernel = ConvolutionKernel(inputChannels: inputChannels, outputChannels: outputChannels, kernelSize: kernelSize,
                                   stride: stride, padding: padding)
        let fanIn = inputChannels * kernelSize * kernelSize
        weight = Parameter(name: name + ".weight", value: initialisation.weight([outputChannels, fanIn], fanIn: fanIn, using: &generator))
        self.bias = bias ? Parameter(name: name + ".bias", value: initialisation.bias(outputChannels, fanIn: fanIn, using: &generator)) : nil
    }

    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    public var state: [StateTensor] {
        [StateTensor(weight, layout: .convolution(inputChannels: inputChannels, kernelSize: kernelSize))] + (bias.map { [StateTensor($0)] } ?? [])
    }

    /// The output extent of a spatial extent.
    public func outputExtent(_ extent: Int) -> Int { kernel.outputExtent(extent) }

    /// Shapes: input N×H×W×C → output N×Ho×Wo×O.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.shape.count == 4 && x.shape[3] == inputChannels, "Conv2D: input \(x.shape) is not N×H×W×\(inputChannels)")
        // Y = X ⊛ W (+ b)
        kernel.forward(x, weights: weight.value, into: &output)
        if let bias { BiasKernels.addRows(&output, bias: bias.value) }
        input = mode == .training ? x : nil
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        guard let x = input else { preconditionFailure("Conv2D.backward without a training-mode forward") }
        input = nil
        // db += Σ_pixels G;  dW += Xᵀ ⊛ G
        if let bias { BiasKernels.accumulateColumnSums(of: g.reshaped([g.count / outputChannels, outputChannels]), into: &bias.gradient) }
        kernel.backwardWeights(x, g, accumulatingInto: &weight.gradient)
        guard inputGradient == .needed else { return nil }
        // dX = G ⊛ᵀ W
        kernel.backwardData(g, weights: weight.value, inputShape: x.shape, into: &inputGradientBuffer)
        return inputGradientBuffer
    }
}
