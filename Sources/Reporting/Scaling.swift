import Foundation
import Records
import Results

/// How an algorithm's training cost grows with the work (a scaling suite's runs): the least-
/// squares slope k of log time against log work, time ∝ work^k, with work the counted FLOPs of
/// the window. k < 1: the larger problems use the machine better; k ≈ 1: time follows the work.
public enum Scaling {
    /// One algorithm's fit.
    public struct Fit: Sendable, Equatable {
        public var algorithm: String
        /// Runs in the fit.
        public var points: Int
        /// The exponent k of time ∝ work^k, and the fit's R².
        public var exponent: Double
        public var rSquared: Double
    }

    /// The fit of each algorithm with at least two runs of different work, by algorithm.
    public static func fits(_ runs: [StoredRun]) -> [Fit] {
        Dictionary(grouping: runs.filter { $0.status == .completed && $0.trainFlops > 0 && $0.trainSeconds > 0 }, by: \.algorithm)
            .sorted { $0.key < $1.key }
            .compactMap { algorithm, members in
                let x = members.map { log10(Double($0.trainFlops)) }, y = members.map { log10($0.trainSeconds) }
                let mx = Summary(x).mean, my = Summary(y).mean
                let sxx = x.map { ($0 - mx) * ($0 - mx) }.reduce(0, +)
                guard members.count >= 2, sxx > 1e-12 else { return nil }
                let sxy = zip(x, y).map { ($0 - mx) * ($1 - my) }.reduce(0, +), syy = y.map { ($0 - my) * ($0 - my) }.reduce(0, +)
                let k = sxy / sxx
                return Fit(algorithm: algorithm, points: members.count, exponent: k, rSquared: syy > 0 ? sxy * sxy / (sxx * syy) : 1)
            }
    }

    /// `ALGORITHM: time ∝ work^k (R² r, n runs)`.
    public static func line(_ fit: Fit) -> String {
        String(format: "%@: training time ∝ work^%.3f (R² %.3f, %d runs)", fit.algorithm, fit.exponent, fit.rSquared, fit.points)
    }
}
