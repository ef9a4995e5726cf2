import Foundation

/// Logistic kernels on row statistics: a logistic loss on each row's scaled squared norm with
/// its gradient (Forward-Forward's layer loss is one), the same loss of candidate scores, and
/// the running column means and centred penalty of peer normalisation. Each is a single pass.
public enum LogisticKernels {
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

    /// Logistic loss of `z_r = scale·‖h_r‖² − shift` with target 1 for the first `positives`
    /// rows and 0 for the rest: `L = Σ_r softplus(−s_r z_r)` (summed, not averaged); writes
    /// `∂(L/M)/∂H_r = (σ(z_r) − t_r)/M · 2·scale · H_r` into `gradient`, M the row count.
    ///
    /// Shapes: h M×d, gradient M×d.
    public static func squaredNormLossAndGradient(_ h: Tensor, scale: Float, shift: Float, positives: Int,
                                                  gradient: inout Tensor) -> Double {
        let (m, d) = (h.rows, h.columns)
        gradient.resize(to: [m, d], on: h.backend)
        if let device = h.backend {
            return device.reduce(.squaredNormLoss, threads: m, [.pointer(h.address), .pointer(gradient.mutableAddress()), .int32(Int32(m)),
                                                                 .int32(Int32(d)), .float32(scale), .float32(shift), .int32(Int32(positives)),
                                                                 device.sumSlot]).sum
        }
        var lossSum = 0.0
        h.withUnsafePointer { hp in
            gradient.withUnsafeMutablePointer { gp in
                for r in 0..<m {
                    let row = hp + r * d, out = gp + r * d
                    var squares: Float = 0
                    for j in 0..<d { squares += row[j] * row[j] }
                    let logit = squares * scale - shift
                    let positive = r < positives
                    lossSum += Double(softplus(positive ? -logit : logit))
                    let coefficient = (sigmoid(logit) - (positive ? 1 : 0)) / Float(m) * 2 * scale
                    for j in 0..<d { out[j] = coefficient * row[j] }
                }
            }
        }
        return lossSum
    }

    /// `squaredNormLossAndGradient` while training: `lossScale ×` the summed loss is added to
    /// `total` (on a device there, with no wait).
    ///
    /// Shapes: h M×d, gradient M×d.
    public static func squaredNormLossAndGradient(_ h: Tensor, scale: Float, shift: Float, positives: Int, gradient: inout Tensor,
                                                  adding lossScale: Double, to total: LossSum) {
        guard let device = h.backend else {
            return total.add(lossScale * squaredNormLossAndGradient(h, scale: scale, shift: shift, positives: positives, gradient: &gradient))
        }
        let (m, d) = (h.rows, h.columns)
        gradient.resize(to: [m, d], on: device)
        device.reduce(.squaredNormLoss, threads: m, [.pointer(h.address), .pointer(gradient.mutableAddress()), .int32(Int32(m)), .int32(Int32(d)),
                                                     .float32(scale), .float32(shift), .int32(Int32(positives)), device.sumSlot],
                      adding: lossScale, to: total)
    }

    /// Per sample r: `softplus(shift − s[y_r, r])` for its label and the mean over the other
    /// candidates of `softplus(s[l, r] − shift)`, halved, summed over samples.
    ///
    /// Shapes: scores C×R (candidate-major), labels R.
    public static func candidateLoss(scores: Tensor, labels: some Collection<Int32>, shift: Float) -> Double {
        let (c, n) = (scores.rows, scores.columns)
        precondition(labels.count == n, "candidateLoss: \(labels.count) labels for \(n) samples")
        precondition(scores.backend == nil, "candidateLoss: the labels of \(scores.device) scores are a tensor on its device")
        var lossSum = 0.0
        scores.withUnsafePointer { s in
            for (r, label) in labels.enumerated() {
                let y = Int(label)
                var negative: Float = 0
                for candidate in 0..<c where candidate != y { negative += softplus(s[candidate * n + r] - shift) }
                let positive = softplus(shift - s[y * n + r])
                lossSum += Double(positive + negative / Float(c - 1)) / 2
            }
        }
        return lossSum
    }

    /// `candidateLoss` with the labels rows `start ..< start + N` of a tensor of class indices as
    /// floats on the scores' device, added to `total` there with no wait.
    ///
    /// Shapes: scores C×N (candidate-major), labels ≥ start + N.
    public static func candidateLoss(scores: Tensor, labels: Tensor, startingAt start: Int, shift: Float, addingTo total: LossSum) {
        let n = scores.columns
        precondition(start >= 0 && start + n <= labels.count, "candidateLoss: labels \(start)..<\(start + n) of \(labels.count)")
        guard let device = scores.backend else {
            return total.add(candidateLoss(scores: scores, labels: labels.scalars[start..<(start + n)].map { Int32($0) }, shift: shift))
        }
        device.reduce(.candidateLoss, threads: n, [.pointer(scores.address), .pointer(labels.address + UInt64(start * 4)), .int32(Int32(scores.rows)),
                                                   .int32(Int32(n)), .float32(shift), device.sumSlot], to: total)
    }

    /// `mean ← momentum·mean + (1 − momentum)·(column means of h's first `rows` rows)`.
    ///
    /// Shapes: h M×d (rows ≤ M), mean d.
    public static func blendColumnMeans(of h: Tensor, rows: Int, momentum: Float, into mean: inout Tensor) {
        let d = h.columns
        precondition(mean.count == d && rows <= h.rows, "blendColumnMeans: \(h.shape), \(rows) rows, mean \(mean.shape)")
        if let device = h.backend {
            return device.launch(.blendColumnMeans, threads: d, [.pointer(h.address), .pointer(mean.mutableAddress()), .int32(Int32(rows)),
                                                                  .int32(Int32(d)), .float32(momentum)])
        }
        h.withUnsafePointer { hp in
            mean.withUnsafeMutablePointer { rp in
                for j in 0..<d { rp[j] *= momentum }
                let share = (1 - momentum) / Float(rows)
                for r in 0..<rows {
                    let row = hp + r * d
                    for j in 0..<d { rp[j] += share * row[j] }
                }
            }
        }
    }

    /// Adds `scale·(v_j − v̄)` to every column j of the first `rows` rows of `gradient`, v̄ the
    /// mean of v.
    ///
    /// Shapes: v d, gradient M×d (rows ≤ M).
    public static func addCentered(_ v: Tensor, scale: Float, rows: Int, to gradient: inout Tensor) {
        let d = v.count
        precondition(gradient.columns == d && rows <= gradient.rows, "addCentered: \(v.shape) into \(gradient.shape)")
        if let device = v.backend {
            return device.launch(.addCentered, threads: rows * d, [.pointer(v.address), .pointer(gradient.mutableAddress()), .int32(Int32(rows)),
                                                                    .int32(Int32(d)), .float32(scale)])
        }
        v.withUnsafePointer { vp in
            var mean: Float = 0
            for j in 0..<d { mean += vp[j] }
            mean /= Float(d)
            gradient.withUnsafeMutablePointer { gp in
                for r in 0..<rows {
                    let out = gp + r * d
                    for j in 0..<d { out[j] += scale * (vp[j] - mean) }
                }
            }
        }
    }
}
