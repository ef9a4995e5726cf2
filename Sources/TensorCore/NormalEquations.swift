/// The least-squares solution of `X·W ≈ Y` from its normal equations `(XᵀX)·W = XᵀY`:
/// Cholesky when XᵀX is positive definite, else the pseudo-inverse (symmetric eigensolver,
/// eigenvalues below `n·ε·λmax` dropped), as `torch.linalg.solve` with a `pinv` fallback.
public enum NormalEquations {
    /// How a system was solved.
    public enum Method: String, Sendable { case cholesky, pseudoInverse = "pseudo-inverse" }

    /// Solves for W given `gram = XᵀX` and `crossTransposed = YᵀX`; returns Wᵀ (C×D, the layout
    /// of a Linear weight) and the method used.
    ///
    /// Shapes: gram D×D, crossTransposed C×D → C×D.
    public static func solve(gram: Tensor, crossTransposed: Tensor) -> (weight: Tensor, method: Method) {
        let n = gram.rows
        precondition(gram.shape == [n, n] && crossTransposed.columns == n, "NormalEquations: \(gram.shape) and \(crossTransposed.shape)")
        // Copies on write: the inputs stay as they are.
        var factor = gram, solution = crossTransposed
        let solved = factor.withUnsafeMutablePointer { a in
            solution.withUnsafeMutablePointer { b in BLAS.choleskySolve(a, n: n, rightHandSides: b, count: crossTransposed.rows) }
        }
        if solved, solution.scalars.allSatisfy(\.isFinite) { return (solution, .cholesky) }
        return (pseudoInverseSolve(gram: gram, crossTransposed: crossTransposed), .pseudoInverse)
    }

    /// Wᵀ = Bᵀ·pinv(A) = Bᵀ·Eᵀ·Λ⁺·E with the eigenvectors E as rows.
    static func pseudoInverseSolve(gram: Tensor, crossTransposed b: Tensor) -> Tensor {
        let n = gram.rows
        var vectors = gram
        guard let values = vectors.withUnsafeMutablePointer({ BLAS.symmetricEigen($0, n: n) }) else {
            return Tensor(shape: b.shape, repeating: .nan)
        }
        let cutoff = Float(n) * Float.ulpOfOne * (values.map(abs).max() ?? 0)
        var projected = Tensor(zeros: [0]), result = Tensor(zeros: [0])
        Tensor.matmul(b, .none, vectors, .transposed, into: &projected)   // Bᵀ·Eᵀ   (C×D · D×D)
        projected.withUnsafeMutablePointer { p in
            for row in 0..<b.rows {
                for j in 0..<n { p[row * n + j] = values[j] > cutoff ? p[row * n + j] / values[j] : 0 }
            }
        }
        Tensor.matmul(projected, .none, vectors, .none, into: &result)     // ·Λ⁺·E
        return result
    }
}
