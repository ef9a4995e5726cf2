import Algorithms
import CUDA
import Foundation
import Records
import Results
import TensorCore
import Training
import Tuning

/// A suite of comparisons (protocol §1): each algorithm on its native architecture against BP
/// on the identical architecture. Every arm is tuned with the same budget, pruning and epochs,
/// then its best hyperparameters are retrained with the same distinct seeds. All settings come
/// from this one value, so the arms cannot differ by accident.
public struct Benchmark: Sendable {
    /// One comparison: `algorithm` against BP on `architecture`, on each of `datasets`.
    public struct Comparison: Sendable, Equatable {
        public var algorithm: String
        /// As `--architecture` writes it (parsed when the comparison runs).
        public var architecture: String
        public var datasets: [String]
        /// Epoch caps of this comparison's trials and final runs, when not the suite's (both
        /// arms alike: the budget in which its slowest learner learns).
        public var epochs: Int?
        /// The training batch of both arms, when not each algorithm's default.
        public var batchSize: Int?
        /// The training samples of this comparison, when not the suite's.
        public var trainLimit: Int?

        public init(algorithm: String, architecture: String, datasets: [String], epochs: Int? = nil, batchSize: Int? = nil,
                    trainLimit: Int? = nil) {
            self.algorithm = algorithm
            self.architecture = architecture
            self.datasets = datasets
            self.epochs = epochs
            self.batchSize = batchSize
            self.trainLimit = trainLimit
        }
    }

    /// A named set of comparisons with its default budgets.
    public struct Suite: Sendable {
        public var name: String
        public var comparisons: [Comparison]
        public var trials: Int
        /// Epoch cap of each tuning trial.
        public var epochs: Int
        /// Epoch cap of the final runs (patience stays the harmonized 20).
        public var finalEpochs: Int
        public var seeds: Int
        public var trainLimit: Int?
        /// The final runs' seeds, when the suite names them (otherwise `--seed`+1 … +N).
        public var fixedSeeds: [UInt64]?
        /// The protocol every arm runs under, when the suite fixes it.
        public var trainingProtocol: TrainingProtocol?
        /// Whether the arms are tuned (0 trials: each runs with its defaults).
        public var isTuned: Bool { trials > 0 }
        /// A scaling suite: each comparison is one point of an algorithm's cost curve, without a
        /// BP baseline; its runs' comparison is `scaling:dataset/architecture/nSAMPLES`.
        public var isScaling = false

        /// Protocol §1 in full: every comparison the registered algorithms declare, each against
        /// its baseline (and its control, when it declares one), the harmonized rule, 20 trials,
        /// 3 seeds.
        public static var full: Suite {
            Suite(name: "full", comparisons: AlgorithmRegistry.declaredComparisons.map {
                Comparison(algorithm: $0.id, architecture: $0.architecture, datasets: $0.datasets)
            }, trials: 20, epochs: StoppingRule.harmonized.maxEpochs, finalEpochs: StoppingRule.harmonized.maxEpochs, seeds: 3)
        }

        /// Fashion-MNIST only, on 6,000 training samples: 3 trials of 3 epochs per arm and 2
        /// seeds of 3 epochs (measured on 2 cores, AMD EPYC: the study's four rules in 7½ minutes; FA
        /// with its BP and shallow arms in 4). Every rule is in it: `--algorithms` picks.
        /// Each declared comparison that names a quick run, with the budget it names.
        public static var quick: Suite {
            Suite(name: "quick", comparisons: AlgorithmRegistry.declaredComparisons.compactMap { declared in
                declared.quick.map { quick in
                    Comparison(algorithm: declared.id, architecture: quick.architecture ?? declared.architecture, datasets: ["fashion-mnist"],
                               epochs: quick.epochs, batchSize: quick.batchSize)
                }
            }, trials: 3, epochs: 3, finalEpochs: 3, seeds: 2, trainLimit: 6000)
        }

        /// The original study's configurations as its code ran them (protocol `seed-paper`): the
        /// full suite's comparisons on the datasets for which the algorithm declares what the
        /// study did; no tuning (its tuned values are the defaults), its seeds 42, 43 and 44, its
        /// own epoch caps. The report sets its published figures beside bpfree's.
        public static var seedPaper: Suite {
            let comparisons = full.comparisons.compactMap { comparison -> Comparison? in
                guard let architecture = try? Architecture(parsing: comparison.architecture) else { return nil }
                var studied = comparison
                studied.datasets = comparison.datasets.filter { dataset in
                    (try? AlgorithmRegistry.seedPaper(for: comparison.algorithm, dataset: dataset, architecture: architecture,
                                                      options: [:], cap: 10_000)) != nil
                }
                return studied.datasets.isEmpty ? nil : studied
            }
            var suite = Suite(name: "seed-paper", comparisons: comparisons, trials: 0, epochs: 10_000, finalEpochs: 10_000, seeds: 3)
            suite.fixedSeeds = [42, 43, 44]
            suite.trainingProtocol = .seedPaper
            return suite
        }

        /// How cost grows with the work: each algorithm whose default network is an MLP (controls
        /// aside), untuned, 3 epochs and 2 seeds per point, on 6,000 … 54,000 Fashion-MNIST samples
        /// at mlp-2x1000 and on 6,000 samples at mlp-2x250 … mlp-2x4000. The report fits
        /// time ∝ work^k per algorithm (work: counted FLOPs).
        public static var scaling: Suite {
            var comparisons: [Comparison] = []
            for type in AlgorithmRegistry.all where type.role != .control {
                guard case .mlp = type.defaultArchitecture else { continue }
                for samples in [6000, 12000, 24000, 54000] {
                    comparisons.append(Comparison(algorithm: type.id, architecture: "mlp-2x1000", datasets: ["fashion-mnist"], trainLimit: samples))
                }
                for width in [250, 500, 2000, 4000] {
                    comparisons.append(Comparison(algorithm: type.id, architecture: "mlp-2x\(width)", datasets: ["fashion-mnist"], trainLimit: 6000))
                }
            }
            var suite = Suite(name: "scaling", comparisons: comparisons, trials: 0, epochs: 3, finalEpochs: 3, seeds: 2)
            suite.isScaling = true
            return suite
        }

        public static var all: [Suite] { [full, quick, seedPaper, scaling] }
    }

    /// One arm of one comparison: what is tuned and retrained.
    public struct Arm: Sendable {
        /// `dataset/architecture`: the arms sharing it (the algorithms and their BP baseline) are compared.
        public var comparison: String
        public var study: StudySpecification
        /// The epoch cap of its final runs.
        public var finalEpochs: Int
    }

    public var suite: Suite
    public var seed: UInt64
    public var threads: Int
    /// Where every run computes.
    public var device = Device.cpu
    /// cuBLAS's and cuDNN's math on a GPU.
    public var gpuMath = CUBLAS.Math.fp32
    public var pruner: StudySpecification.Pruner = .none
    /// What every arm's study optimises; with a cost, each arm's final runs retrain its front's knee.
    public var objectives: [StudySpecification.Objective] = [.validationAccuracy]
    public var sampler: StudySampler.Kind = .tpe
    public var dataDirectory: String?
    public var trainingProtocol = TrainingProtocol.harmonized
    /// Where the final runs' models go, or nil.
    public var models: ModelFolder?

    public init(suite: Suite, seed: UInt64, threads: Int) {
        self.suite = suite
        self.seed = seed
        self.threads = threads
    }

    /// The distinct seeds of the final runs: base + 1 … base + N (the tuning trials use the base seed).
    public var finalSeeds: [UInt64] { suite.fixedSeeds ?? (1...UInt64(max(suite.seeds, 1))).map { seed &+ $0 } }

    /// Every arm to run, in order; a BP baseline shared by two comparisons on the same dataset
    /// and architecture appears once. Algorithms that are not registered are left out and named
    /// in `skipped`.
    public func arms(restrictedTo datasets: [String]? = nil, algorithms: [String]? = nil) -> (arms: [Arm], skipped: [String]) {
        var arms: [Arm] = [], skipped: [String] = [], seen: Set<String> = []
        for comparison in suite.comparisons {
            if let algorithms, !algorithms.contains(comparison.algorithm) { continue }
            guard AlgorithmRegistry.ids.contains(comparison.algorithm),
                  let architecture = try? Architecture(parsing: comparison.architecture) else {
                skipped.append("\(comparison.algorithm) vs its baseline on \(comparison.architecture): not available yet")
                continue
            }
            for dataset in comparison.datasets where datasets?.contains(dataset) ?? true {
                let trainLimit = comparison.trainLimit ?? suite.trainLimit
                let name = suite.isScaling ? "\(RunRecord.scalingComparisonPrefix)\(dataset)/\(architecture)/n\(trainLimit.map(String.init) ?? "all")" : "\(dataset)/\(architecture)"
                // The arm, then (outside a scaling suite) its baseline and its control, as its algorithm declares them.
                let descriptor = try? AlgorithmRegistry.descriptor(for: comparison.algorithm)
                let partners = suite.isScaling ? [] : [descriptor?.baseline, descriptor?.control].compactMap { $0 }
                for algorithm in [comparison.algorithm] + partners {
                    let spec = study(algorithm: algorithm, architecture: architecture, dataset: dataset,
                                     epochs: comparison.epochs ?? suite.epochs, batchSize: comparison.batchSize, trainLimit: trainLimit)
                    guard seen.insert(spec.name).inserted else { continue }
                    arms.append(Arm(comparison: name, study: spec, finalEpochs: comparison.epochs ?? suite.finalEpochs))
                }
            }
        }
        return (arms, skipped)
    }

    /// The study of one arm: the suite's budgets, the harmonized patience, this bench's seed.
    func study(algorithm: String, architecture: Architecture, dataset: String, epochs: Int, batchSize: Int? = nil,
               trainLimit: Int? = nil) -> StudySpecification {
        var stopping = StoppingRule.harmonized
        stopping.maxEpochs = epochs
        let limit = (trainLimit.map { "-n\($0)" } ?? "") + (batchSize.map { "-b\($0)" } ?? "")
        let protocolTag = trainingProtocol == .harmonized ? "" : "-\(trainingProtocol.rawValue)"
        // Untuned arms depend on nothing but the suite and the configuration.
        let costs = objectives.dropFirst().map { "-vs-\($0.rawValue)" }.joined()
        let name = suite.isTuned ? "bench-\(suite.name)-\(algorithm)-\(dataset)-\(architecture)-e\(epochs)\(limit)\(protocolTag)-s\(seed)\(costs)"
            : "bench-\(suite.name)-\(algorithm)-\(dataset)-\(architecture)\(limit)"
        var specification = StudySpecification(
            name: name,
            algorithm: algorithm, architecture: architecture, dataset: dataset, seed: seed, trials: suite.trials,
            stopping: stopping, trainLimit: trainLimit, sampler: sampler, pruner: pruner,
            dataDirectory: dataDirectory, threads: threads)
        specification.trainingProtocol = trainingProtocol
        specification.objectives = objectives
        specification.device = device
        specification.gpuMath = gpuMath
        if let batchSize { specification.options["\(specification.optionPrefix).batch_size"] = "\(batchSize)" }
        return specification
    }

    /// The final run of an arm for one seed: the best trial's parameters, the final epoch cap.
    public func finalConfiguration(of arm: Arm, parameters: [String: Double], seed: UInt64) -> RunConfiguration {
        var configuration = arm.study.runConfiguration(parameters: parameters)
        configuration.seed = seed
        configuration.stopping.maxEpochs = arm.finalEpochs
        configuration.origin = .final(of: arm.study.name, in: arm.comparison)
        return configuration
    }
}
