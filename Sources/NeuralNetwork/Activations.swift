import TensorCore

/// Rectified linear unit, `max(x, 0)`.
public final class ReLU: Layer {
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    private var hasCache = false

    /// A ReLU layer.
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        ActivationKernels.reluForward(x, into: &output)
        hasCache = mode == .training
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "ReLU.backward without a training-mode forward")
        hasCache = false
        guard inputGradient == .needed else { return nil }
        ActivationKernels.reluBackward(g, output: output, into: &inputGradientBuffer)
        return inputGradientBuffer
    }
}

/// Hyperbolic tangent.
public final class Tanh: Layer {
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    private var hasCache = false

    /// A tanh layer.
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        ActivationKernels.tanhForward(x, into: &output)
        hasCache = mode == .training
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "Tanh.backward without a training-mode forward")
        hasCache = false
        guard inputGradient == .needed else { return nil }
        ActivationKernels.tanhBackward(g, output: output, into: &inputGradientBuffer)
        return inputGradientBuffer
    }
}

/// Flattens every sample to one row: N×d1×d2×… → N×(d1·d2·…). Shares storage, copies nothing.
public final class Flatten: Layer {
    private var inputShape: [Int] = []

    /// A flatten layer.
    public init() {}

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .training { inputShape = x.shape }
        return x.reshaped([x.rows, x.columns])
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        guard inputGradient == .needed else { return nil }
        return g.reshaped(inputShape)
    }
}
