import Datasets
import NeuralNetwork
import Records
import TensorCore
import Training

/// The shallow control: only the output layer trains (softmax cross-entropy, AdamW); the hidden
/// layers keep BP's initial weights. A random ReLU layer is already a useful feature map, so on
/// Fashion-MNIST this reaches the low 80s within a few epochs: a rule whose hidden layers learn
/// nothing useful lands here, and a rule within 1.5 points of it is no finding. Every comparison
/// of a rule that declares it as its control carries it, tuned and stopped like the other arms.
/// - Paper: none; the floor of rules that train the output layer exactly (rules.md, `shallow`).
public final class ShallowControl: RegisteredAlgorithm {
    public static let id = "shallow"
    public static let role = AlgorithmDescriptor.Role.control
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 1e-3, "AdamW learning rate of the output layer").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 3e-5, "AdamW decoupled weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    /// Every layer below the output, fixed.
    let hidden: Sequential
    let output: Linear
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()

    init(network: Sequential, hyperparameters h: Hyperparameters) {
        hidden = Sequential(Array(network.layers.dropLast()))
        output = network.layers.last as! Linear
        optimizer = AdamW(learningRate: Float(h.real("learning_rate")), weightDecay: Float(h.real("weight_decay")))
    }

    /// BP's network for the architecture (PyTorch's layers, the "weights" stream).
    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters h: Hyperparameters, seed: UInt64) throws -> ShallowControl {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        let network = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, using: &generator)
        return ShallowControl(network: network, hyperparameters: h)
    }

    public var stages: [Stage] { [Stage(name: "output")] }

    public func parameters(of stage: Int) -> [Parameter] { output.parameters }

    /// The fixed random layers and the trained output layer.
    public var modelState: [StateTensor] { hidden.state + output.state }

    public func trainBatch(_ batch: Batch, stage: Int, loss total: LossSum) {
        let features = hidden.forward(batch.inputs, mode: .inference)
        loss.lossAndGradient(logits: output.forward(features, mode: .training), of: batch, addingMeanTo: total)
        _ = output.backward(loss.gradient, inputGradient: .notNeeded)
        optimizer.step(output.parameters)
    }

    public func validate(_ batch: Batch, stage: Int, into sums: EvaluationSums) {
        let logits = output.forward(hidden.forward(batch.inputs, mode: .inference), mode: .inference)
        SoftmaxCrossEntropy.evaluate(logits: logits, of: batch, into: sums)
    }

    public func countCorrect(_ batch: Batch) -> Int { validate(batch, stage: 0).correct }
}
