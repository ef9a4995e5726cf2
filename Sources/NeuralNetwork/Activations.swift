import TensorCore

/// A pointwise activation whose backward pass needs only its output: forward and backward
/// kernels side by side, buffers reused from batch to batch.
public class PointwiseActivation: Layer {
    private let forwardKernel: (Tensor, inout Tensor) -> Void
    private let backwardKernel: (Tensor, Tensor, inout Tensor) -> Void
    private var output = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    private var hasCache = false

    /// An activation from its kernels: `forward(x, &y)` and `backward(g, y, &dx)`.
    init(forward: @escaping (Tensor, inout Tensor) -> Void, backward: @escaping (Tensor, Tensor, inout Tensor) -> Void) {
        forwardKernel = forward
        backwardKernel = backward
    }

    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        forwardKernel(x, &output)
        hasCache = mode == .training
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "\(type(of: self)).backward without a training-mode forward")
        hasCache = false
        guard inputGradient == .needed else { return nil }
        backwardKernel(g, output, &inputGradientBuffer)
        return inputGradientBuffer
    }
}

/// Rectified linear unit, `max(x, 0)`.
public final class ReLU: PointwiseActivation {
    /// A ReLU layer.
    public init() {
        super.init(forward: { ActivationKernels.reluForward($0, into: &$1) },
                   backward: { ActivationKernels.reluBackward($0, output: $1, into: &$2) })
    }
}

/// Hyperbolic tangent.
public final class Tanh: PointwiseActivation {
    /// A tanh layer.
    public init() {
        super.init(forward: { ActivationKernels.tanhForward($0, into: &$1) },
                   backward: { ActivationKernels.tanhBackward($0, output: $1, into: &$2) })
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
