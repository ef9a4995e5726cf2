import TensorCore

/// Sparsemax (the Euclidean projection onto the simplex) and its loss, `−z_y + ½Σ_{j∈S}(z_j² − τ²) + ½`,
/// whose gradient is `sparsemax(z) − onehot(y)`.
/// - Paper: Martins & Astudillo, "From Softmax to Sparsemax", ICML 2016.
public final class SparsemaxLoss {
    /// ∂(mean loss)/∂z from the last `lossAndGradient` call: `(sparsemax(z) − onehot)/N`.
    public private(set) var gradient = Tensor(zeros: [0])
    private var sorted: [Float] = []
    private var row: [Float] = []

    /// A loss with its own buffers.
    public init() {}

    /// Sparsemax of one row into `p`; returns τ. `scratch` holds the sorted row.
    @discardableResult
    public static func sparsemax(_ z: UnsafePointer<Float>, count c: Int, into p: UnsafeMutablePointer<Float>,
                                 scratch: inout [Float]) -> Float {
        if scratch.count != c { scratch = [Float](repeating: 0, count: c) }
        for j in 0..<c { scratch[j] = z[j] }
        scratch.sort(by: >)
        // k(z) = max{k : 1 + k·z_(k) > Σ_{j≤k} z_(j)};  τ = (Σ_{j≤k} z_(j) − 1)/k.
        var cumulative: Float = 0, support = 1, supportSum = scratch[0]
        for k in 1...c {
            cumulative += scratch[k - 1]
            if 1 + Float(k) * scratch[k - 1] > cumulative { support = k; supportSum = cumulative }
        }
        let tau = (supportSum - 1) / Float(support)
        for j in 0..<c { p[j] = max(z[j] - tau, 0) }
        return tau
    }

    /// Sparsemax of every row.
    ///
    /// Shapes: z N×C → p N×C.
    public func sparsemaxRows(_ z: Tensor, into p: inout Tensor) {
        let c = z.columns
        if z.backend != nil { return DeviceLayerKernels.sparsemaxRows(z, into: &p) }
        p.resize(to: z.shape)
        z.withUnsafePointer { zp in
            p.withUnsafeMutablePointer { pp in
                for row in 0..<z.rows { Self.sparsemax(zp + row * c, count: c, into: pp + row * c, scratch: &sorted) }
            }
        }
    }

    /// The mean loss and correct count of a batch (argmax of z); fills `gradient`.
    ///
    /// Shapes: z N×C, labels N.
    public func lossAndGradient(logits z: Tensor, labels: [Int32]) -> (loss: Float, correct: Int) {
        gradient.resize(to: z.shape)
        let n = z.rows
        let result = gradient.withUnsafeMutablePointer { Self.run(z, labels, gradient: $0, scale: 1 / Float(n), scratch: &sorted, row: &row) }
        return (Float(result.lossSum / Double(n)), result.correct)
    }

    /// `lossAndGradient` on a device while training: the batch's mean loss is added to `total`
    /// there, with no wait.
    ///
    /// Shapes: z N×C, labels N.
    public func lossAndGradient(logits z: Tensor, deviceLabels labels: Tensor, addingMeanTo total: LossSum) {
        let n = z.rows
        DeviceLayerKernels.sparsemaxLoss(logits: z, labels: labels, gradient: &gradient, scale: 1 / Float(n), adding: 1 / Double(n), to: total)
    }

    /// The summed loss and correct count, without a gradient.
    ///
    /// Shapes: z N×C, labels N.
    public func evaluate(logits z: Tensor, labels: [Int32]) -> (lossSum: Double, correct: Int) {
        Self.run(z, labels, gradient: nil, scale: 1, scratch: &sorted, row: &row)
    }

    static func run(_ z: Tensor, _ labels: [Int32], gradient: UnsafeMutablePointer<Float>?, scale: Float,
                    scratch: inout [Float], row p: inout [Float]) -> (lossSum: Double, correct: Int) {
        let (n, c) = (z.rows, z.columns)
        var lossSum = 0.0, correct = 0
        if p.count != c { p = [Float](repeating: 0, count: c) }
        z.withUnsafePointer { zp in
            for row in 0..<n {
                let r = zp + row * c, y = Int(labels[row])
                let tau = p.withUnsafeMutableBufferPointer { sparsemax(r, count: c, into: $0.baseAddress!, scratch: &scratch) }
                var loss = -Double(r[y]) + 0.5
                var best = 0
                for j in 0..<c {
                    if p[j] > 0 { loss += 0.5 * (Double(r[j]) * Double(r[j]) - Double(tau) * Double(tau)) }
                    if r[j] > r[best] { best = j }
                    gradient?[row * c + j] = (p[j] - (j == y ? 1 : 0)) * scale
                }
                lossSum += loss
                if best == y { correct += 1 }
            }
        }
        return (lossSum, correct)
    }
}
