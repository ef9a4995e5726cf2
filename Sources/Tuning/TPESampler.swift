import Foundation
import Randomness

/// One finished trial as the sampler sees it: its objective value (to maximise) and the
/// parameters it used, in their internal representation.
public struct ObservedTrial: Sendable, Equatable {
    public enum State: Sendable, Equatable { case complete, pruned }

    public var number: Int
    public var state: State
    /// The objective (or, for a pruned trial, its last intermediate value).
    public var value: Double?
    /// Every objective's value, for multi-objective studies.
    public var values: [Double]?
    /// The last reported step, for pruned trials.
    public var lastStep: Int?
    public var parameters: [String: Double]

    public init(number: Int, state: State, value: Double?, values: [Double]? = nil, lastStep: Int? = nil, parameters: [String: Double]) {
        self.number = number
        self.state = state
        self.value = value
        self.values = values ?? value.map { [$0] }
        self.lastStep = lastStep
        self.parameters = parameters
    }
}

/// Optuna 4.9's default (univariate) TPE sampler: random for the first `startupTrials`, then for
/// each parameter a Parzen estimator of the best γ(n) trials (l) and of the rest (g), 24
/// candidates drawn from l, and the one maximising log l − log g. The sampler only decides.
/// - Paper: Bergstra et al., "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011.
public struct TPESampler: Sendable {
    public var startupTrials = 10
    public var candidates = 24

    public init(startupTrials: Int = 10, candidates: Int = 24) {
        self.startupTrials = startupTrials
        self.candidates = candidates
    }

    /// A value for parameter `name` given the finished (complete or pruned) trials of a study
    /// with these objectives (several: Optuna 4.9's multi-objective TPE, its below group by
    /// non-domination rank and hypervolume subset selection, weighted by hypervolume contribution).
    public func suggest(_ name: String, _ distribution: SearchDistribution, trials: [ObservedTrial],
                        objectives: [StudyObjective] = [.validationAccuracy], using generator: inout SeededGenerator) -> Double {
        guard trials.count >= startupTrials else { return RandomSampler.sample(distribution, using: &generator) }
        let (l, g) = Self.estimators(name, distribution, trials: trials, objectives: objectives)
        // argmax of log l − log g over candidates drawn from l; ties go to the first.
        var best = Self.draw(from: l, using: &generator)
        var bestScore = l.logPDF(best) - g.logPDF(best)
        for _ in 1..<max(candidates, 1) {
            let x = Self.draw(from: l, using: &generator)
            let score = l.logPDF(x) - g.logPDF(x)
            if score > bestScore || bestScore.isNaN { (best, bestScore) = (x, score) }
        }
        return best
    }

    /// The estimators of the below group (l) and of the rest (g) for one parameter.
    static func estimators(_ name: String, _ distribution: SearchDistribution, trials: [ObservedTrial],
                           objectives: [StudyObjective]) -> (below: ParzenEstimator, above: ParzenEstimator) {
        let gamma = ParzenEstimator.defaultGamma(trials.count)
        let (below, above) = objectives.count > 1 ? Self.split(trials, below: gamma, objectives: objectives) : Self.split(trials, below: gamma)
        let observations = { (group: [ObservedTrial]) in group.sorted { $0.number < $1.number }.compactMap { $0.parameters[name] } }
        // Several objectives: weights over the whole below group by trial number, then those of
        // the trials that have the parameter (Optuna's `param_mask_below`).
        let sortedBelow = below.sorted { $0.number < $1.number }
        let weights = objectives.count > 1
            ? zip(sortedBelow, Self.weightsBelow(sortedBelow, objectives: objectives)).filter { $0.0.parameters[name] != nil }.map(\.1) : nil
        return (ParzenEstimator(observations: observations(below), distribution: distribution, predeterminedWeights: weights),
                ParzenEstimator(observations: observations(above), distribution: distribution))
    }

    /// The best `below` trials (complete ones by value, then pruned ones by step and value) and the rest.
    static func split(_ trials: [ObservedTrial], below count: Int) -> (below: [ObservedTrial], above: [ObservedTrial]) {
        let complete = trials.filter { $0.state == .complete && $0.value != nil }.sorted { $0.value! > $1.value! }
        let pruned = trials.filter { $0.state == .pruned || $0.value == nil }.sorted {
            let (s0, s1) = ($0.lastStep ?? -1, $1.lastStep ?? -1)
            if s0 != s1 { return s0 > s1 }
            return ($0.value ?? -.infinity) > ($1.value ?? -.infinity)
        }
        let ordered = complete + pruned
        return (Array(ordered.prefix(count)), Array(ordered.dropFirst(count)))
    }

    /// Several objectives: the complete trials split as Optuna 4.9's
    /// `_split_complete_trials_multi_objective` does (failed and pruned ones are never below;
    /// a multi-objective study has no pruner).
    static func split(_ trials: [ObservedTrial], below count: Int, objectives: [StudyObjective]) -> (below: [ObservedTrial], above: [ObservedTrial]) {
        let isComplete = { (trial: ObservedTrial) in trial.state == .complete && trial.values?.count == objectives.count }
        let complete = trials.filter(isComplete)
        let below = MultiObjective.splitBelow(complete.map { MultiObjective.losses($0.values!, objectives) }, count: min(count, complete.count))
        return (complete.indices.filter { below.contains($0) }.map { complete[$0] },
                complete.indices.filter { !below.contains($0) }.map { complete[$0] } + trials.filter { !isComplete($0) })
    }

    /// The below group's mixture weights (oldest trial first): each trial's hypervolume
    /// contribution over the largest (Optuna 4.9's `_calculate_weights_below_for_multi_objective`).
    static func weightsBelow(_ below: [ObservedTrial], objectives: [StudyObjective]) -> [Double] {
        MultiObjective.weightsBelow(below.map { MultiObjective.losses($0.values!, objectives) })
    }

    /// One draw from the mixture: a kernel by its weight, then a value from that kernel.
    static func draw(from estimator: ParzenEstimator, using generator: inout SeededGenerator) -> Double {
        var u = generator.nextUnitDouble()
        var kernel = estimator.weights.count - 1
        for (k, w) in estimator.weights.enumerated() {
            if u < w { kernel = k; break }
            u -= w
        }
        let v = generator.nextUnitDouble()
        switch estimator.distribution {
        case .categorical(let count):
            var remaining = v
            for choice in 0..<count {
                remaining -= estimator.categoricalRows[kernel][choice]
                if remaining < 0 { return Double(choice) }
            }
            return Double(count - 1)
        case .float, .integer:
            let (mu, sigma) = (estimator.mus[kernel], estimator.sigmas[kernel])
            let z = TruncatedNormal.sample(a: (estimator.low - mu) / sigma, b: (estimator.high - mu) / sigma, u: v)
            let (low, high, isLog, step) = ParzenEstimator.bounds(estimator.distribution)
            var x = mu + sigma * z
            if isLog { x = exp(x) }
            guard let step else { return min(max(x, low), high) }
            // Back to the grid of the original bounds (half to even, as numpy rounds).
            let (gridLow, gridHigh) = (low + step / 2, high - step / 2)
            return min(max(gridLow + ((x - gridLow) / step).rounded(.toNearestOrEven) * step, gridLow), gridHigh)
        }
    }
}

/// Uniform sampling of a distribution (log-uniform for log parameters), as Optuna's RandomSampler.
public enum RandomSampler {
    public static func sample(_ distribution: SearchDistribution, using generator: inout SeededGenerator) -> Double {
        let u = generator.nextUnitDouble()
        switch distribution {
        case .categorical(let count):
            return Double(min(Int(u * Double(count)), count - 1))
        case .float(let low, let high, let log, let step):
            if let step {
                let steps = ((high - low) / step).rounded(.down)
                return low + (u * (steps + 1)).rounded(.down) * step
            }
            return log ? exp(Foundation.log(low) + u * (Foundation.log(high) - Foundation.log(low))) : low + u * (high - low)
        case .integer(let low, let high, let log, let step):
            if log {
                let x = exp(Foundation.log(Double(low) - 0.5) + u * (Foundation.log(Double(high) + 0.5) - Foundation.log(Double(low) - 0.5)))
                return min(max(x.rounded(), Double(low)), Double(high))
            }
            let steps = (high - low) / step
            return Double(low + min(Int(u * Double(steps + 1)), steps) * step)
        }
    }
}
