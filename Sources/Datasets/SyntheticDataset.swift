import Foundation
import TensorCore

/// Seeded synthetic classification data for tests and quick demos.
public enum SyntheticDataset {
    /// Gaussian clusters: each class has a random centre in [−1, 1]^D and samples are the centre
    /// plus noise of the given standard deviation.
    public static func clusters(samples: Int, features: Int, classes: Int, noise: Float = 0.5,
                                seed: UInt64) -> Dataset {
        var generator = SeededGenerator(seed: seed, stream: "synthetic")
        let centres = Tensor(shape: [classes, features], uniformIn: -1...1, using: &generator)
        var inputs = Tensor(uninitialized: [samples, features])
        var labels = [Int32](repeating: 0, count: samples)
        centres.withUnsafePointer { c in
            inputs.withUnsafeMutablePointer { x in
                for i in 0..<samples {
                    let label = i % classes
                    labels[i] = Int32(label)
                    for j in 0..<features {
                        // Box–Muller from two uniforms.
                        let u1 = max(generator.nextUnitFloat(), 1e-7), u2 = generator.nextUnitFloat()
                        let gaussian = (-2 * logf(u1)).squareRoot() * cosf(2 * .pi * u2)
                        x[i * features + j] = c[label * features + j] + noise * gaussian
                    }
                }
            }
        }
        return Dataset(inputs: inputs, labels: labels, sampleShape: [features], classCount: classes)
    }

    /// Train/validation/test splits of fresh cluster samples with shared centres.
    public static func splits(train: Int, validation: Int, test: Int, features: Int, classes: Int,
                              noise: Float = 0.5, seed: UInt64) -> DataSplits {
        let all = clusters(samples: train + validation + test, features: features, classes: classes, noise: noise, seed: seed)
        return DataSplits(train: all.subset(Array(0..<train)),
                          validation: all.subset(Array(train..<(train + validation))),
                          test: all.subset(Array((train + validation)..<(train + validation + test))))
    }
}
