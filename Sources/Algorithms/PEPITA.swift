import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// PEPITA (Present the Error to Perturb the Input To modulate Activity): no backward pass. A
/// first forward pass gives the error, the input is modulated by its fixed random projection,
/// and a second forward pass with the same dropout masks gives the activity differences that
/// update every layer:
///
///     pass 1:  h_ℓ = D_ℓ ⊙ relu(h_{ℓ−1}·W_ℓᵀ),  e = softmax(h_L·W_{L+1}ᵀ) − Y      (N×C, not ÷N)
///     modulate: x̃ = x − e·Fᵀ                                                      F ∈ R^{d_0×C}
///     pass 2:  h̃_ℓ (same masks D_ℓ),  ẽ = softmax(h̃_L·W_{L+1}ᵀ) − Y
///     G_1 = (h_1 − h̃_1)ᵀ·x̃/N,  G_ℓ = (h_ℓ − h̃_ℓ)ᵀ·h̃_{ℓ−1}/N,  G_{L+1} = ẽᵀ·h̃_L/N   (`forward`: eᵀ·h̃_L/N)
///     SGD with momentum 0.9 on G, learning rate ×0.1 after epochs 60 and 90.
///
/// The activity difference already carries f′ (no f′ factor), and the presynaptic terms are the
/// modulated activities. No biases, as in the reference. `x − e·Fᵀ` (Srinivasan et al.'s sign) is
/// distributed as the original `x + e·Fᵀ`. F ~ U(±s·√(6/d_0)) with s = `pepita.feedback_scale`
/// (0.05, calibrated by the authors for inputs in [0, 1]; bpfree's inputs are standardised,
/// so the scale is searched).
/// - Paper: Dellaferrera & Kreiman, "Error-driven Input Modulation: Solving the Credit Assignment
///   Problem without a Backward Pass", ICML 2022 (PMLR 162:4937–4955).
public final class PEPITA: RegisteredAlgorithm {
    /// Which error updates the output layer.
    public enum OutputError: String, Sendable {
        /// The second (modulated) pass's, as the original.
        case modulated
        /// The first pass's (Srinivasan et al.'s default).
        case forward
    }

    public static let id = "pepita"
    public static let control: String? = ShallowControl.id
    public static let comparisons = [DeclaredComparison("pepita", on: "mlp-2x1000", datasets: ["mnist", "fashion-mnist"], quick: .init())]
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 0.01, "SGD learning rate (momentum 0.9; ×0.1 after epochs 60 and 90)").searched(logUniformIn: 1e-4...1e-1),
        .real("weight_decay", 0, "SGD L2 weight decay (Srinivasan et al.: 1e-4)"),
        .integer("batch_size", 64, "training batch size"),
        .real("feedback_scale", 0.05, "F ~ U(±s·√(6/d_0))").searched(logUniformIn: 0.005...0.5),
        .real("dropout", 0.1, in: 0...0.9, "dropout rate of the hidden layers (the same masks in both passes)"),
        .choice("output_error", "modulated", of: ["modulated", "forward"], "the output layer learns from the second pass's error or the first's"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    /// The hidden layers' and the output layer's weights (no biases), first to last.
    let layers: [Linear]
    /// F, d_0×C.
    var feedback: Tensor
    let outputError: OutputError
    let keep: Float
    private let optimizer: SGD
    private let baseLearningRate: Float
    private var generator: SeededGenerator
    private let firstLoss = SoftmaxCrossEntropy(), secondLoss = SoftmaxCrossEntropy()
    /// Where the modulated pass's loss goes: its gradient is used, the run reports the first pass's loss.
    private let unreportedLoss = LossSum()
    // Per hidden layer: dropout masks, pre-activations, both passes' activities.
    private var masks: [Tensor], preactivations: [Tensor], first: [Tensor], second: [Tensor]
    private var firstLogits = Tensor(zeros: [0]), secondLogits = Tensor(zeros: [0])
    private var evaluation: [Tensor], evaluationLogits = Tensor(zeros: [0])
    private var modulated = Tensor(zeros: [0]), error = Tensor(zeros: [0]), difference = Tensor(zeros: [0])

    init(layers: [Linear], feedback: Tensor, hyperparameters h: Hyperparameters, seed: UInt64) {
        self.layers = layers
        self.feedback = feedback
        outputError = h.choice("output_error")
        keep = 1 - Float(h.real("dropout"))
        baseLearningRate = Float(h.real("learning_rate"))
        optimizer = SGD(learningRate: baseLearningRate, momentum: 0.9, weightDecay: Float(h.real("weight_decay")))
        generator = SeededGenerator(seed: seed, stream: "dropout")
        let hidden = layers.count - 1
        masks = Array(repeating: Tensor(zeros: [0]), count: hidden)
        preactivations = masks
        first = masks
        second = masks
        evaluation = masks
    }

    /// He-uniform weights `U(±√(6/d_in))` from the "weights" stream; F from the "feedback" stream.
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> PEPITA {
        guard case .mlp(let widths) = architecture else {
            throw ConfigurationError(field: "--architecture", problem: "pepita needs an MLP architecture")
        }
        var weights = SeededGenerator(seed: seed, stream: "weights")
        var feedbackGenerator = SeededGenerator(seed: seed, stream: "feedback")
        let inputSize = inputShape.reduce(1, *)
        let sizes = [inputSize] + widths + [classCount]
        let layers = (1..<sizes.count).map { index in
            let bound = (6 / Float(sizes[index - 1])).squareRoot()
            return Linear(weight: Tensor(shape: [sizes[index], sizes[index - 1]], uniformIn: -bound...bound, using: &weights), bias: nil,
                          name: index == sizes.count - 1 ? "output" : "layer\(index)")
        }
        let bound = Float(h.real("feedback_scale")) * (6 / Float(inputSize)).squareRoot()
        let feedback = Tensor(shape: [inputSize, classCount], uniformIn: -bound...bound, using: &feedbackGenerator)
        return PEPITA(layers: layers, feedback: feedback, hyperparameters: h, seed: seed)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { layers.map(\.weight) }

    public func epochWillStart(_ epoch: Int, maxEpochs: Int, stage: Int) {
        optimizer.learningRate = baseLearningRate * (epoch > 90 ? 0.01 : epoch > 60 ? 0.1 : 1)
    }

    /// One pass: the hidden activities into `activities` (masked when `masked`), the logits into `logits`.
    private func forward(_ x: Tensor, activities: inout [Tensor], logits: inout Tensor, masked: Bool) {
        for index in 0..<(layers.count - 1) {
            let input = index == 0 ? x : activities[index - 1]
            Tensor.matmul(input, .none, layers[index].weight.value, .transposed, into: &preactivations[index])  // a = h·Wᵀ
            ActivationKernels.reluForward(preactivations[index], into: &activities[index])
            if masked { activities[index].multiply(masks[index]) }                                            // h = D ⊙ relu(a)
        }
        Tensor.matmul(activities[layers.count - 2], .none, layers.last!.weight.value, .transposed, into: &logits)
    }

    public func trainBatch(_ batch: Batch, stage: Int, loss: LossSum) {
        accumulateGradients(batch, loss: loss)
        optimizer.step(parameters(of: 0))
    }

    /// Both passes and every layer's update G; adds the first pass's loss to `total`.
    func accumulateGradients(_ batch: Batch, loss total: LossSum) {
        let x = batch.inputs.reshaped([batch.inputs.rows, batch.inputs.columns])
        let n = Float(x.rows)
        for index in masks.indices {
            masks[index].resize(to: [x.rows, layers[index].outputSize], on: x.backend)
            masks[index].fillDropoutMask(keep: keep, key: generator.next())
        }
        forward(x, activities: &first, logits: &firstLogits, masked: true)
        firstLoss.lossAndGradient(logits: firstLogits, of: batch, addingMeanTo: total)
        error.assign(firstLoss.gradient)
        error.scale(by: n)                                                             // e = softmax − Y
        modulated.assign(x)
        Tensor.matmul(error, .none, feedback, .transposed, into: &modulated, alpha: -1, beta: 1)  // x̃ = x − e·Fᵀ
        forward(modulated, activities: &second, logits: &secondLogits, masked: true)
        secondLoss.lossAndGradient(logits: secondLogits, of: batch, addingMeanTo: unreportedLoss)     // ẽ/N
        for index in 0..<(layers.count - 1) {
            difference.assignDifference(first[index], second[index])                   // h − h̃
            let presynaptic = index == 0 ? modulated : second[index - 1]
            Tensor.matmul(difference, .transposed, presynaptic, .none, into: &layers[index].weight.gradient, alpha: 1 / n, beta: 1)
        }
        let outputSignal = outputError == .modulated ? secondLoss.gradient : firstLoss.gradient
        Tensor.matmul(outputSignal, .transposed, second[layers.count - 2], .none, into: &layers.last!.weight.gradient, beta: 1)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        forward(batch.inputs.reshaped([batch.inputs.rows, batch.inputs.columns]), activities: &evaluation, logits: &evaluationLogits,
                masked: false)
        SoftmaxCrossEntropy.evaluate(logits: evaluationLogits, of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }

    /// The weights and the fixed feedback matrix.
    public func move(to backend: (any DeviceBackend)?) {
        moveParametersAndState(to: backend)
        feedback = feedback.moved(to: backend)
    }
}
