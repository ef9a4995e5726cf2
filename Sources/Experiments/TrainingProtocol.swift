import Algorithms
import Training

import Records

extension TrainingProtocol {
    /// The stopping and restore rules and the default hyperparameters of a run. The harmonized
    /// protocol uses `base` everywhere and restores each stage's best epoch; seed-paper takes what
    /// the algorithm declares the study did (`RegisteredAlgorithm.seedPaper`), with caps no larger
    /// than `base.maxEpochs`, and keeps the harmonized rules for an algorithm the study did not run.
    public func rules(algorithm: String, dataset: String, architecture: Architecture, options: [String: String],
                      base: StoppingRule) throws -> SeedPaper {
        guard self == .seedPaper,
              let study = try AlgorithmRegistry.seedPaper(for: algorithm, dataset: dataset, architecture: architecture,
                                                          options: options, cap: base.maxEpochs)
        else { return .harmonized(base) }
        return study
    }
}
