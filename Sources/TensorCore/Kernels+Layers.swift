/// The device side of NeuralNetwork's convolutional-network layers (MaxPool2D, BatchNorm2D,
/// ChannelsLast) and of CaFo's predictor losses (SquaredError, SparsemaxLoss): their CPU loops
/// live with them; on a device they are these kernels.
/// Maps are channels-last, N×H×W×C.
public enum DeviceLayerKernels {
    /// 2×2 max pooling, stride 2, floor mode; with `winners` (a tensor of codes 0–3, the first
    /// maximum in row-major window order) kept for the backward pass.
    ///
    /// Shapes: x N×H×W×C → y N×(H/2)×(W/2)×C, winners as y.
    public static func maxPoolForward(_ x: Tensor, into y: inout Tensor, winners: inout Tensor, keep: Bool) {
        let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let device = x.backend!
        y.resize(to: [n, h / 2, w / 2, c], on: device)
        if keep { winners.resize(to: y.shape, on: device) }
        device.launch(.maxPoolForward, threads: y.count, [.pointer(x.address), .pointer(y.mutableAddress()), .pointer(keep ? winners.mutableAddress() : 0),
                                                          .int32(Int32(n)), .int32(Int32(h)), .int32(Int32(w)), .int32(Int32(c))])
    }

    /// `dx = g` at each window's winner, 0 elsewhere and where no window covers.
    ///
    /// Shapes: g and winners N×(H/2)×(W/2)×C → dx of `inputShape` N×H×W×C.
    public static func maxPoolBackward(_ g: Tensor, winners: Tensor, inputShape: [Int], into dx: inout Tensor) {
        let device = g.backend!
        dx.resize(to: inputShape, on: device)
        device.launch(.maxPoolBackward, threads: dx.count, [.pointer(g.address), .pointer(winners.address), .pointer(dx.mutableAddress())]
                      + inputShape.map { .int32(Int32($0)) })
    }

    /// Random crop and flip of channels-first images (reflect padding), each row's offsets and
    /// flip drawn from `key` as `Augmentation.draw` draws them; `source` read, `images` written.
    ///
    /// Shapes: source and images N×(C·H·W).
    public static func cropAndFlip(_ source: Tensor, key: UInt64, channels c: Int, height h: Int, width w: Int, into images: inout Tensor) {
        let device = source.backend!
        images.resize(to: source.shape, on: device)
        device.launch(.cropFlip, threads: source.count, [.pointer(source.address), .int64(Int64(bitPattern: key)), .pointer(images.mutableAddress())]
                      + [source.rows, c, h, w].map { .int32(Int32($0)) })
    }

    /// Channels-first rows to channels-last maps. Shapes: x N×(C·H·W) → y N×H×W×C.
    public static func channelsLast(_ x: Tensor, channels c: Int, height h: Int, width w: Int, into y: inout Tensor) {
        let (n, device) = (x.rows, x.backend!)
        y.resize(to: [n, h, w, c], on: device)
        device.launch(.channelsLast, threads: y.count, [.pointer(x.address), .pointer(y.mutableAddress())] + [n, c, h, w].map { .int32(Int32($0)) })
    }

    /// The backward of `channelsLast`. Shapes: g N×H×W×C → dx N×(C·H·W).
    public static func channelsFirst(_ g: Tensor, into dx: inout Tensor) {
        let (n, h, w, c) = (g.shape[0], g.shape[1], g.shape[2], g.shape[3])
        let device = g.backend!
        dx.resize(to: [n, c * h * w], on: device)
        device.launch(.channelsFirst, threads: dx.count, [.pointer(g.address), .pointer(dx.mutableAddress())] + [n, c, h, w].map { .int32(Int32($0)) })
    }

    /// Batch statistics of each channel over every pixel (summed in double): `mean`,
    /// `inverse = 1/√(var + ε)`, and the running statistics blended in with `momentum` (the
    /// variance unbiased).
    ///
    /// Shapes: x N×H×W×C; mean, inverse, runningMean, runningVariance C.
    public static func batchNormStatistics(_ x: Tensor, epsilon: Float, momentum: Float, mean: inout Tensor, inverse: inout Tensor,
                                           runningMean: inout Tensor, runningVariance: inout Tensor) {
        let c = runningMean.count, device = x.backend!
        mean.resize(to: [c], on: device)
        inverse.resize(to: [c], on: device)
        device.launch(.batchNormStatistics, threads: c, [.pointer(x.address), .int32(Int32(x.count / c)), .int32(Int32(c)), .float32(epsilon),
                                                         .float32(momentum), .pointer(mean.mutableAddress()), .pointer(inverse.mutableAddress()),
                                                         .pointer(runningMean.mutableAddress()), .pointer(runningVariance.mutableAddress())])
    }

    /// Inference statistics: `mean = runningMean`, `inverse = 1/√(runningVariance + ε)`. Shapes: C each.
    public static func batchNormInference(runningMean: Tensor, runningVariance: Tensor, epsilon: Float, mean: inout Tensor, inverse: inout Tensor) {
        let c = runningMean.count, device = runningMean.backend!
        mean.resize(to: [c], on: device)
        inverse.resize(to: [c], on: device)
        device.launch(.batchNormInference, threads: c, [.pointer(runningMean.address), .pointer(runningVariance.address), .int32(Int32(c)),
                                                        .float32(epsilon), .pointer(mean.mutableAddress()), .pointer(inverse.mutableAddress())])
    }

    /// `x̂ = (x − mean)·inverse` (into `hats` when given), `y = γ·x̂ + β`.
    ///
    /// Shapes: x, y, hats N×H×W×C; mean, inverse, gamma, beta C.
    public static func batchNormForward(_ x: Tensor, mean: Tensor, inverse: Tensor, gamma: Tensor, beta: Tensor, into y: inout Tensor,
                                        hats: inout Tensor, keepHats: Bool) {
        let c = gamma.count, device = x.backend!
        y.resize(to: x.shape, on: device)
        if keepHats { hats.resize(to: x.shape, on: device) }
        device.launch(.batchNormForward, threads: x.count, [.pointer(x.address), .pointer(mean.address), .pointer(inverse.address),
                                                            .pointer(gamma.address), .pointer(beta.address), .pointer(y.mutableAddress()),
                                                            .pointer(keepHats ? hats.mutableAddress() : 0), .int64(Int64(x.count)), .int32(Int32(c))])
    }

    /// The backward pass: per channel `mean(g)` and `mean(g·x̂)` (summed in double; `dγ += Σg·x̂`,
    /// `dβ += Σg` when `affine`), then, when `dx` is wanted, `dx = γ·inverse·(g − mean(g) − x̂·mean(g·x̂))`.
    ///
    /// Shapes: g, hats, dx N×H×W×C; gamma, inverse, dgamma, dbeta, meanG, meanGHat C.
    public static func batchNormBackward(_ g: Tensor, hats: Tensor, gamma: Tensor, inverse: Tensor, affine: Bool,
                                         dgamma: inout Tensor, dbeta: inout Tensor, meanG: inout Tensor, meanGHat: inout Tensor,
                                         dx: inout Tensor, wantsInputGradient: Bool) {
        let c = gamma.count, device = g.backend!
        meanG.resize(to: [c], on: device)
        meanGHat.resize(to: [c], on: device)
        device.launch(.batchNormBackwardSums, threads: c, [.pointer(g.address), .pointer(hats.address), .int32(Int32(g.count / c)), .int32(Int32(c)),
                                                           .pointer(meanG.mutableAddress()), .pointer(meanGHat.mutableAddress()),
                                                           .pointer(affine ? dgamma.mutableAddress() : 0), .pointer(affine ? dbeta.mutableAddress() : 0)])
        guard wantsInputGradient else { return }
        dx.resize(to: g.shape, on: device)
        device.launch(.batchNormBackward, threads: g.count, [.pointer(g.address), .pointer(hats.address), .pointer(gamma.address),
                                                             .pointer(inverse.address), .pointer(meanG.address), .pointer(meanGHat.address),
                                                             .pointer(dx.mutableAddress()), .int64(Int64(g.count)), .int32(Int32(c))])
    }

    /// Mean and biased variance of each channel over every pixel (in double).
    ///
    /// Shapes: x N×…×C → mean, variance C.
    public static func channelMoments(_ x: Tensor, channels c: Int, mean: inout Tensor, variance: inout Tensor) {
        let device = x.backend!
        mean.resize(to: [c], on: device)
        variance.resize(to: [c], on: device)
        device.launch(.channelMoments, threads: c, [.pointer(x.address), .int32(Int32(x.count / c)), .int32(Int32(c)),
                                                    .pointer(mean.mutableAddress()), .pointer(variance.mutableAddress())])
    }

    // MARK: Class-score losses of CaFo's predictors (the labels as floats on the device)

    /// `scale × Σ_r Σ_j (z_rj − [j = y_r])²` (each row in double) added to `total` there, with no
    /// wait. Shapes: z N×C, labels N.
    public static func squaredError(logits z: Tensor, labels: Tensor, adding scale: Double, to total: LossSum) {
        let device = z.backend!
        device.reduce(.squaredError, threads: z.rows, [.pointer(z.address), .pointer(labels.address), .int32(Int32(z.rows)),
                                                       .int32(Int32(z.columns)), device.sumSlot], adding: scale, to: total)
    }

    /// Sparsemax of every row (at most 128 classes). Shapes: z N×C → p N×C.
    public static func sparsemaxRows(_ z: Tensor, into p: inout Tensor) {
        let device = z.backend!
        precondition(z.columns <= 128, "sparsemax on a device: \(z.columns) classes, at most 128")
        p.resize(to: z.shape, on: device)
        device.launch(.sparsemaxRows, threads: z.rows, [.pointer(z.address), .pointer(p.mutableAddress()), .int32(Int32(z.rows)), .int32(Int32(z.columns))])
    }

    /// `sparsemaxLoss` without a gradient (evaluation), with no wait: adds the summed loss to `total` there.
    public static func sparsemaxLoss(logits z: Tensor, labels: Tensor, addingLossTo total: LossSum) {
        let device = z.backend!
        precondition(z.columns <= 128, "sparsemax on a device: \(z.columns) classes, at most 128")
        device.reduce(.sparsemaxLoss, threads: z.rows, sparsemaxLossArguments(z, labels, gradient: 0, scale: 1, on: device), to: total)
    }

    /// `sparsemaxLoss` while training: fills `gradient` (resized) with `(sparsemax(z) − onehot(y))·scale`
    /// and adds `lossScale ×` the summed loss to `total` there, with no wait.
    public static func sparsemaxLoss(logits z: Tensor, labels: Tensor, gradient: inout Tensor, scale: Float,
                                     adding lossScale: Double, to total: LossSum) {
        let device = z.backend!
        precondition(z.columns <= 128, "sparsemax on a device: \(z.columns) classes, at most 128")
        gradient.resize(to: z.shape, on: device)
        device.reduce(.sparsemaxLoss, threads: z.rows, sparsemaxLossArguments(z, labels, gradient: gradient.mutableAddress(), scale: scale, on: device),
                      adding: lossScale, to: total)
    }

    private static func sparsemaxLossArguments(_ z: Tensor, _ labels: Tensor, gradient: UInt64, scale: Float,
                                               on device: any DeviceBackend) -> [KernelArgument] {
        [.pointer(z.address), .pointer(labels.address), .pointer(gradient), .int32(Int32(z.rows)), .int32(Int32(z.columns)), .float32(scale),
         device.sumSlot, device.countSlot]
    }
}
