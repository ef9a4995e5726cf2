import Foundation

/// TPE's Parzen estimator of one parameter, as Optuna 4.9 builds it (univariate, prior weight 1,
/// magic clip, no endpoints): one truncated-normal (or categorical) kernel per observation plus
/// a prior kernel, mixed with `defaultWeights`.
/// - Paper: Bergstra et al., "Algorithms for Hyper-Parameter Optimization", NeurIPS 2011;
///   Watanabe, "Tree-Structured Parzen Estimator: Understanding Its Algorithm Components", 2023.
public struct ParzenEstimator: Sendable {
    public let distribution: SearchDistribution
    /// Mixture weights, observations first, the prior last; they sum to 1.
    public let weights: [Double]
    /// Kernel centres (logged for log parameters), the prior's last. Empty for categoricals.
    public let mus: [Double]
    /// Kernel bandwidths, the prior's last. Empty for categoricals.
    public let sigmas: [Double]
    /// Categorical kernels: one row of choice probabilities per kernel, the prior's last.
    public let categoricalRows: [[Double]]
    /// The support the kernels are truncated to (widened by half a step, logged when log).
    let low: Double, high: Double

    /// `min(ceil(0.1·n), 25)`: how many of n trials form the "below" group.
    public static func defaultGamma(_ n: Int) -> Int { min(Int((0.1 * Double(n)).rounded(.up)), 25) }

    /// Ones for fewer than 25 trials; otherwise a ramp from 1/n to 1 over the oldest n − 25,
    /// then 25 ones (older trials weigh less).
    public static func defaultWeights(_ n: Int) -> [Double] {
        if n == 0 { return [] }
        if n < 25 { return Array(repeating: 1, count: n) }
        let count = n - 25
        let ramp = count == 1 ? [1 / Double(n)]
            : (0..<count).map { 1 / Double(n) + (1 - 1 / Double(n)) * Double($0) / Double(count - 1) }
        return ramp + Array(repeating: 1, count: 25)
    }

    /// The estimator of `observations` (internal representation, oldest first), mixed with
    /// `defaultWeights` or, for a multi-objective study's below group, `predeterminedWeights`.
    public init(observations: [Double], distribution: SearchDistribution, priorWeight: Double = 1, predeterminedWeights: [Double]? = nil) {
        self.distribution = distribution
        precondition(predeterminedWeights == nil || predeterminedWeights!.count == observations.count)
        var w = (predeterminedWeights ?? Self.defaultWeights(observations.count)) + [priorWeight]
        let total = w.reduce(0, +)
        w = w.map { $0 / total }
        weights = w
        switch distribution {
        case .categorical(let count):
            let kernels = observations.count + 1
            var rows = [[Double]](repeating: [Double](repeating: priorWeight / Double(kernels), count: count), count: kernels)
            for (i, choice) in observations.enumerated() { rows[i][Int(choice)] += 1 }
            categoricalRows = rows.map { row in let s = row.reduce(0, +); return row.map { $0 / s } }
            mus = []; sigmas = []; low = 0; high = 0
        case .float, .integer:
            let (lo, hi, isLog, _) = Self.bounds(distribution)
            let transform: (Double) -> Double = isLog ? { Foundation.log($0) } : { $0 }
            let centres = observations.map(transform)
            let (l, h) = (transform(lo), transform(hi))
            mus = centres + [0.5 * (l + h)]
            sigmas = Self.bandwidths(centres, low: l, high: h) + [h - l]
            categoricalRows = []
            low = l; high = h
        }
    }

    /// The widened bounds (±step/2 for stepped parameters), whether logged, and the step.
    static func bounds(_ distribution: SearchDistribution) -> (low: Double, high: Double, log: Bool, step: Double?) {
        switch distribution {
        case .float(let low, let high, let log, let step):
            return (low - (step ?? 0) / 2, high + (step ?? 0) / 2, log, step)
        case .integer(let low, let high, let log, let step):
            return (Double(low) - Double(step) / 2, Double(high) + Double(step) / 2, log, Double(step))
        case .categorical:
            return (0, 0, false, nil)
        }
    }

    /// Each kernel's bandwidth: the larger gap to its sorted neighbours (only the inner gap for
    /// the outermost two), clipped to [(high − low)/min(100, n + 2), high − low].
    static func bandwidths(_ mus: [Double], low: Double, high: Double) -> [Double] {
        let order = mus.indices.sorted { mus[$0] < mus[$1] }
        let ext: [Double] = [low] + order.map { mus[$0] } + [high]
        var sorted = [Double](repeating: 0, count: mus.count)
        for j in 0..<mus.count {
            let left: Double = ext[j + 1] - ext[j]
            let right: Double = ext[j + 2] - ext[j + 1]
            sorted[j] = max(left, right)
        }
        if ext.count >= 4 {
            sorted[0] = ext[2] - ext[1]
            sorted[sorted.count - 1] = ext[ext.count - 2] - ext[ext.count - 3]
        }
        let maxSigma = high - low
        let minSigma = (high - low) / min(100, 1 + Double(mus.count + 1))
        var sigmas = [Double](repeating: 0, count: mus.count)
        for (position, index) in order.enumerated() { sigmas[index] = min(max(sorted[position], minSigma), maxSigma) }
        return sigmas
    }

    /// log of the mixture density (or mass, for stepped and categorical parameters) at `x`
    /// (internal representation).
    public func logPDF(_ x: Double) -> Double {
        var terms: [Double] = []
        switch distribution {
        case .categorical:
            terms = categoricalRows.indices.map { log(weights[$0]) + log(categoricalRows[$0][Int(x)]) }
        case .float, .integer:
            let (_, _, isLog, step) = Self.bounds(distribution)
            let transform: (Double) -> Double = isLog ? { Foundation.log($0) } : { $0 }
            for k in mus.indices {
                let (mu, sigma) = (mus[k], sigmas[k])
                let kernel: Double
                if let step {
                    let left = (transform(x - step / 2) - mu) / sigma, right = (transform(x + step / 2) - mu) / sigma
                    kernel = TruncatedNormal.logGaussMass(left, right)
                        - TruncatedNormal.logGaussMass((low - mu) / sigma, (high - mu) / sigma)
                } else {
                    kernel = TruncatedNormal.logPDF(transform(x), mu: mu, sigma: sigma, low: low, high: high)
                }
                terms.append(log(weights[k]) + kernel)
            }
        }
        let maximum = terms.max() ?? -.infinity
        let shift = maximum.isFinite ? maximum : 0
        return shift + log(terms.reduce(0) { $0 + exp($1 - shift) })
    }
}
