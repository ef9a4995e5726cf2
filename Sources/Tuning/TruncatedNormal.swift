import Foundation

/// The truncated-normal arithmetic of Optuna's `_truncnorm.py` (a port of SciPy's), in the
/// numerically careful forms TPE relies on.
enum TruncatedNormal {
    /// The standard normal CDF.
    static func ndtr(_ x: Double) -> Double { 0.5 * erfc(-x / 2.0.squareRoot()) }

    /// log Φ(a), accurate in both tails (an asymptotic series below −20).
    static func logNdtr(_ a: Double) -> Double {
        if a > 6 { return -ndtr(-a) }
        if a > -20 { return log(ndtr(a)) }
        let logLHS = -0.5 * a * a - log(-a) - 0.5 * log(2 * Double.pi)
        var lastTotal = 0.0, rightHandSide = 1.0, numerator = 1.0, denominatorFactor = 1.0
        let denominatorConstant = 1 / (a * a)
        var sign = 1.0, i = 0.0
        while abs(lastTotal - rightHandSide) > Double.ulpOfOne {
            i += 1
            lastTotal = rightHandSide
            sign = -sign
            denominatorFactor *= denominatorConstant
            numerator *= 2 * i - 1
            rightHandSide += sign * numerator * denominatorFactor
        }
        return logLHS + log(rightHandSide)
    }

    /// log(e^p − e^q) for p ≥ q.
    static func logDifference(_ p: Double, _ q: Double) -> Double { p + log1p(-exp(q - p)) }

    /// log(Φ(b) − Φ(a)), the log mass of the standard normal on [a, b].
    static func logGaussMass(_ a: Double, _ b: Double) -> Double {
        if b <= 0 { return logDifference(logNdtr(b), logNdtr(a)) }
        if a > 0 { return logDifference(logNdtr(-a), logNdtr(-b)) }
        return log1p(-ndtr(a) - ndtr(-b))
    }

    /// The log density at `x` of N(mu, sigma²) truncated to [low, high]; −∞ outside.
    static func logPDF(_ x: Double, mu: Double, sigma: Double, low: Double, high: Double) -> Double {
        let (a, b) = ((low - mu) / sigma, (high - mu) / sigma)
        let z = (x - mu) / sigma
        guard z >= a, z <= b else { return -.infinity }
        return -(z * z) / 2 - log((2 * Double.pi).squareRoot()) - logGaussMass(a, b) - log(sigma)
    }
}
