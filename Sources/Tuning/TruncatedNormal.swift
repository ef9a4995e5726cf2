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

extension TruncatedNormal {
    /// Φ⁻¹(p) for p in (0, 1): Acklam's rational approximation refined by one Halley step
    /// (relative error ~1e-15).
    static func inverseNdtr(_ p: Double) -> Double {
        precondition(p > 0 && p < 1, "inverseNdtr needs 0 < p < 1, got \(p)")
        let a = [-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00]
        let b = [-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01]
        let c = [-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00]
        let d = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00]
        let low = 0.02425
        var x: Double
        if p < low {
            let q = (-2 * log(p)).squareRoot()
            x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        } else if p <= 1 - low {
            let q = p - 0.5, r = q * q
            x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
                / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1)
        } else {
            let q = (-2 * log(1 - p)).squareRoot()
            x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1)
        }
        let e = ndtr(x) - p
        let u = e * (2 * Double.pi).squareRoot() * exp(x * x / 2)
        return x - u / (1 + x * u / 2)
    }

    /// A draw from the standard normal truncated to [a, b], by the inverse CDF of a uniform
    /// `u` in [0, 1); mirrored into the left tail so that tiny masses keep their precision.
    static func sample(a: Double, b: Double, u: Double) -> Double {
        if a >= 0 { return -sample(a: -b, b: -a, u: 1 - u) }
        let (lower, upper) = (ndtr(a), ndtr(b))
        let p = min(max(lower + u * (upper - lower), Double.leastNormalMagnitude), 1 - Double.ulpOfOne)
        return min(max(inverseNdtr(p), a), b)
    }
}
