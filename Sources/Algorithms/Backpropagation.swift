import Datasets
import NeuralNetwork
import TensorCore
import Training

/// Backpropagation: the network trained end to end with softmax cross-entropy and AdamW
/// (the study's BP baseline). One stage.
/// - Paper: Rumelhart, Hinton & Williams, "Learning representations by back-propagating errors", Nature 1986.
public final class Backpropagation: TrainingAlgorithm {
    /// BP's hyperparameters and their defaults (the study's Fashion-MNIST 2x1000 baseline).
    public struct Hyperparameters: Sendable, Equatable {
        public var learningRate = 2e-4
        public var weightDecay = 3e-5
        public var batchSize = 128
        public var beta1 = 0.9
        public var beta2 = 0.999
        public var epsilon = 1e-8

        /// The defaults with any common overrides applied.
        public init(_ overrides: CommonHyperparameters = .init()) {
            if let value = overrides.learningRate { learningRate = value }
            if let value = overrides.weightDecay { weightDecay = value }
            if let value = overrides.batchSize { batchSize = value }
        }

        /// The values as written into the run record.
        public var record: [String: HyperparameterValue] {
            ["optimizer": .text("adamw"), "learning_rate": .real(learningRate), "weight_decay": .real(weightDecay),
             "batch_size": .integer(batchSize), "beta1": .real(beta1), "beta2": .real(beta2), "epsilon": .real(epsilon),
             "loss": .text("softmax_cross_entropy")]
        }
    }

    public let network: Sequential
    public let hyperparameters: Hyperparameters
    private let optimizer: Adam
    private let loss = SoftmaxCrossEntropy()
    private let trainable: [Parameter]

    /// BP on `network` with AdamW.
    public init(network: Sequential, hyperparameters: Hyperparameters) {
        self.network = network
        self.hyperparameters = hyperparameters
        trainable = network.parameters
        optimizer = AdamW(learningRate: Float(hyperparameters.learningRate), beta1: Float(hyperparameters.beta1),
                          beta2: Float(hyperparameters.beta2), epsilon: Float(hyperparameters.epsilon),
                          weightDecay: Float(hyperparameters.weightDecay))
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
