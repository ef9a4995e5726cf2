import Randomness

/// Decides the parameters of a study's next trial: TPE (default) or random, each parameter
/// sampled independently (Optuna 4.9's univariate default), from a seed that belongs to the
/// study alone.
public struct StudySampler: Sendable, Equatable {
    /// The sampling rule.
    public enum Kind: String, Sendable, Codable, CaseIterable { case tpe, random }

    public var kind: Kind
    /// The study's sampler seed (see `seed(studyName:baseSeed:)`).
    public var seed: UInt64

    public init(kind: Kind, seed: UInt64) {
        self.kind = kind
        self.seed = seed
    }

    /// The sampler seed of a study: derived from its name and the base seed, so two studies
    /// never share a seed by accident (protocol §4) and a study resumed later gets the same one.
    public static func seed(studyName: String, baseSeed: UInt64) -> UInt64 {
        var generator = SeededGenerator(seed: baseSeed, stream: "sampler/" + studyName)
        return generator.next() >> 1   // kept below 2^63 so that it is stored as a plain SQLite integer
    }

    /// Parameters (internal representation) for trial `number`, given the study's trials so far.
    /// Deterministic in (seed, number, finished trials), whichever worker asks.
    public func parameters(forTrial number: Int, space: [(name: String, distribution: SearchDistribution)],
                           trials: [FrozenTrial], objectives: [StudyObjective] = [.validationAccuracy]) -> [String: Double] {
        var generator = SeededGenerator(seed: seed, stream: "trial/\(number)")
        let observed = trials.compactMap(\.observed)
        var values: [String: Double] = [:]
        for (name, distribution) in space {
            switch kind {
            case .random:
                values[name] = RandomSampler.sample(distribution, using: &generator)
            case .tpe:
                // As Optuna: startup count and below/above split over every finished trial; only
                // those that have the parameter contribute observations.
                values[name] = TPESampler().suggest(name, distribution, trials: observed, objectives: objectives, using: &generator)
            }
        }
        return values
    }
}
