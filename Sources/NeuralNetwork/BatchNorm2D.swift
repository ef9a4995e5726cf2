import TensorCore

/// Batch normalisation over channels-last feature maps: per channel, over N·H·W values,
/// `y = γ·(x − μ)/√(σ² + ε) + β`. Training mode uses the batch's statistics (biased variance)
/// and updates the running ones; inference mode uses the running (or stored) statistics.
/// - Paper: Ioffe & Szegedy, "Batch Normalization", ICML 2015.
public final class BatchNorm2D: Layer {
    public let gamma: Parameter
    public let beta: Parameter
    /// Running mean and (unbiased) variance, PyTorch's convention, used in inference mode
    /// (kept on the layer's device).
    private var runningMeanValues: Tensor
    private var runningVarianceValues: Tensor
    /// The running mean, copied to the host.
    public var runningMean: [Float] { runningMeanValues.scalars }
    /// The running (unbiased) variance, copied to the host.
    public var runningVariance: [Float] { runningVarianceValues.scalars }
    public let epsilon: Float
    public let momentum: Float
    /// Whether γ and β are trained (listed in `parameters`).
    public let affineTrained: Bool
    private var output = Tensor(zeros: [0])
    private var normalized = Tensor(zeros: [0])
    private var inputGradientBuffer = Tensor(zeros: [0])
    private var inverseStd: [Float] = []
    private var hasCache = false
    /// On a device: the batch's (or running) mean and 1/√(var + ε), and the backward pass's means.
    private var deviceMean = Tensor(zeros: [0]), deviceInverse = Tensor(zeros: [0])
    private var meanG = Tensor(zeros: [0]), meanGHat = Tensor(zeros: [0])

    /// A layer over `channels` channels with γ = 1, β = 0, running mean 0 and variance 1.
    public init(channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, affineTrained: Bool = true, name: String = "bn") {
        gamma = Parameter(name: name + ".weight", value: Tensor(shape: [channels], repeating: 1))
        beta = Parameter(name: name + ".bias", value: Tensor(zeros: [channels]))
        runningMeanValues = Tensor(zeros: [channels])
        runningVarianceValues = Tensor(shape: [channels], repeating: 1)
        self.epsilon = epsilon
        self.momentum = momentum
        self.affineTrained = affineTrained
    }

    public var channels: Int { gamma.value.count }
    public var parameters: [Parameter] { affineTrained ? [gamma, beta] : [] }
    /// γ and β (trained or not) and the running statistics, under PyTorch's names.
    public var state: [StateTensor] {
        let prefix = String(gamma.name.dropLast(".weight".count))
        func statistic(_ suffix: String, _ values: ReferenceWritableKeyPath<BatchNorm2D, Tensor>) -> StateTensor {
            StateTensor(name: prefix + suffix, read: { [unowned self] in self[keyPath: values] }, write: { [unowned self] in self[keyPath: values] = $0 })
        }
        return [StateTensor(gamma), StateTensor(beta), statistic(".running_mean", \.runningMeanValues),
                statistic(".running_var", \.runningVarianceValues)]
    }

    /// Replaces the running statistics (e.g. with statistics of a whole training set).
    public func setStatistics(mean: [Float], variance: [Float]) {
        precondition(mean.count == channels && variance.count == channels)
        runningMeanValues.setScalars(mean, on: runningMeanValues.backend)
        runningVarianceValues.setScalars(variance, on: runningVarianceValues.backend)
    }

    /// Replaces the running statistics with the mean and biased variance of `x`'s channels
    /// (summed in double), computed where `x` is.
    ///
    /// Shapes: x N×…×C.
    public func setStatistics(of x: Tensor) {
        guard x.backend != nil else {
            let statistics = Self.statistics(of: x, channels: channels)
            return setStatistics(mean: statistics.mean.map(Float.init), variance: statistics.variance.map(Float.init))
        }
        DeviceLayerKernels.channelMoments(x, channels: channels, mean: &runningMeanValues, variance: &runningVarianceValues)
    }

    /// Per-channel mean and biased variance of N×…×C values, accumulated in Double.
    public static func statistics(of x: Tensor, channels c: Int) -> (mean: [Double], variance: [Double], count: Int) {
        let m = x.count / c
        let (sum, squares) = x.withUnsafePointer { columnSums(rows: m, channels: c, $0, $0) }
        let mean = sum.map { $0 / Double(m) }
        let variance = (0..<c).map { max(squares[$0] / Double(m) - mean[$0] * mean[$0], 0) }
        return (mean, variance, m)
    }

    /// Rows of `channels` values per parallel chunk: about 2¹⁶ values each.
    static func grain(channels: Int) -> Int { max(1, 65_536 / channels) }

    /// Per channel, `Σ a` and `Σ a·b` over the rows of two m×c buffers, in Double: partial sums
    /// per chunk of rows, added in chunk order.
    static func columnSums(rows m: Int, channels c: Int, _ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>) -> ([Double], [Double]) {
        let (a, b) = (SharedPointer(a), SharedPointer(b))
        let partials = Parallel.mapChunks(count: m, grain: grain(channels: c)) { rows in
            var first = [Double](repeating: 0, count: c), second = [Double](repeating: 0, count: c)
            first.withUnsafeMutableBufferPointer { first in
                second.withUnsafeMutableBufferPointer { second in
                    for row in rows {
                        let (ar, br) = (a.pointer + row * c, b.pointer + row * c)
                        for channel in 0..<c {
                            let u = Double(ar[channel])
                            first[channel] += u
                            second[channel] += u * Double(br[channel])
                        }
                    }
                }
            }
            return (first, second)
        }
        var (first, second) = partials[0]
        for (u, v) in partials.dropFirst() {
            for channel in 0..<c { first[channel] += u[channel]; second[channel] += v[channel] }
        }
        return (first, second)
    }

    /// Shapes: input N×H×W×C → output of the same shape.
    public func forward(_ x: Tensor, mode: Mode) -> Tensor {
        let c = channels
        precondition(x.shape.last == c, "BatchNorm2D: input \(x.shape) does not end in \(c) channels")
        let m = x.count / c
        if x.backend != nil { return deviceForward(x, mode: mode) }
        var mean: [Float], inverse: [Float]
        if mode == .training {
            let stats = Self.statistics(of: x, channels: c)
            mean = stats.mean.map(Float.init)
            inverse = stats.variance.map { 1 / (Float($0) + epsilon).squareRoot() }
            let unbiased = m > 1 ? Double(m) / Double(m - 1) : 1
            let momentum = momentum
            runningMeanValues.withUnsafeMutablePointer { runningMean in
                runningVarianceValues.withUnsafeMutablePointer { runningVariance in
                    for channel in 0..<c {
                        runningMean[channel] = (1 - momentum) * runningMean[channel] + momentum * mean[channel]
                        runningVariance[channel] = (1 - momentum) * runningVariance[channel] + momentum * Float(stats.variance[channel] * unbiased)
                    }
                }
            }
        } else {
            mean = runningMean
            inverse = runningVariance.map { 1 / ($0 + epsilon).squareRoot() }
        }
        output.resize(to: x.shape)
        if mode == .training { normalized.resize(to: x.shape) }
        let keep = mode == .training
        x.withUnsafePointer { xp in
            output.withUnsafeMutablePointer { yp in
                normalized.withUnsafeMutablePointer { np in
                    gamma.value.withUnsafePointer { g in
                        beta.value.withUnsafePointer { b in
                            let (x, y, hats, g, b) = (SharedPointer(xp), SharedPointer(yp), SharedPointer(np), SharedPointer(g), SharedPointer(b))
                            Parallel.forEachChunk(count: m, grain: Self.grain(channels: c)) { [mean, inverse] rows in
                                for row in rows {
                                    let (xr, yr, nr) = (x.pointer + row * c, y.pointer + row * c, hats.pointer + row * c)
                                    for channel in 0..<c {
                                        let hat = (xr[channel] - mean[channel]) * inverse[channel]
                                        if keep { nr[channel] = hat }
                                        yr[channel] = g.pointer[channel] * hat + b.pointer[channel]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        inverseStd = inverse
        hasCache = keep
        return output
    }

    /// dx = γ/(m·√(σ²+ε)) · (m·dy − Σdy − x̂·Σ(dy·x̂));  dγ += Σ dy·x̂;  dβ += Σ dy.
    /// `forward` on a device: the statistics, normalisation and affine map as kernels.
    private func deviceForward(_ x: Tensor, mode: Mode) -> Tensor {
        if mode == .training {
            DeviceLayerKernels.batchNormStatistics(x, epsilon: epsilon, momentum: momentum, mean: &deviceMean, inverse: &deviceInverse,
                                                   runningMean: &runningMeanValues, runningVariance: &runningVarianceValues)
        } else {
            DeviceLayerKernels.batchNormInference(runningMean: runningMeanValues, runningVariance: runningVarianceValues, epsilon: epsilon,
                                                  mean: &deviceMean, inverse: &deviceInverse)
        }
        DeviceLayerKernels.batchNormForward(x, mean: deviceMean, inverse: deviceInverse, gamma: gamma.value, beta: beta.value, into: &output,
                                            hats: &normalized, keepHats: mode == .training)
        hasCache = mode == .training
        return output
    }

    public func backward(_ g: Tensor, inputGradient: InputGradient) -> Tensor? {
        precondition(hasCache, "BatchNorm2D.backward without a training-mode forward")
        hasCache = false
        if g.backend != nil {
            DeviceLayerKernels.batchNormBackward(g, hats: normalized, gamma: gamma.value, inverse: deviceInverse, affine: affineTrained,
                                                 dgamma: &gamma.gradient, dbeta: &beta.gradient, meanG: &meanG, meanGHat: &meanGHat,
                                                 dx: &inputGradientBuffer, wantsInputGradient: inputGradient == .needed)
            return inputGradient == .needed ? inputGradientBuffer : nil
        }
        let c = channels
        let m = g.count / c
        let (sumG, sumGHat) = g.withUnsafePointer { gp in normalized.withUnsafePointer { Self.columnSums(rows: m, channels: c, gp, $0) } }
        if affineTrained {
            gamma.gradient.withUnsafeMutablePointer { dg in
                beta.gradient.withUnsafeMutablePointer { db in
                    for channel in 0..<c {
                        dg[channel] += Float(sumGHat[channel])
                        db[channel] += Float(sumG[channel])
                    }
                }
            }
        }
        guard inputGradient == .needed else { return nil }
        inputGradientBuffer.resize(to: g.shape)
        let meanG = sumG.map { Float($0 / Double(m)) }, meanGHat = sumGHat.map { Float($0 / Double(m)) }
        let inverseStd = self.inverseStd
        g.withUnsafePointer { gp in
            normalized.withUnsafePointer { np in
                inputGradientBuffer.withUnsafeMutablePointer { dx in
                    gamma.value.withUnsafePointer { gm in
                        let (g, hats, dx, gm) = (SharedPointer(gp), SharedPointer(np), SharedPointer(dx), SharedPointer(gm))
                        Parallel.forEachChunk(count: m, grain: Self.grain(channels: c)) { rows in
                            for row in rows {
                                for channel in 0..<c {
                                    let i = row * c + channel
                                    dx.pointer[i] = gm.pointer[channel] * inverseStd[channel]
                                        * (g.pointer[i] - meanG[channel] - hats.pointer[i] * meanGHat[channel])
                                }
                            }
                        }
                    }
                }
            }
        }
        return inputGradientBuffer
    }
}
