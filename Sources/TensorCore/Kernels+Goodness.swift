import Foundation

/// Forward-Forward kernels: per-row normalisation and the goodness loss with its gradient, each a
/// single pass over the rows.
public enum GoodnessKernels {
    /// How a row is scaled to unit size.
    public enum Normalization: String, Sendable {
        /// `x / (sqrt(mean(x²)) + ε)`: unit root-mean-square.
        case rms
        /// `x / (sqrt(Σx²) + ε)`: unit length.
        case l2
    }

    /// How a row's goodness is formed from its activities.
    public enum Goodness: String, Sendable {
        /// `Σ_j h_j²`.
        case sum
        /// `(1/d) Σ_j h_j²`.
        case mean
    }

    /// `y_r = x_r / (‖x_r‖ + ε)` per row (ε outside the square root; a zero row stays zero).
    ///
    /// Shapes: x N×d → y N×d.
    public static func normalizeRows(_ x: Tensor, into y: inout Tensor, kind: Normalization, epsilon: Float) {
        let (n, d) = (x.rows, x.columns)
        y.resize(to: [n, d])
        x.withUnsafePointer { xp in
            y.withUnsafeMutablePointer { yp in
                for r in 0..<n {
                    let row = xp + r * d, out = yp + r * d
                    var squares: Float = 0
                    for j in 0..<d { squares += row[j] * row[j] }
                    let norm = (kind == .rms ? squares / Float(d) : squares).squareRoot()
                    let scale = 1 / (norm + epsilon)
                    for j in 0..<d { out[j] = row[j] * scale }
                }
            }
        }
    }

    /// The goodness of each row. Shapes: h N×d → goodness N.
    public static func goodness(_ h: Tensor, kind: Goodness, into goodness: UnsafeMutablePointer<Float>) {
        let (n, d) = (h.rows, h.columns)
        let scale: Float = kind == .sum ? 1 : 1 / Float(d)
        h.withUnsafePointer { hp in
            for r in 0..<n {
                let row = hp + r * d
                var sum: Float = 0
                for j in 0..<d { sum += row[j] * row[j] }
                goodness[r] = sum * scale
            }
        }
    }

    /// `softplus(x) = max(x, 0) + log1p(exp(−|x|))`, stable for any x.
    @inline(__always)
    public static func softplus(_ x: Float) -> Float {
        max(x, 0) + Foundation.log1p(Foundation.exp(-abs(x)))
    }

    /// `σ(x)`, stable for any x.
    @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        x >= 0 ? 1 / (1 + Foundation.exp(-x)) : Foundation.exp(x) / (1 + Foundation.exp(x))
    }

    /// The FF layer loss over rows whose first `positives` are positive and the rest negative:
    /// `L = (1/M) Σ_n softplus(−s_n (G_n − θ))`, M the row count; writes
    /// `∂L/∂Z = (σ(G_n − θ) − t_n)/M · 2H (· 1/d for mean goodness)` into `gradient`.
    /// Returns the summed (not averaged) loss.
    ///
    /// Shapes: h M×d (ReLU output), gradient M×d.
    /// NOTE: the ReLU mask is implied: H is 0 wherever Z ≤ 0, so the gradient is too.
    public static func lossAndGradient(_ h: Tensor, positives: Int, threshold: Float, kind: Goodness,
                                       gradient: inout Tensor) -> Double {
        let (m, d) = (h.rows, h.columns)
        gradient.resize(to: [m, d])
        let goodnessScale: Float = kind == .sum ? 1 : 1 / Float(d)
        var lossSum = 0.0
        h.withUnsafePointer { hp in
            gradient.withUnsafeMutablePointer { gp in
                for r in 0..<m {
                    let row = hp + r * d, out = gp + r * d
                    var squares: Float = 0
                    for j in 0..<d { squares += row[j] * row[j] }
                    let logit = squares * goodnessScale - threshold
                    let positive = r < positives
                    lossSum += Double(softplus(positive ? -logit : logit))
                    let coefficient = (sigmoid(logit) - (positive ? 1 : 0)) / Float(m) * 2 * goodnessScale
                    for j in 0..<d { out[j] = coefficient * row[j] }
                }
            }
        }
        return lossSum
    }

    /// Peer normalisation (Hinton; loeweX's loss form): updates the running mean activities
    /// `r ← μ·r + (1−μ)·mean_pos(H)` and adds `∂(λ·P)/∂Z = λ(1−μ)(2/d)(r_j − r̄)/B` to the
    /// positive rows of `gradient`, ungated by the ReLU. Returns `P = (1/d)Σ_j (r̄ − r_j)²`.
    ///
    /// Shapes: h M×d with the first `positives` rows positive; runningMean d; gradient M×d.
    public static func peerNormalization(_ h: Tensor, positives: Int, runningMean: inout Tensor, weight: Float,
                                         momentum: Float, gradient: inout Tensor) -> Float {
        let d = h.columns
        var penalty: Float = 0
        h.withUnsafePointer { hp in
            runningMean.withUnsafeMutablePointer { rp in
                for j in 0..<d { rp[j] *= momentum }
                let share = (1 - momentum) / Float(positives)
                for r in 0..<positives {
                    let row = hp + r * d
                    for j in 0..<d { rp[j] += share * row[j] }
                }
                var mean: Float = 0
                for j in 0..<d { mean += rp[j] }
                mean /= Float(d)
                let scale = weight * (1 - momentum) * 2 / Float(d) / Float(positives)
                gradient.withUnsafeMutablePointer { gp in
                    for j in 0..<d { penalty += (rp[j] - mean) * (rp[j] - mean) }
                    for r in 0..<positives {
                        let out = gp + r * d
                        for j in 0..<d { out[j] += scale * (rp[j] - mean) }
                    }
                }
            }
        }
        return penalty / Float(d)
    }
}
