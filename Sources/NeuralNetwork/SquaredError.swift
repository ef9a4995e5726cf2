import TensorCore

/// The squared error of outputs against one-hot targets (CaFo's MSE predictors).
public enum SquaredError {
    /// `Σ_r Σ_j (z_rj − [j = y_r])²`, accumulated in Double.
    ///
    /// Shapes: z N×C, labels N.
    public static func sum(logits z: Tensor, labels: [Int32]) -> Double {
        let c = z.columns
        precondition(labels.count == z.rows, "SquaredError: \(labels.count) labels for \(z.rows) rows")
        var sum = 0.0
        z.withUnsafePointer { p in
            for row in 0..<z.rows {
                for j in 0..<c {
                    let diff = Double(p[row * c + j]) - (j == Int(labels[row]) ? 1 : 0)
                    sum += diff * diff
                }
            }
        }
        return sum
    }

    /// `sum` on a device, the labels a tensor of class indices as floats there: `scale ×` the sum
    /// added to `total` there, with no wait.
    ///
    /// Shapes: z N×C, labels N.
    public static func sum(logits z: Tensor, deviceLabels labels: Tensor, adding scale: Double, to total: LossSum) {
        DeviceLayerKernels.squaredError(logits: z, labels: labels, adding: scale, to: total)
    }
}
