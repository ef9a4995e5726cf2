import TensorCore

/// Mean softmax cross-entropy over a batch, loss and gradient in one pass.
public final class SoftmaxCrossEntropy {
    /// ∂(mean loss)/∂logits from the last `lossAndGradient` call: `(softmax − onehot)/N`.
    public private(set) var gradient = Tensor(zeros: [0])

    /// A loss with its own gradient buffer.
    public init() {}

    /// The mean loss and correct count of a batch; fills `gradient`.
    ///
    /// Shapes: logits N×C, labels N.
    public func lossAndGradient(logits: Tensor, labels: [Int32]) -> (loss: Float, correct: Int) {
        gradient.resize(to: logits.shape, on: nil)
        let n = logits.rows
        let result = labels.withUnsafeBufferPointer { labelPointer in
            gradient.withUnsafeMutablePointer { gp in
                SoftmaxKernels.crossEntropy(logits: logits, labels: labelPointer, gradient: gp,
                                            gradientScale: 1 / Float(n))
            }
        }
        return (Float(result.lossSum / Double(n)), result.correct)
    }

    /// `lossAndGradient` on a device while training: the batch's mean loss is added to `total`
    /// there, with no wait.
    ///
    /// Shapes: logits N×C, labels N.
    public func lossAndGradient(logits: Tensor, deviceLabels labels: Tensor, addingMeanTo total: LossSum) {
        let n = logits.rows
        SoftmaxKernels.crossEntropy(logits: logits, labels: labels, gradient: &gradient, gradientScale: 1 / Float(n), adding: 1 / Double(n), to: total)
    }

    /// The summed loss and correct count, without a gradient (for evaluation).
    ///
    /// Shapes: logits N×C, labels N.
    public static func evaluate(logits: Tensor, labels: [Int32]) -> SoftmaxKernels.Result {
        labels.withUnsafeBufferPointer {
            SoftmaxKernels.crossEntropy(logits: logits, labels: $0, gradient: nil)
        }
    }
}
