import Datasets
import TensorCore
import Training

/// The one place that maps short algorithm ids to their implementations.
public enum AlgorithmRegistry {
    /// A ready-to-train algorithm with what the run record needs to know about it.
    public struct Built {
        public let algorithm: any TrainingAlgorithm
        public let batchSize: Int
        public let hyperparameters: [String: HyperparameterValue]
    }

    /// The ids `bpfree train --algorithm` accepts.
    public static let ids = ["bp"]

    /// Builds algorithm `id` on `architecture` for inputs of `inputSize` features and
    /// `classCount` classes; weights are drawn from `seed`'s "weights" stream.
    public static func make(id: String, architecture: Architecture, inputSize: Int, classCount: Int,
                            overrides: CommonHyperparameters, seed: UInt64) throws -> Built {
        var generator = SeededGenerator(seed: seed, stream: "weights")
        switch id {
        case "bp":
            let hyperparameters = Backpropagation.Hyperparameters(overrides)
            let network = architecture.makeNetwork(inputSize: inputSize, classCount: classCount, using: &generator)
            return Built(algorithm: Backpropagation(network: network, hyperparameters: hyperparameters),
                         batchSize: hyperparameters.batchSize, hyperparameters: hyperparameters.record)
        default:
            throw ConfigurationError(field: "--algorithm", problem: "unknown algorithm '\(id)'; valid: \(ids.joined(separator: ", "))")
        }
    }
}
