import Datasets
import NeuralNetwork
import TensorCore
import Training

/// Backpropagation: the network trained end to end with softmax cross-entropy and AdamW
/// (the study's BP baseline). One stage.
/// - Paper: Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", Nature 1986.
public final class Backpropagation: RegisteredAlgorithm {
    public static let id = "bp"
    /// Defaults: the study's Fashion-MNIST 2x1000 baseline.
    public static let hyperparameterSpecs: [HyperparameterSpec] = [
        .real("learning_rate", 2e-4, "AdamW learning rate").searched(logUniformIn: 1e-5...1e-2),
        .real("weight_decay", 3e-5, "AdamW decoupled weight decay").searched(logUniformIn: 1e-6...1e-3),
        .integer("batch_size", 128, "training batch size"),
        .real("beta1", 0.9, in: 0...0.999_999, "AdamW β1"),
        .real("beta2", 0.999, in: 0...0.999_999, "AdamW β2"),
        .real("epsilon", 1e-8, "AdamW ε"),
    ]
    public static let defaultArchitecture = Architecture.mlp(hiddenWidths: [1000, 1000])
    public static let defaultCIFARArchitecture = Architecture.mlp(hiddenWidths: [2000, 2000, 2000])

    public let network: Sequential
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()
    private let trainable: [Parameter]

    /// BP on `network` with AdamW.
    public init(network: Sequential, hyperparameters h: Hyperparameters) {
        self.network = network
        trainable = network.parameters
        optimizer = AdamW(learningRate: Float(h.real("learning_rate")), beta1: Float(h.real("beta1")),
                          beta2: Float(h.real("beta2")), epsilon: Float(h.real("epsilon")),
                          weightDecay: Float(h.real("weight_decay")))
    }

    public static func make(architecture: Architecture, inputShape: [Int], classCount: Int,
                            hyperparameters: Hyperparameters, seed: UInt64) throws -> Backpropagation {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        let network = try architecture.makeNetwork(inputShape: inputShape, classCount: classCount, using: &generator)
        return Backpropagation(network: network, hyperparameters: hyperparameters)
    }

    public var stages: [Stage] { [Stage(name: "model")] }

    public func parameters(of stage: Int) -> [Parameter] { trainable }

    public func trainBatch(_ batch: Batch, stage: Int) -> Float {
        let logits = network.forward(batch.inputs, mode: .training)
        let (value, _) = loss.lossAndGradient(logits: logits, labels: batch.labels)
        _ = network.backward(loss.gradient, inputGradient: .notNeeded)
        optimizer.step(trainable)
        return value
    }

    public func validate(_ batch: Batch, stage: Int) -> EvaluationSums {
        let result = SoftmaxCrossEntropy.evaluate(logits: network.forward(batch.inputs, mode: .inference), labels: batch.labels)
        return EvaluationSums(lossSum: result.lossSum, correct: result.correct)
    }

    public func countCorrect(_ batch: Batch) -> Int {
        validate(batch, stage: 0).correct
    }
}
