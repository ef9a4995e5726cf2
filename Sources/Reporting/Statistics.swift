import Foundation
import Randomness

/// Summary statistics of repeated runs: mean, sample SD (n − 1), t-based 95% CI, and
/// percentile-bootstrap CIs of a paired mean difference.
public struct Summary: Sendable, Equatable {
    public var n: Int
    public var mean: Double
    /// Sample standard deviation (n − 1); 0 for a single value.
    public var sd: Double
    /// The 95% confidence interval of the mean, `mean ± t(0.975, n−1)·sd/√n`; nil for n < 2.
    public var ci95: ClosedRange<Double>?

    /// The summary of `values` (NaN mean for none).
    public init(_ values: [Double]) {
        let n = values.count
        let mean = n == 0 ? .nan : values.reduce(0, +) / Double(n)
        self.n = n
        self.mean = mean
        sd = n < 2 ? 0 : (values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n - 1)).squareRoot()
        if n >= 2 {
            let half = Statistics.tQuantile975(degreesOfFreedom: n - 1) * sd / Double(n).squareRoot()
            ci95 = (mean - half)...(mean + half)
        }
    }
}

/// The statistics behind the report's tables.
public enum Statistics {
    /// Student's t 0.975 quantile for 1–30 degrees of freedom (then the normal 1.96 limit, via
    /// the Cornish–Fisher expansion for larger df).
    public static func tQuantile975(degreesOfFreedom df: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
                               2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
                               2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        precondition(df >= 1)
        if df <= table.count { return table[df - 1] }
        let z = 1.959964, v = Double(df)
        return z + (z * z * z + z) / (4 * v) + (5 * pow(z, 5) + 16 * z * z * z + 3 * z) / (96 * v * v)
    }

    /// Percentile-bootstrap 95% CI of the mean of `differences` (paired deltas), from `resamples`
    /// resamples drawn with a seeded generator; nil for fewer than 2 values.
    public static func bootstrapCI95(_ differences: [Double], resamples: Int = 10_000, seed: UInt64 = 1) -> ClosedRange<Double>? {
        let n = differences.count
        guard n >= 2 else { return nil }
        var generator = SeededGenerator(seed: seed, stream: "bootstrap")
        var means = [Double](repeating: 0, count: resamples)
        for r in 0..<resamples {
            var sum = 0.0
            for _ in 0..<n { sum += differences[generator.nextInt(below: n)] }
            means[r] = sum / Double(n)
        }
        means.sort()
        return percentile(means, 2.5)...percentile(means, 97.5)
    }

    /// Linear-interpolation percentile of sorted values (numpy's default).
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        let position = q / 100 * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }
}
