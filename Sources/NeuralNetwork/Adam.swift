import Foundation
import TensorCore

/// Adam with PyTorch's update, with either L2 weight decay (`Adam`) or decoupled weight decay
/// (`AdamW`): one fused pass per parameter.
///
/// `m ← m + (1−β1)(g − m); v ← β2·v + (1−β2)·g²; w ← w − (lr/(1−β1ᵗ))·m/(√v/√(1−β2ᵗ) + ε)`.
/// - Paper: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015;
///   Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
public final class Adam: Optimizer {
    /// How weight decay enters the update.
    public enum WeightDecay: Sendable, Equatable {
        /// `g ← g + λw` before the moments (PyTorch `Adam(weight_decay=λ)`).
        case l2(Float)
        /// `w ← w·(1 − lr·λ)` before the Adam step (PyTorch `AdamW`).
        case decoupled(Float)
    }

    public struct State {
        var firstMoment: Tensor
        var secondMoment: Tensor
        var steps = 0
    }

    public var learningRate: Float
    public let beta1: Float
    public let beta2: Float
    public let epsilon: Float
    public let weightDecay: WeightDecay
    public var states: [ObjectIdentifier: State] = [:]

    /// Adam with L2 weight decay (PyTorch's defaults: lr 1e-3, β 0.9/0.999, ε 1e-8, λ 0).
    public convenience init(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8, weightDecay: Float = 0) {
        self.init(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                  decay: .l2(weightDecay))
    }

    /// Adam with the given kind of weight decay.
    public init(learningRate: Float, beta1: Float, beta2: Float, epsilon: Float, decay: WeightDecay) {
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = decay
    }

    public func makeState(for parameter: Parameter) -> State {
        State(firstMoment: Tensor(zeros: parameter.value.shape, on: parameter.value.backend),
              secondMoment: Tensor(zeros: parameter.value.shape, on: parameter.value.backend))
    }

    public func beginStep(_ state: inout State) { state.steps += 1 }

    public func update(_ parameter: Parameter, state: inout State) {
        let t = Float(state.steps)
        let (b1, b2, eps, lr) = (beta1, beta2, epsilon, learningRate)
        let stepSize = lr / (1 - Foundation.pow(b1, t))
        let correction2 = (1 - Foundation.pow(b2, t)).squareRoot()
        let (l2, shrink): (Float, Float) = switch weightDecay {
        case .l2(let lambda): (lambda, 1)
        case .decoupled(let lambda): (0, 1 - lr * lambda)
        }
        OptimizerKernels.adam(&parameter.value, gradient: &parameter.gradient, firstMoment: &state.firstMoment,
                              secondMoment: &state.secondMoment,
                              .init(beta1: b1, beta2: b2, epsilon: eps, stepSize: stepSize, correction2: correction2, l2: l2, shrink: shrink))
    }
}

/// Adam with decoupled weight decay (PyTorch defaults: lr 1e-3, β 0.9/0.999, ε 1e-8, λ 1e-2).
/// - Paper: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
public func AdamW(learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                  epsilon: Float = 1e-8, weightDecay: Float = 1e-2) -> Adam {
    Adam(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
         decay: .decoupled(weightDecay))
}
