import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// Feedback Alignment: the backward pass runs BP's chain through fixed random matrices `B_ℓ`
/// (the shape of `W_ℓ`) in place of the forward weights,
///
///     δ_{L+1} = e = (softmax(z) − Y)/N,   δ_ℓ = (δ_{ℓ+1}·B_{ℓ+1}) ⊙ f'(a_ℓ),   ∂W_ℓ = δ_ℓᵀ·h_{ℓ−1},
///
/// the output layer keeping its exact gradient. The B_ℓ come from their own "feedback" stream and
/// never change (no optimizer or decay touches them). `fa.feedback=symmetric` uses `B_ℓ = W_ℓ`:
/// then this is BP, with BP's defaults and initialisation, loss for loss.
/// - Paper: Lillicrap, Cownden, Tweed & Akerman, "Random synaptic feedback weights support error
///   backpropagation for deep learning", Nature Communications 7:13276, 2016.
public final class FeedbackAlignment: RegisteredAlgorithm {
    /// Where the backward pass's matrices come from.
    public enum Feedback: String, Sendable {
        /// Fixed random matrices (Feedback Alignment).
        case random
        /// The forward weights themselves: backpropagation.
        case symmetric
    }

    /// How the fixed matrices are drawn.
    public enum FeedbackInit: String, Sendable {
        /// `U(±√(6/(d_in+d_out)))`, biotorch's default.
        case xavier
        /// `U(±√(6/d_in))`, the DRTP repository's FA.
        case kaiming
        /// `U(±1/√d_in)`, Xiao et al.'s.
        case torch

        func bound(fanIn: Int, fanOut: Int) -> Float {
            switch self {
            case .xavier: (6 / Float(fanIn + fanOut)).squareRoot()
            case .kaiming: (6 / Float(fanIn)).squareRoot()
            case .torch: 1 / Float(fanIn).squareRoot()
            }
        }
    }

    public static let id = "fa"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("fa", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    /// Defaults: BP's (AdamW, its rate and decay), so that symmetric feedback is BP.
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 2e-4, "AdamW learning rate").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 3e-5, "AdamW decoupled weight decay (never applied to B)").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .choice("feedback", "random", of: ["random", "symmetric"], "backward matrices: fixed random B, or W itself (then it is BP)"),
        .choice("feedback_init", "xavier", of: ["xavier", "kaiming", "torch"],
                "B ~ U(±√(6/(in+out))), U(±√(6/in)) or U(±1/√in)"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    let model: FeedbackNetwork
    /// B_ℓ for every dense layer but the first (index-aligned with `model.linears`); nil: symmetric.
    private(set) var feedback: [Tensor]?
    private let optimizer: Adam

    init(model: FeedbackNetwork, feedback: [Tensor]?, hyperparameters h: Hyperparameters) {
        self.model = model
        self.feedback = feedback
        optimizer = AdamW(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
    }

    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> FeedbackAlignment {
        let model = try FeedbackNetwork(architecture: architecture, inputShape: inputShape, classCount: classCount, seed: seed, algorithm: id)
        guard h.choice("feedback") as Feedback == .random else { return FeedbackAlignment(model: model, feedback: nil, hyperparameters: h) }
        let initialisation: FeedbackInit = h.choice("feedback_init")
        var generator = SeededGenerator(seed: seed, stream: "feedback")
        let feedback = model.linears.map { linear in
            let (fanOut, fanIn) = (linear.outputSize, linear.inputSize)
            let bound = initialisation.bound(fanIn: fanIn, fanOut: fanOut)
            return Tensor(shape: [fanOut, fanIn], uniformIn: -bound...bound, using: &generator)
        }
        return FeedbackAlignment(model: model, feedback: feedback, hyperparameters: h)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { model.trainable }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        model.accumulateGradients(batch, loss: loss) { index in feedback?[index] ?? model.linears[index].weight.value }
        optimizer.step(model.trainable)
    }

    /// The parameters and the fixed feedback matrices.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        feedback = feedback?.map { $0.moved(to: backend) }
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) { model.validate(batch, into: sums) }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }
}
