import Foundation

/// cuBLAS (`libcublas.so.13` or `.so.12`, from a CUDA toolkit or PyPI's `nvidia-cublas`),
/// loaded at run time: every matrix product on the card. bpfree's tensors are row-major and
/// cuBLAS is column-major, so a row-major `C = op(A)·op(B)` is computed as the column-major
/// `Cᵀ = op(B)ᵀ·op(A)ᵀ`: the operands swap, the transposes stay, no copy.
public final class CUBLAS: @unchecked Sendable {
    typealias Status = Int32
    public let library: SharedLibrary
    let handle: OpaquePointer?
    let cublasSgemm: @convention(c) (OpaquePointer?, Int32, Int32, Int32, Int32, Int32, UnsafePointer<Float>, UInt64, Int32,
                                     UInt64, Int32, UnsafePointer<Float>, UInt64, Int32) -> Status
    /// FP32 (bpfree's default, for parity with the CPU) or TF32 tensor-core math (an option the
    /// run records).
    public enum Math: Int32, Sendable, Codable {
        case fp32 = 0, tf32 = 3
        /// "fp32" or "tf32", as the run record says it.
        public var name: String { self == .fp32 ? "fp32" : "tf32" }
    }

    /// A cuBLAS call that failed, with its status (`cublasStatus_t`).
    public struct Failure: Error, CustomStringConvertible {
        public let call: String
        public let status: Int32
        public var description: String { "\(call) failed: cuBLAS status \(status)" + (Self.names[status].map { " (\($0))" } ?? "") }
        static let names: [Int32: String] = [1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
                                             8: "CUBLAS_STATUS_ARCH_MISMATCH", 13: "CUBLAS_STATUS_EXECUTION_FAILED", 14: "CUBLAS_STATUS_INTERNAL_ERROR"]
    }

    /// cuBLAS on `device`'s stream, with `math`.
    public init(device: CUDADevice, math: Math = .fp32, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try SharedLibrary.open(["libcublas.so.13", "libcublas.so.12"], environment: environment)
        let create: @convention(c) (UnsafeMutablePointer<OpaquePointer?>) -> Status = try library.function("cublasCreate_v2")
        let setStream: @convention(c) (OpaquePointer?, OpaquePointer?) -> Status = try library.function("cublasSetStream_v2")
        let setMathMode: @convention(c) (OpaquePointer?, Int32) -> Status = try library.function("cublasSetMathMode")
        let setWorkspace: @convention(c) (OpaquePointer?, UInt64, Int) -> Status = try library.function("cublasSetWorkspace_v2")
        cublasSgemm = try library.function("cublasSgemm_v2")
        var handle: OpaquePointer?
        try Self.check(create(&handle), "cublasCreate_v2")
        self.handle = handle
        try Self.check(setStream(handle, device.stream), "cublasSetStream_v2")
        try Self.check(setMathMode(handle, math.rawValue), "cublasSetMathMode")
        // A fixed workspace, so that a product captured into a step's graph allocates nothing.
        workspace = try device.allocator.block(bytes: Self.workspaceBytes)
        try Self.check(setWorkspace(handle, workspace.address, workspace.bytes), "cublasSetWorkspace_v2")
    }

    /// cuBLAS's workspace: 32 MiB, what NVIDIA advises for Hopper.
    static let workspaceBytes = 32 << 20
    let workspace: DeviceAllocator.Block

    static func check(_ status: Status, _ call: String) throws {
        guard status != 0 else { return }
        throw Failure(call: call, status: status)
    }

    /// Row-major `C ← α·op(A)·op(B) + β·C` on device addresses; `lda`, `ldb`, `ldc` are the row
    /// lengths of A, B and C as stored.
    ///
    /// Shapes: op(A) m×k, op(B) k×n, C m×n.
    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: UInt64, lda: Int,
                     b: UInt64, ldb: Int, beta: Float = 0, c: UInt64, ldc: Int) throws {
        var (alpha, beta) = (alpha, beta)
        // Column-major Cᵀ (n×m) = op(B)ᵀ (n×k) · op(A)ᵀ (k×m).
        try Self.check(cublasSgemm(handle, transposeB ? 1 : 0, transposeA ? 1 : 0, Int32(n), Int32(m), Int32(k), &alpha,
                                   b, Int32(ldb), a, Int32(lda), &beta, c, Int32(ldc)), "cublasSgemm_v2")
    }
}
