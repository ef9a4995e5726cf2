/// Bias kernels of dense layers, forward and backward side by side.
public enum BiasKernels {
    /// Forward: `Y[r, :] += b` for every row.
    ///
    /// Shapes: Y N×D, b D.
    public static func addRows(_ y: inout Tensor, bias b: Tensor) {
        let d = b.count, n = y.count / max(d, 1)
        precondition(n * d == y.count, "addRows: \(y.shape) does not have rows of \(d)")
        if let device = y.backend {
            return device.launch(.addBiasRows, threads: n * d, [.pointer(b.address), .pointer(y.mutableAddress()), .int32(Int32(n)), .int32(Int32(d))])
        }
        b.withUnsafePointer { bp in
            y.withUnsafeMutablePointer { yp in
                for r in 0..<n {
                    let row = yp + r * d
                    for c in 0..<d { row[c] += bp[c] }
                }
            }
        }
    }

    /// Backward: `db += Σ_rows G` (column sums, accumulated).
    ///
    /// Shapes: G N×D, db D.
    public static func accumulateColumnSums(of g: Tensor, into db: inout Tensor) {
        let d = db.count, n = g.count / max(d, 1)
        precondition(n * d == g.count, "accumulateColumnSums: \(g.shape) does not have rows of \(d)")
        if let device = g.backend {
            return device.launch(.accumulateColumnSums, threads: d, [.pointer(g.address), .pointer(db.mutableAddress()), .int32(Int32(n)), .int32(Int32(d))])
        }
        g.withUnsafePointer { gp in
            db.withUnsafeMutablePointer { dbp in
                for r in 0..<n {
                    let row = gp + r * d
                    for c in 0..<d { dbp[c] += row[c] }
                }
            }
        }
    }
}
