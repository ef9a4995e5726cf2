import Foundation
import TensorCore

/// TensorCore's device backend on one NVIDIA GPU: tensors in the caching allocator's blocks,
/// every primitive a kernel of `KernelCatalog` or a cuBLAS product, all on the device's one stream.
///
/// NOTE: a driver or cuBLAS failure mid-run leaves the context unusable (CUDA's errors are
/// sticky), so it ends the process with one line naming the call and the driver's reason.
public final class CUDABackend: DeviceBackend, @unchecked Sendable {
    public let cuda: CUDADevice
    public let blas: CUBLAS
    public let device: Device
    public let reductionSlots: UInt64
    /// cuBLAS's math mode.
    public let math: CUBLAS.Math

    /// GPU `index` with every kernel loaded and cuBLAS on its stream (`math`: FP32 unless TF32 is asked for).
    public init(index: Int, driver: CUDADriver, math: CUBLAS.Math = .fp32, images: @escaping CUDADevice.ImageProvider = CUDADevice.compiledImage,
                environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        cuda = try CUDADevice(index: index, driver: driver, images: images)
        blas = try CUBLAS(device: cuda, math: math, environment: environment)
        device = .cuda(index)
        self.math = math
        reductionSlots = try cuda.allocator.block(bytes: 16).address
    }

    private func check(_ body: () throws -> Void) {
        do { try body() } catch {
            FileHandle.standardError.write(Data("bpfree: \(device) (\(cuda.gpu.name)): \(error)\n".utf8))
            exit(70)
        }
    }

    public func allocate(bytes: Int) -> DeviceBlock {
        var block: DeviceBlock?
        check { block = try cuda.allocator.block(bytes: bytes) }
        return block!
    }

    public func release(_ block: DeviceBlock) { cuda.allocator.release(block) }

    public var peakBytes: Int { cuda.allocator.peakBytes }
    public var freeBytes: Int {
        var bytes = 0
        check { bytes = try cuda.freeBytes() }
        return bytes
    }
    public func resetPeak() { cuda.allocator.resetPeak() }

    public func upload(_ source: UnsafeRawPointer, bytes: Int, to address: UInt64) {
        check { try cuda.copy(UnsafeRawBufferPointer(start: source, count: bytes), to: address) }
    }

    public func download(from address: UInt64, bytes: Int, to destination: UnsafeMutableRawPointer) {
        check { try cuda.copy(from: address, to: UnsafeMutableRawBufferPointer(start: destination, count: bytes)) }
    }

    public func copy(from source: UInt64, to destination: UInt64, bytes: Int) {
        check { try cuda.copy(from: source, to: destination, bytes: bytes) }
    }

    public func launch(_ kernel: DeviceKernel, threads: Int, _ arguments: [KernelArgument]) {
        check { try cuda.launch(kernel.rawValue, threads: threads, arguments) }
    }

    public func gemm(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UInt64, lda: Int,
                     b: UInt64, ldb: Int, beta: Float, c: UInt64, ldc: Int) {
        check {
            try blas.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
                          b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        }
    }
}
