import Datasets
import NeuralNetwork
import TensorCore
import Training

/// Direct Feedback Alignment: the output error `e = softmax − onehot` reaches every hidden layer
/// through a fixed random matrix, `δh_ℓ = e·B_ℓ`, instead of the transposed forward weights.
/// - Paper: Nøkland, "Direct Feedback Alignment Provides Learning in Deep Neural Networks", NeurIPS 2016.
public final class DirectFeedbackAlignment: RegisteredAlgorithm {
    /// The hidden nonlinearity.
    public enum Nonlinearity: String, Sendable {
        case relu
        /// With tanh every forward weight and bias starts at zero (the paper's setting).
        case tanh
    }

    public static let id = "dfa"
    public static let control: String? = ShallowControl.id
    /// bpfree's addition: the study did not run DFA.
    public static let comparisons = [DeclaredComparison("dfa", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-4, "Adam learning rate").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 0, "Adam L2 weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .choice("nonlinearity", "relu", of: ["relu", "tanh"], "hidden nonlinearity (tanh starts from all-zero weights)"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    let hidden: [(linear: Linear, activation: PointwiseActivation)]
    let output: Linear
    /// Fixed feedback matrices, one per hidden layer. Shapes: C×h_ℓ.
    private(set) var feedback: [Tensor]
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()
    private let trainable: [Parameter]
    private var hiddenSignal = Tensor(zeros: [0])

    init(hidden: [(linear: Linear, activation: PointwiseActivation)], output: Linear, feedback: [Tensor],
         learningRate: Float, weightDecay: Float) {
        self.hidden = hidden
        self.output = output
        self.feedback = feedback
        optimizer = Adam(learningRate: learningRate, weightDecay: weightDecay)
        trainable = hidden.flatMap(\.linear.parameters) + output.parameters
    }

    /// Forward weights from the "weights" stream (PyTorch's default for ReLU, zeros for tanh);
    /// feedback `B_ℓ ~ U(±1/√h_ℓ)` from its own "feedback" stream.
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> DirectFeedbackAlignment {
        let inputSize = inputShape.reduce(1, *)
        guard case .mlp(let widths) = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "dfa needs an MLP architecture")
        }
        let nonlinearity: Nonlinearity = h.choice("nonlinearity")
        var weights = SeededGenerator(seed: seed, stream: "weights")
        var feedbackGenerator = SeededGenerator(seed: seed, stream: "feedback")
        func linear(_ fanIn: Int, _ fanOut: Int, _ name: String) -> Linear {
            nonlinearity == .tanh
                ? Linear(weight: Tensor(zeros: [fanOut, fanIn]), bias: Tensor(zeros: [fanOut]), name: name)
                : Linear(inputSize: fanIn, outputSize: fanOut, name: name, using: &weights)
        }
        var hidden: [(linear: Linear, activation: PointwiseActivation)] = []
        var feedback: [Tensor] = []
        var fanIn = inputSize
        for (index, width) in widths.enumerated() {
            hidden.append((linear(fanIn, width, "layer\(index + 1)"), nonlinearity == .relu ? ReLU() : Tanh()))
            let bound = 1 / Float(width).squareRoot()
            feedback.append(Tensor(shape: [classCount, width], uniformIn: -bound...bound, using: &feedbackGenerator))
            fanIn = width
        }
        return DirectFeedbackAlignment(hidden: hidden, output: linear(fanIn, classCount, "output"), feedback: feedback,
                                       learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    func logits(_ x: Tensor, mode: Mode) -> Tensor {
        var h = x
        for layer in hidden { h = layer.activation.forward(layer.linear.forward(h, mode: mode), mode: mode) }
        return output.forward(h, mode: mode)
    }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        accumulateGradients(batch, loss: loss)
        optimizer.step(trainable)
    }

    /// Every gradient accumulated; the batch loss added to `total`.
    func accumulateGradients(_ batch: Batch, loss total: LossSum) {
        loss.lossAndGradient(logits: logits(batch.inputs, mode: .training), of: batch, addingMeanTo: total)
        let e = loss.gradient  // (softmax − Y)/N
        // The output layer gets its true gradient; the hidden layers get e·B_ℓ.
        _ = output.backward(e, inputGradient: .notNeeded)
        for (layer, b) in zip(hidden, feedback) {
            Tensor.matmul(e, .none, b, .none, into: &hiddenSignal)                 // δh = e·B   (N×C · C×h)
            let da = layer.activation.backward(hiddenSignal, inputGradient: .needed)!  // δa = δh ⊙ f'(a)
            _ = layer.linear.backward(da, inputGradient: .notNeeded)  // dW += δaᵀ·h_{ℓ−1}
        }
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        SoftmaxCrossEntropy.evaluate(logits: logits(batch.inputs, mode: .inference), of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }

    /// The parameters and the fixed feedback matrices.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        feedback = feedback.map { $0.moved(to: backend) }
    }
}
