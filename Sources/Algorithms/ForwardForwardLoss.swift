import Datasets
import TensorCore

/// Forward-Forward's local loss (Hinton 2022, loeweX's form), written on TensorCore's logistic
/// kernels: each layer's goodness `G_n` (sum or mean of squared activities) should exceed θ on
/// positive rows and stay below it on negative ones.
/// - Paper: Hinton, "The Forward-Forward Algorithm: Some Preliminary Investigations", arXiv 2212.13345, 2022.
enum ForwardForwardLoss {
    /// How a row's goodness is formed from its activities.
    enum Goodness: String, Sendable {
        /// `Σ_j h_j²`.
        case sum
        /// `(1/d) Σ_j h_j²`.
        case mean

        /// The factor on `Σ_j h_j²` for rows of `d` activities.
        func scale(width d: Int) -> Float { self == .sum ? 1 : 1 / Float(d) }
    }

    /// The layer loss over rows whose first `positives` are positive and the rest negative:
    /// `L = (1/M) Σ_n softplus(−s_n (G_n − θ))`, M the row count; writes
    /// `∂L/∂Z = (σ(G_n − θ) − t_n)/M · 2H (· 1/d for mean goodness)` into `gradient`.
    /// Adds `lossScale ×` the summed loss (M·L) to `total`.
    ///
    /// Shapes: h M×d (ReLU output), gradient M×d.
    /// NOTE: the ReLU mask is implied: H is 0 wherever Z ≤ 0, so the gradient is too.
    static func lossAndGradient(_ h: Tensor, positives: Int, threshold: Float, kind: Goodness,
                                gradient: inout Tensor, adding lossScale: Double, to total: LossSum) {
        LogisticKernels.squaredNormLossAndGradient(h, scale: kind.scale(width: h.columns), shift: threshold,
                                                   positives: positives, gradient: &gradient, adding: lossScale, to: total)
    }

    /// Peer normalisation (Hinton; loeweX's loss form): updates the running mean activities
    /// `r ← μ·r + (1−μ)·mean_pos(H)` and adds `∂(λ·P)/∂Z = λ(1−μ)(2/d)(r_j − r̄)/B` to the
    /// positive rows of `gradient`, ungated by the ReLU (the gradient of `λ·peerPenalty`).
    ///
    /// Shapes: h M×d with the first `positives` rows positive; runningMean d; gradient M×d.
    static func peerNormalization(_ h: Tensor, positives: Int, runningMean: inout Tensor, weight: Float,
                                  momentum: Float, gradient: inout Tensor) {
        let d = h.columns
        LogisticKernels.blendColumnMeans(of: h, rows: positives, momentum: momentum, into: &runningMean)
        let scale = weight * (1 - momentum) * 2 / Float(d) / Float(positives)
        LogisticKernels.addCentered(runningMean, scale: scale, rows: positives, to: &gradient)
    }

    /// Peer normalisation's penalty `P = (1/d)Σ_j (r̄ − r_j)²` of running means r (for checks;
    /// training needs only its gradient).
    static func peerPenalty(_ runningMean: Tensor) -> Float {
        let r = runningMean.scalars
        let mean = r.reduce(0, +) / Float(r.count)
        return r.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(r.count)
    }

    /// The validation loss of one layer in expectation over the wrong labels: per sample, the
    /// loss of its true label as a positive row and the mean loss of the others as negative
    /// rows, halved as the training loss averages B positive and B negative rows.
    ///
    /// Shapes: goodness C×R (candidate-major: row l holds every sample under label l), the
    /// batch's rows `start ..< start + R`.
    /// Adds it to `total` where it is computed.
    static func expectedLoss(goodness: Tensor, of batch: Batch, startingAt start: Int, threshold: Float, addingTo total: LossSum) {
        guard goodness.backend != nil else {
            return total.add(LogisticKernels.candidateLoss(scores: goodness, labels: batch.labels[start..<(start + goodness.columns)], shift: threshold))
        }
        LogisticKernels.candidateLoss(scores: goodness, labels: batch.deviceLabels, startingAt: start, shift: threshold, addingTo: total)
    }
}
