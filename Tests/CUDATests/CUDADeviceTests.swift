import Datasets
import Foundation
import NeuralNetwork
import Testing
import TestSupport
import TensorCore
@testable import CUDA

/// bpfree's GPU host code — the driver calls, module loading, launch geometry, argument
/// marshalling, copies and the caching allocator — run unchanged against a CPU emulation of the
/// driver (`CPU/fake_driver.cpp`, built here into a `libcuda.so.1` with the kernels compiled as
/// C++ and a trampoline per kernel generated from its signature), and checked against the CPU
/// primitives. Only the card itself is left for the GPU check.
@Suite(.serialized) struct CUDADeviceTests {
    static var driverFolder: String? { EmulatedGPU.folder }

    static func device() throws -> CUDADevice {
        let folder = try #require(driverFolder)
        let driver = try CUDADriver(environment: ["BPFREE_CUDA_LIBS": folder])
        return try CUDADevice(index: 0, driver: driver, images: { _, _ in [0x7F] })
    }

    @Test func theEmulatedCardIsFoundAndEveryKernelLoads() throws {
        let device = try Self.device()
        #expect(device.gpu.name == "bpfree CPU emulator" && device.gpu.architecture == "sm_90")
        #expect(device.driver.library.path.hasSuffix("/libcuda.so.1"))
    }

    /// Pointer, 32- and 64-bit integer and float arguments reach the kernels in order, over
    /// launches of several blocks with a partial last block, and give the CPU primitives' results.
    @Test func launchesComputeWhatTheCPUPrimitivesCompute() throws {
        let device = try Self.device()
        var generator = SeededGenerator(seed: 3, stream: "device")
        let (n, c) = (37, 10)
        let z = Tensor(shape: [n, c], uniformIn: -3...3, using: &generator)
        let x = Tensor(shape: [n, c], uniformIn: -1...1, using: &generator)
        // add_scaled (pointer, pointer, int64, float): y += α·x over 370 threads in blocks of 128.
        let y = try device.upload(z.scalars), xb = try device.upload(x.scalars)
        try device.launch("add_scaled", threads: n * c, blockSize: 128, [.pointer(xb.address), .pointer(y.address), .int64(Int64(n * c)), .float32(-0.37)])
        var expected = z
        expected.add(x, scaledBy: -0.37)
        #expect(try device.download(y, count: n * c) == expected.scalars)
        // softmax_rows (pointer, pointer, int32, int32): one thread per row.
        let p = try device.allocator.block(bytes: n * c * 4), zb = try device.upload(z.scalars)
        try device.launch("softmax_rows", threads: n, blockSize: 32, [.pointer(zb.address), .pointer(p.address), .int32(Int32(n)), .int32(Int32(c))])
        var probabilities = Tensor(zeros: [0])
        z.softmaxRows(into: &probabilities)
        let result = try device.download(p, count: n * c)
        #expect(zip(result, probabilities.scalars).allSatisfy { abs($0 - $1) <= 1e-6 })
        // adam_step: four pointers, an int64 and seven floats, three steps against AdamW.
        let parameter = Parameter(name: "w", value: Tensor(shape: [n, c], uniformIn: -1...1, using: &generator))
        let w = try device.upload(parameter.value.scalars), m = try device.upload(.init(repeating: 0, count: n * c))
        let v = try device.upload(.init(repeating: 0, count: n * c))
        let optimizer = AdamW(learningRate: 1e-2, weightDecay: 0.1)
        for step in 1...3 {
            let g = Tensor(shape: [n, c], uniformIn: -1...1, using: &generator)
            parameter.gradient = g
            optimizer.step([parameter])
            let gb = try device.upload(g.scalars)
            let t = Float(step)
            let stepSize = 1e-2 / (1 - Foundation.pow(Float(0.9), t)), correction2 = (1 - Foundation.pow(Float(0.999), t)).squareRoot()
            try device.launch("adam_step", threads: n * c, [.pointer(w.address), .pointer(gb.address), .pointer(m.address), .pointer(v.address),
                                                            .int64(Int64(n * c)), .float32(0.9), .float32(0.999), .float32(1e-8),
                                                            .float32(stepSize), .float32(correction2), .float32(0), .float32(1 - 1e-2 * 0.1)])
            #expect(try device.download(gb, count: n * c).allSatisfy { $0 == 0 })
            device.allocator.release(gb)
        }
        let trained = try device.download(w, count: n * c)
        #expect(zip(trained, parameter.value.scalars).allSatisfy { abs($0 - $1) <= 1e-6 * max(1, abs($1)) })
    }

    /// Row-major products through cuBLAS's column-major sgemm, every transpose combination and
    /// an accumulating β, equal the CPU's BLAS products.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func cuBLASProductsEqualTheCPUs(transposeA: Bool, transposeB: Bool) throws {
        let device = try Self.device()
        let blas = try CUBLAS(device: device, environment: ["BPFREE_CUDA_LIBS": try #require(Self.driverFolder)])
        var generator = SeededGenerator(seed: 4, stream: "gemm")
        let (m, n, k) = (7, 5, 11)
        let a = Tensor(shape: transposeA ? [k, m] : [m, k], uniformIn: -1...1, using: &generator)
        let b = Tensor(shape: transposeB ? [n, k] : [k, n], uniformIn: -1...1, using: &generator)
        var c = Tensor(shape: [m, n], uniformIn: -1...1, using: &generator)
        let (ab, bb, cb) = (try device.upload(a.scalars), try device.upload(b.scalars), try device.upload(c.scalars))
        try blas.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 0.5, a: ab.address, lda: a.columns,
                      b: bb.address, ldb: b.columns, beta: 2, c: cb.address, ldc: n)
        Tensor.matmul(a, transposeA ? .transposed : .none, b, transposeB ? .transposed : .none, into: &c, alpha: 0.5, beta: 2)
        let result = try device.download(cb, count: m * n)
        #expect(zip(result, c.scalars).allSatisfy { abs($0 - $1) <= 1e-5 }, "\(result) vs \(c.scalars)")
    }

    /// `bpfree info --check-gpu`'s checks pass on the emulation (and so test the host code the
    /// GPU check runs on the card), with every block given back but cuBLAS's workspace.
    @Test func theGPUSelfCheckPassesOnTheEmulation() throws {
        let device = try Self.device()
        let blas = try CUBLAS(device: device, environment: ["BPFREE_CUDA_LIBS": try #require(Self.driverFolder)])
        let results = DeviceCheck.run(device, blas: blas)
        #expect(results.count == 9 && results.allSatisfy(\.passed), "\(results)")
        #expect(device.allocator.liveBytes == CUBLAS.workspaceBytes)
        let graph = DeviceCheck.stepGraph(on: try EmulatedGPU.backend())
        #expect(graph.passed, "\(graph)")
        #expect(!DeviceCheck.stepGraph(on: try EmulatedGPU.backend(graphs: false)).passed)
    }

    /// Freed blocks are reused by size class: a training loop's buffers come from the driver
    /// once; the peak counts what was live at once; emptying the cache frees everything.
    @Test func theCachingAllocatorAsksTheDriverOnlyForNewSizes() throws {
        var next: UInt64 = 4096, freed: [UInt64] = []
        let allocator = DeviceAllocator(allocate: { bytes in defer { next += UInt64(bytes) }; return next }, free: { freed.append($0) })
        #expect(DeviceAllocator.roundedSize(1) == 512 && DeviceAllocator.roundedSize(513) == 1024)
        #expect(DeviceAllocator.roundedSize(3 << 20) == 4 << 20)
        for _ in 0..<100 {
            let a = try allocator.block(bytes: 1000), b = try allocator.block(bytes: 3 << 20)
            allocator.release(a)
            allocator.release(b)
        }
        #expect(allocator.driverAllocations == 2 && allocator.liveBytes == 0)
        #expect(allocator.peakBytes == 1024 + (4 << 20) && allocator.reservedBytes == 1024 + (4 << 20))
        let held = try allocator.block(bytes: 700)
        allocator.resetPeak()
        #expect(allocator.peakBytes == 1024 && held.bytes == 1024)
        allocator.release(held)
        allocator.emptyCache()
        #expect(freed.count == 2 && allocator.reservedBytes == 0)
    }

    /// An allocation the card cannot hold fails, after the cache was given back, with the
    /// driver call and the driver's reason.
    @Test func anAllocationTooLargeNamesTheCallAndTheDriversReason() throws {
        let device = try Self.device()
        let small = try device.allocator.block(bytes: 4096)
        device.allocator.release(small)
        #expect { try device.allocator.block(bytes: 1 << 60) } throws: { "\($0)" == "cuMemAlloc_v2 failed: out of memory (CUDA error 2)" }
        #expect(device.allocator.reservedBytes == 0, "the cached block went back to the driver first")
    }

    /// CIFAR's crop-and-flip augmentation on a device tensor draws what it draws on the CPU and
    /// moves the same pixels.
    @Test func augmentationOnTheDeviceEqualsTheCPUs() throws {
        let backend = try EmulatedGPU.backend()
        var generator = SeededGenerator(seed: 9, stream: "images")
        var host = Tensor(shape: [7, 3 * 6 * 5], uniformIn: -1...1, using: &generator)
        let before = host
        var device = host.moved(to: backend)
        var (hostScratch, deviceScratch) = (Tensor(zeros: [0]), Tensor(zeros: [0]))
        for key in UInt64(1)...3 {
            Augmentation.cropAndFlip.apply(to: &host, sampleShape: [3, 6, 5], scratch: &hostScratch, key: key)
            Augmentation.cropAndFlip.apply(to: &device, sampleShape: [3, 6, 5], scratch: &deviceScratch, key: key)
        }
        #expect(device.device == .cuda(0) && device.scalars == host.scalars && host.scalars != before.scalars)
    }
}
