import TensorCore

/// Stochastic gradient descent with momentum and L2 weight decay (PyTorch semantics).
///
/// `g ← g + λw; buf ← μ·buf + (1−τ)·g` (`buf = g` on the first step); `w ← w − lr·buf`
/// (Nesterov: `w ← w − lr·(g + μ·buf)`).
/// - Paper: Sutskever et al., "On the importance of initialization and momentum in deep learning", ICML 2013.
public final class SGD: Optimizer {
    public struct State {
        var momentumBuffer: Tensor?
        var steps = 0
    }

    public var learningRate: Float
    public let momentum: Float
    public let dampening: Float
    public let weightDecay: Float
    public let nesterov: Bool
    public var states: [ObjectIdentifier: State] = [:]

    /// SGD with PyTorch's defaults (no momentum, no decay).
    public init(learningRate: Float, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
    }

    public func makeState(for parameter: Parameter) -> State {
        State(momentumBuffer: momentum != 0 ? Tensor(zeros: parameter.value.shape, on: parameter.value.backend) : nil)
    }

    public func beginStep(_ state: inout State) { state.steps += 1 }

    public func update(_ parameter: Parameter, state: inout State) {
        let (lr, mu, wd) = (learningRate, momentum, weightDecay)
        let first = state.steps == 1
        let keep = first ? Float(0) : mu
        let add = first ? Float(1) : 1 - dampening
        let nesterov = self.nesterov
        OptimizerKernels.sgd(&parameter.value, gradient: &parameter.gradient, momentumBuffer: &state.momentumBuffer, learningRate: lr,
                             momentum: mu, decay: wd, keep: keep, add: add, nesterov: nesterov)
    }
}
