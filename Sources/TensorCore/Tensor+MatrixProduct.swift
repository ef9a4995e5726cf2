/// Matrix products of tensors, through BLAS (transposes are flags, never copies).
extension Tensor {
    /// `C ← alpha·op(A)·op(B) + beta·C`, treating each tensor as a matrix of `rows × columns`.
    ///
    /// Shapes: op(A) m×k, op(B) k×n, C m×n. With `beta == 0`, C is resized to m×n first.
    public static func matmul(_ a: Tensor, _ transA: BLAS.Transpose = .none,
                              _ b: Tensor, _ transB: BLAS.Transpose = .none,
                              into c: inout Tensor, alpha: Float = 1, beta: Float = 0) {
        let (ar, ac) = (a.rows, a.columns), (br, bc) = (b.rows, b.columns)
        let (m, k) = transA == .none ? (ar, ac) : (ac, ar)
        let (kb, n) = transB == .none ? (br, bc) : (bc, br)
        precondition(k == kb, "matmul: inner extents differ, \(a.shape)\(transA == .none ? "" : "ᵀ") · \(b.shape)\(transB == .none ? "" : "ᵀ")")
        if beta == 0 {
            c.resize(to: [m, n], on: a.backend)
        } else {
            precondition(c.count == m * n, "matmul: accumulator \(c.shape) is not \(m)×\(n)")
        }
        if let device = a.backend {
            OperationCounter.addFLOPs(2 * m * n * k)
            device.gemm(transposeA: transA != .none, transposeB: transB != .none, m: m, n: n, k: k, alpha: alpha, a: a.address, lda: ac,
                        b: b.address, ldb: bc, beta: beta, c: c.mutableAddress(), ldc: n)
            return
        }
        a.withUnsafePointer { ap in
            b.withUnsafePointer { bp in
                c.withUnsafeMutablePointer { cp in
                    BLAS.gemm(transA, transB, m: m, n: n, k: k, alpha: alpha,
                              a: ap, lda: ac, b: bp, ldb: bc, beta: beta, c: cp, ldc: n)
                }
            }
        }
    }
}
