import Foundation

/// Softmax cross-entropy, loss and gradient in one pass over each row.
public enum SoftmaxKernels {
    /// The summed loss and the number of rows whose argmax equals the label.
    public struct Result: Sendable {
        /// Σ over rows of `logsumexp(z) − z_y` (not yet divided by the row count).
        public var lossSum: Double
        /// Rows whose first maximal logit is the label.
        public var correct: Int
    }

    /// Cross-entropy of `logits` against `labels`; when `gradient` is given it receives
    /// `(softmax(z) − onehot(y)) · gradientScale` (use `1/N` for a mean loss).
    ///
    /// Shapes: logits N×C, labels N (each in 0..<C), gradient N×C.
    /// NOTE: the row maximum is subtracted before exponentiating, so no logit overflows.
    public static func crossEntropy(logits: Tensor, labels: UnsafeBufferPointer<Int32>,
                                    gradient: UnsafeMutablePointer<Float>?,
                                    gradientScale: Float = 1) -> Result {
        let n = logits.rows, c = logits.columns
        precondition(labels.count >= n, "crossEntropy: \(labels.count) labels for \(n) rows")
        precondition(logits.backend == nil, "crossEntropy: the labels of \(logits.device) logits are a tensor on its device")
        var lossSum = 0.0
        var correct = 0
        logits.withUnsafePointer { zp in
            for r in 0..<n {
                let z = zp + r * c
                let label = Int(labels[r])
                precondition(label >= 0 && label < c, "crossEntropy: label \(label) outside 0..<\(c)")
                var maximum = z[0], argmax = 0
                for j in 1..<c where z[j] > maximum { maximum = z[j]; argmax = j }
                var sum: Float = 0
                for j in 0..<c { sum += Foundation.exp(z[j] - maximum) }
                lossSum += Double(Foundation.log(sum) + maximum - z[label])
                if argmax == label { correct += 1 }
                if let gradient {
                    let g = gradient + r * c
                    let scale = gradientScale / sum
                    for j in 0..<c { g[j] = Foundation.exp(z[j] - maximum) * scale }
                    g[label] -= gradientScale
                }
            }
        }
        return Result(lossSum: lossSum, correct: correct)
    }

    /// `crossEntropy` on a device while training — the labels a tensor of class indices as floats
    /// on the logits' device: fills `gradient` (resized there) with
    /// `(softmax(z) − onehot(y))·gradientScale` and adds `scale ×` the summed loss to `total`
    /// on the device, with no wait.
    ///
    /// Shapes: logits N×C, labels N, gradient N×C.
    public static func crossEntropy(logits: Tensor, labels: Tensor, gradient: inout Tensor, gradientScale: Float,
                                    adding scale: Double, to total: LossSum) {
        gradient.resize(to: logits.shape, on: logits.backend)
        let (device, arguments) = crossEntropyArguments(logits: logits, labels: labels, gradientAddress: gradient.mutableAddress(),
                                                        gradientScale: gradientScale)
        device.reduce(.softmaxCrossEntropy, threads: logits.rows, arguments, adding: scale, to: total)
    }

    /// `crossEntropy` on a device without a gradient (evaluation), with no wait: adds the summed
    /// loss to `loss` and the correct count to `correct` there.
    ///
    /// Shapes: logits N×C, labels N.
    public static func crossEntropy(logits: Tensor, labels: Tensor, addingLossTo loss: LossSum?, countingInto correct: LossSum?) {
        let (device, arguments) = crossEntropyArguments(logits: logits, labels: labels, gradientAddress: 0, gradientScale: 1)
        device.reduce(.softmaxCrossEntropy, threads: logits.rows, arguments, to: loss, countingInto: correct)
    }

    private static func crossEntropyArguments(logits: Tensor, labels: Tensor, gradientAddress: UInt64,
                                              gradientScale: Float) -> (any DeviceBackend, [KernelArgument]) {
        let (n, c) = (logits.rows, logits.columns)
        guard let device = logits.backend else { preconditionFailure("crossEntropy(labels: Tensor) is the device form") }
        precondition(labels.count >= n && labels.backend === device, "crossEntropy: \(labels.count) labels on \(labels.device) for \(n) rows")
        return (device, [.pointer(logits.address), .pointer(labels.address), .pointer(gradientAddress), .int32(Int32(n)), .int32(Int32(c)),
                         .float32(gradientScale), device.sumSlot, device.countSlot])
    }
}
