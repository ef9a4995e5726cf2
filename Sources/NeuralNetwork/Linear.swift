import TensorCore

/// A dense layer `Y = X·Wᵀ + b` with PyTorch's layout (`W` is outputSize×inputSize).
public final class Linear: Layer {
    /// The weight, outputSize×inputSize.
    public let weight: Parameter
    /// The bias, outputSize (absent for bias-free layers).
    public let bias: Parameter?
    /// The H×W×C map whose flattened (channels-last) rows this layer reads, if any: saved
    /// models reorder its weight's columns to PyTorch's flattened C×H×W.
    public var inputMap: (height: Int, width: Int, channels: Int)?
    private var input: Tensor?
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])

    /// A layer initialised by `initialisation` (PyTorch's default: `W, b ~ U(±1/√inputSize)`).
    public init(inputSize: Int, outputSize: Int, bias: Bool = true, initialisation: WeightInit = .pytorch, name: String = "linear",
                using generator: inout SeededGenerator) {
        weight = Parameter(name: name + ".weight", value: initialisation.weight([outputSize, inputSize], fanIn: inputSize, using: &generator))
        self.bias = bias
            ? Parameter(name: name + ".bias", value: initialisation.bias(outputSize, fanIn: inputSize, using: &generator))
            : nil
    }

    /// A layer with the given weight (outputSize×inputSize) and optional bias.
    public init(weight: Tensor, bias: Tensor?, name: String = "linear") {
        self.weight = Parameter(name: name + ".weight", value: weight)
        self.bias = bias.map { Parameter(name: name + ".bias", value: $0) }
    }

    public var inputSize: Int { weight.value.shape[1] }
    public var outputSize: Int { weight.value.shape[0] }
    public var parameters: [Parameter] { bias.map { [weight, $0] } ?? [weight] }
    public var state: [StateTensor] {
        let layout = inputMap.map { StateTensor.Layout.channelsLastColumns(height: $0.height, width: $0.width, channels: $0.channels) }
        return [StateTensor(weight, layout: layout ?? .same)] + (bias.map { [StateTensor($0)] } ?? [])
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        precondition(x.columns == inputSize, "Linear: input \(x.shape) has \(x.columns) features, expected \(inputSize)")
        // Y = X·Wᵀ   (N×in · in×out)
        Tensor.matmul(x, .none, weight.value, .transposed, into: &output)
        if let bias { BiasKernels.addRows(&output, bias: bias.value) }
        input = mode == .training ? x : nil
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        guard let x = input else { preconditionFailure("Linear.backward without a training-mode forward") }
        input = nil
        // dX = G·W   (N×out · out×in)
        var result: Tensor?
        if inputGradient == .needed {
            Tensor.matmul(g, .none, weight.value, .none, into: &inputGradientBuffer)
            result = inputGradientBuffer
        }
        // db += Σ_rows G
        if let bias { BiasKernels.accumulateColumnSums(of: g, into: &bias.gradient) }
        // dW += Gᵀ·X   (out×N · N×in)
        Tensor.matmul(g, .transposed, x, .none, into: &weight.gradient, beta: 1)
        return result
    }
}
