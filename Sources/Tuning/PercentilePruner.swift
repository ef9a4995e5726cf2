/// Optuna's PercentilePruner (MedianPruner at 50): stop a trial whose best intermediate value so
/// far is worse than the given percentile of the completed trials' values at the same step.
public struct PercentilePruner: Sendable, Equatable {
    public var percentile: Double
    public var startupTrials: Int
    public var warmupSteps: Int
    public var intervalSteps: Int
    public var minTrials: Int

    /// Optuna's `MedianPruner()` defaults: 5 startup trials, no warm-up, every step, 1 trial.
    public static let median = PercentilePruner(percentile: 50, startupTrials: 5, warmupSteps: 0, intervalSteps: 1, minTrials: 1)

    public init(percentile: Double, startupTrials: Int, warmupSteps: Int, intervalSteps: Int, minTrials: Int) {
        self.percentile = percentile
        self.startupTrials = startupTrials
        self.warmupSteps = warmupSteps
        self.intervalSteps = intervalSteps
        self.minTrials = minTrials
    }

    /// Whether a trial with these intermediate values (step → value, objective maximised)
    /// should stop, given the intermediate values of the completed trials.
    public func shouldPrune(_ intermediate: [Int: Double], completed: [[Int: Double]]) -> Bool {
        guard !completed.isEmpty, completed.count >= startupTrials, let step = intermediate.keys.max(), step >= warmupSteps else {
            return false
        }
        let nearest = (step - warmupSteps) / intervalSteps * intervalSteps + warmupSteps
        let secondLast = intermediate.keys.filter { $0 != step }.max() ?? -1
        guard secondLast < nearest else { return false }
        let finite = intermediate.values.filter { !$0.isNaN }
        guard let best = finite.max() else { return true }   // every value NaN: prune
        let values = completed.compactMap { $0[step] }.filter { !$0.isNaN }
        guard values.count >= minTrials, !values.isEmpty else { return false }
        return best < Self.percentile(values, 100 - percentile)
    }

    /// numpy's `nanpercentile` with linear interpolation.
    static func percentile(_ values: [Double], _ q: Double) -> Double {
        let sorted = values.sorted()
        let position = q / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
