import Foundation
import TensorCore

/// Seeded synthetic classification data for tests and quick demos.
public enum SyntheticDataset {
    /// The size, classes and sample shape of a synthetic dataset, as written on the command line:
    /// `synthetic` or `synthetic:samples=6000,classes=10,shape=3x32x32,noise=0.6`.
    public struct Specification: Sendable, Equatable {
        /// All samples; 2/3 train, 1/6 validation, 1/6 test.
        public var samples = 6000
        public var classes = 10
        public var shape = [32]
        public var noise: Float = 0.6

        /// The defaults, with `key=value` overrides after "synthetic:".
        public init(parsing text: String) throws {
            guard text == "synthetic" || text.hasPrefix("synthetic:") else {
                throw DatasetError(path: text, problem: "not a synthetic dataset specification")
            }
            let problem = "expected synthetic:samples=N,classes=C,shape=AxBxC,noise=X"
            for item in text.dropFirst("synthetic".count).dropFirst().split(separator: ",") {
                let pair = item.split(separator: "=", maxSplits: 1).map(String.init)
                switch (pair.first, pair.count == 2 ? pair[1] : nil) {
                case ("samples", let v?) where Int(v).map({ $0 >= 12 }) == true: samples = Int(v)!
                case ("classes", let v?) where Int(v).map({ $0 >= 2 }) == true: classes = Int(v)!
                case ("noise", let v?) where Float(v).map({ $0 >= 0 }) == true: noise = Float(v)!
                case ("shape", let v?):
                    let parts = v.split(separator: "x", omittingEmptySubsequences: false)
                    let extents = parts.compactMap { Int($0) }
                    guard !extents.isEmpty, extents.count == parts.count, extents.allSatisfy({ $0 > 0 }) else {
                        throw DatasetError(path: "--dataset", problem: "'\(item)': \(problem)")
                    }
                    shape = extents
                default:
                    throw DatasetError(path: "--dataset", problem: "'\(item)': \(problem)")
                }
            }
            // Refused here, before anything is generated: the Float32 data must fit this machine.
            let bytes = ([samples] + shape).reduce(Optional(4)) { total, factor in
                total.flatMap { let product = $0.multipliedReportingOverflow(by: factor); return product.overflow ? nil : product.partialValue }
            }
            let memory = ProcessInfo.processInfo.physicalMemory
            guard let bytes, UInt64(bytes) <= memory else {
                throw DatasetError(path: "--dataset", problem: "'\(text)' is \(samples) samples of shape \(shape.map(String.init).joined(separator: "x")): "
                                   + "more Float32 data than this machine's \(memory >> 30) GiB of memory")
            }
        }

        /// Splits generated from `seed`.
        public func splits(seed: UInt64) -> DataSplits {
            let (validation, test) = (samples / 6, samples / 6)
            var splits = SyntheticDataset.splits(train: samples - validation - test, validation: validation, test: test,
                                                 features: shape.reduce(1, *), classes: classes, noise: noise, seed: seed)
            for keyPath in [\DataSplits.train, \DataSplits.validation, \DataSplits.test] { splits[keyPath: keyPath].sampleShape = shape }
            return splits
        }
    }

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
