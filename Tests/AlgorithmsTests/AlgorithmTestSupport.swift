import Datasets
import NeuralNetwork
import TensorCore
import Training
@testable import Algorithms

/// Builds algorithm `id` with `options`, for inputs of `inputSize` and `classCount` classes.
func build(_ id: String, widths: [Int], inputSize: Int = 16, classCount: Int = 4, seed: UInt64 = 1,
           common: CommonHyperparameters = .init(), options: [String: String] = [:]) -> any TrainingAlgorithm {
    try! AlgorithmRegistry.make(id: id, architecture: .mlp(hiddenWidths: widths), inputShape: [inputSize],
                                classCount: classCount, common: common, options: options, seed: seed).algorithm
}

/// A batch of the first `count` samples of `dataset`.
func firstBatch(of dataset: Dataset, count: Int) -> Batch {
    var batch = Batch()
    var schedule = BatchSchedule(count: dataset.count, batchSize: count, order: .sequential)
    schedule.fill(&batch, index: 0, from: dataset)
    return batch
}

/// Snapshot of every parameter value, by name.
func values(_ parameters: [Parameter]) -> [String: [Float]] {
    Dictionary(uniqueKeysWithValues: parameters.map { ($0.name, $0.value.scalars) })
}

/// Small synthetic splits; the first `classCount` features are pure noise, so FF can overwrite
/// them with the label without losing information.
func syntheticSplits(features: Int = 16, classes: Int = 4, seed: UInt64 = 3) -> DataSplits {
    var splits = SyntheticDataset.splits(train: 1200, validation: 300, test: 500, features: features, classes: classes,
                                         noise: 0.4, seed: seed)
    for keyPath in [\DataSplits.train, \DataSplits.validation, \DataSplits.test] {
        var dataset = splits[keyPath: keyPath]
        var generator = SeededGenerator(seed: seed, stream: "noise")
        let rows = dataset.count
        dataset.inputs.withUnsafeMutablePointer { p in
            for r in 0..<rows { for j in 0..<classes { p[r * features + j] = generator.nextUnitFloat() - 0.5 } }
        }
        splits[keyPath: keyPath] = dataset
    }
    return splits
}
