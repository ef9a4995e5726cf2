import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// Direct Random Target Projection: each hidden layer learns from the one-hot target projected
/// by a fixed random matrix, with no error signal at all; the output layer from its own error:
///
///     δh_ℓ = Y·B_ℓ / N   (a row lookup: row n is B_ℓ[y_n, :]/N),   δ_ℓ = δh_ℓ ⊙ f'(a_ℓ),
///     ∂W_ℓ = δ_ℓᵀ·h_{ℓ−1},   ∂b_ℓ = 1ᵀ·δ_ℓ,   output: the exact softmax cross-entropy gradient.
///
/// B_ℓ ∈ R^{C×d_ℓ} ~ U(±√(6/d_ℓ)) (kaiming_uniform_ of the reference), from the "feedback" stream,
/// fixed. A hidden layer's update needs only h_{ℓ−1}, a_ℓ and the labels: it never waits for the
/// output. Unlike the reference (which does not divide the hidden signal by N), the signal is
/// scaled like the mean loss's gradient; under Adam the two are the same rule.
/// - Paper: Frenkel, Lefebvre & Bol, "Learning Without Feedback: Fixed Random Learning Signals Allow
///   for Feedforward Training of Deep Neural Networks", Frontiers in Neuroscience 15:629892, 2021.
public final class DirectRandomTargetProjection: RegisteredAlgorithm {
    public static let id = "drtp"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("drtp", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-3, "Adam learning rate (1e-3 learned fastest of 1e-4, 3e-4, 1e-3 on Fashion-MNIST's validation split)")
            .searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 0, "Adam L2 weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .choice("nonlinearity", "tanh", of: ["tanh", "relu"], "hidden nonlinearity (the reference's tanh bounds the constant push)"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    let hidden: [(linear: Linear, activation: PointwiseActivation)]
    let output: Linear
    /// B_ℓ, C×d_ℓ, one per hidden layer.
    var feedback: [Tensor]
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()
    private let trainable: [Parameter]
    private var hiddenSignal = Tensor(zeros: [0])

    init(hidden: [(linear: Linear, activation: PointwiseActivation)], output: Linear, feedback: [Tensor], hyperparameters h: Hyperparameters) {
        self.hidden = hidden
        self.output = output
        self.feedback = feedback
        optimizer = Adam(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
        trainable = hidden.flatMap(\.linear.parameters) + output.parameters
    }

    /// PyTorch's layers from the "weights" stream; B_ℓ from the "feedback" stream.
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> DirectRandomTargetProjection {
        guard case .mlp(let widths) = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "drtp needs an MLP architecture")
        }
        let tanh = h.choice("nonlinearity") as DirectFeedbackAlignment.Nonlinearity == .tanh
        var weights = SeededGenerator(seed: seed, stream: "weights")
        var feedbackGenerator = SeededGenerator(seed: seed, stream: "feedback")
        var hidden: [(linear: Linear, activation: PointwiseActivation)] = []
        var feedback: [Tensor] = []
        var fanIn = inputShape.reduce(1, *)
        for (index, width) in widths.enumerated() {
            hidden.append((Linear(inputSize: fanIn, outputSize: width, name: "layer\(index + 1)", using: &weights), tanh ? Tanh() : ReLU()))
            let bound = (6 / Float(width)).squareRoot()
            feedback.append(Tensor(shape: [classCount, width], uniformIn: -bound...bound, using: &feedbackGenerator))
            fanIn = width
        }
        let output = Linear(inputSize: fanIn, outputSize: classCount, name: "output", using: &weights)
        return DirectRandomTargetProjection(hidden: hidden, output: output, feedback: feedback, hyperparameters: h)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        accumulateGradients(batch, loss: loss)
        optimizer.step(trainable)
    }

    /// Every gradient accumulated, each hidden layer's as soon as its output exists; the batch
    /// loss added to `total`.
    func accumulateGradients(_ batch: Batch, loss total: LossSum) {
        var h = batch.inputs
        let scale = 1 / Float(batch.inputs.rows)
        for (layer, b) in zip(hidden, feedback) {
            h = layer.activation.forward(layer.linear.forward(h, mode: .training), mode: .training)
            hiddenSignal.gatherRows(ofLabels: batch, from: b)                  // δh = Y·B   (row lookup)
            hiddenSignal.scale(by: scale)                                       //      / N
            let da = layer.activation.backward(hiddenSignal, inputGradient: .needed)!  // δa = δh ⊙ f'(a)
            _ = layer.linear.backward(da, inputGradient: .notNeeded)            // ∂W += δaᵀ·h_{ℓ−1}
        }
        loss.lossAndGradient(logits: output.forward(h, mode: .training), of: batch, addingMeanTo: total)
        _ = output.backward(loss.gradient, inputGradient: .notNeeded)
    }

    func logits(_ x: Tensor) -> Tensor {
        var h = x
        for layer in hidden { h = layer.activation.forward(layer.linear.forward(h, mode: .inference), mode: .inference) }
        return output.forward(h, mode: .inference)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        SoftmaxCrossEntropy.evaluate(logits: logits(batch.inputs), of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }

    /// The parameters and the fixed feedback matrices.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        feedback = feedback.map { $0.moved(to: backend) }
    }
}
