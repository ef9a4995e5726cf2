import CBLAS
import Foundation

/// The only door to OpenBLAS: matrix products, thread count and library identity.
public enum BLAS {
    /// Whether a GEMM operand is used as stored or transposed (a BLAS flag, never a copy).
    public enum Transpose: Sendable {
        case none, transposed
        var cblas: CBLAS_TRANSPOSE { self == .none ? CblasNoTrans : CblasTrans }
    }

    /// `C ← alpha·op(A)·op(B) + beta·C` in row-major storage; counts 2·m·n·k FLOPs.
    ///
    /// Shapes: op(A) m×k, op(B) k×n, C m×n; `lda`, `ldb`, `ldc` are the stored row lengths.
    @inline(__always)
    public static func gemm(_ transA: Transpose, _ transB: Transpose,
                            m: Int, n: Int, k: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0,
                            c: UnsafeMutablePointer<Float>, ldc: Int) {
        OperationCounter.addFLOPs(2 * m * n * k)
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas,
                    blasint(m), blasint(n), blasint(k), alpha,
                    a, blasint(lda), b, blasint(ldb), beta, c, blasint(ldc))
    }

    /// `y ← alpha·op(A)·x + beta·y` in row-major storage; counts 2·m·n FLOPs.
    ///
    /// Shapes: A m×n (stored), x of length n (or m when transposed), y the other length.
    public static func gemv(_ transA: Transpose, m: Int, n: Int, alpha: Float = 1,
                            a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                            beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        OperationCounter.addFLOPs(2 * m * n)
        cblas_sgemv(CblasRowMajor, transA.cblas, blasint(m), blasint(n), alpha,
                    a, blasint(lda), x, 1, beta, y, 1)
    }

    /// Solves `A·X = B` for symmetric positive definite A by Cholesky (LAPACK spotrf/spotrs).
    /// A is overwritten by its factor, B by X; false when A is not positive definite.
    ///
    /// Shapes: A n×n (symmetric, so row- and column-major agree); B given as nrhs rows of n
    /// (each right-hand side contiguous), X returned the same way.
    public static func choleskySolve(_ a: UnsafeMutablePointer<Float>, n: Int, rightHandSides b: UnsafeMutablePointer<Float>,
                                     count nrhs: Int) -> Bool {
        var (uplo, size, rhs, info) = (CChar(UInt8(ascii: "U")), Int32(n), Int32(nrhs), Int32(0))
        OperationCounter.addFLOPs(n * n * n / 3 + 2 * n * n * nrhs)
        spotrf_(&uplo, &size, a, &size, &info, 1)
        guard info == 0 else { return false }
        spotrs_(&uplo, &size, &rhs, a, &size, b, &size, &info, 1)
        return info == 0
    }

    /// Eigenvalues (ascending) and eigenvectors of a symmetric matrix (LAPACK ssyevd); the
    /// eigenvectors overwrite A as its rows. Nil when LAPACK fails.
    ///
    /// Shapes: A n×n → rows: n eigenvectors of length n; result: n eigenvalues.
    public static func symmetricEigen(_ a: UnsafeMutablePointer<Float>, n: Int) -> [Float]? {
        var (jobz, uplo, size, info) = (CChar(UInt8(ascii: "V")), CChar(UInt8(ascii: "U")), Int32(n), Int32(0))
        var values = [Float](repeating: 0, count: n)
        var workSize: Float = 0, iworkSize: Int32 = 0, query: Int32 = -1
        ssyevd_(&jobz, &uplo, &size, a, &size, &values, &workSize, &query, &iworkSize, &query, &info, 1, 1)
        guard info == 0 else { return nil }
        // NOTE: the queried size comes back as a Float, which cannot hold 1 + 6n + 2n² exactly
        // for large n (rounding down makes LAPACK reject it): take the documented minimum too.
        var lwork = Int32(max(Int(workSize.rounded(.up)), 1 + 6 * n + 2 * n * n)), liwork = max(iworkSize, Int32(3 + 5 * n))
        var work = [Float](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        OperationCounter.addFLOPs(9 * n * n * n)
        ssyevd_(&jobz, &uplo, &size, a, &size, &values, &work, &lwork, &iwork, &liwork, &info, 1, 1)
        return info == 0 ? values : nil
    }

    /// The number of threads OpenBLAS uses.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// OpenBLAS's build configuration, e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Zen MAX_THREADS=64".
    public static var configuration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text).trimmingCharacters(in: .whitespaces)
    }

    /// The CPU kernel family OpenBLAS selected at run time, e.g. "SkylakeX" or "Zen".
    public static var coreName: String {
        guard let text = openblas_get_corename() else { return "unknown" }
        return String(cString: text)
    }
}
