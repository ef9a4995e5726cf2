import Foundation
import Synchronization
import TensorCore

/// One GPU ready to compute: its primary context (cuBLAS and cuDNN use the same one), one stream
/// that every launch and copy goes to, every kernel of `KernelCatalog` loaded, and a caching
/// allocator. Launches take no host allocation: arguments are marshalled into a fixed area.
public final class CUDADevice: @unchecked Sendable {
    public let driver: CUDADriver
    public let gpu: GPUDevice
    public let allocator: DeviceAllocator
    let context: OpaquePointer?
    let stream: OpaquePointer?
    private var functions: [String: OpaquePointer] = [:]
    private let lock = NSLock()
    /// Room for `maximumArguments` arguments of 8 bytes, and the `void*` array pointing at them.
    private let argumentValues: UnsafeMutableRawPointer
    private let argumentPointers: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    static let maximumArguments = 32

    /// How a kernel source becomes a module image for this card: NVRTC's CUBIN by default
    /// (cached on disk); tests give the CPU emulator's placeholder.
    public typealias ImageProvider = @Sendable (KernelCatalog.SourceFile, GPUDevice) throws -> [UInt8]

    /// The card's CUBIN of `file`, compiled by the NVRTC found (`KernelCatalog.cubin`).
    public static let compiledImage: ImageProvider = { file, gpu in
        try KernelCatalog.cubin(file, architecture: gpu.architecture, compiler: NVRTC())
    }

    /// GPU `index`: retains its primary context, makes it current, creates the stream and loads
    /// every kernel module.
    public init(index: Int, driver: CUDADriver, images: ImageProvider = CUDADevice.compiledImage) throws {
        self.driver = driver
        let gpus = try driver.devices()
        guard index < gpus.count else { throw CUDADriver.Failure(call: "cuDeviceGet", code: 101, message: "no GPU \(index); there are \(gpus.count)") }
        gpu = gpus[index]
        var context: OpaquePointer?
        try driver.check(driver.cuDevicePrimaryCtxRetain(&context, Int32(index)), "cuDevicePrimaryCtxRetain")
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
        self.context = context
        var stream: OpaquePointer?
        try driver.check(driver.cuStreamCreate(&stream, 0), "cuStreamCreate")
        self.stream = stream
        allocator = DeviceAllocator(allocate: { bytes in
            var address: UInt64 = 0
            try driver.check(driver.cuMemAlloc(&address, bytes), "cuMemAlloc_v2")
            return address
        }, free: { address in _ = driver.cuMemFree(address) })
        argumentValues = UnsafeMutableRawPointer.allocate(byteCount: 8 * Self.maximumArguments, alignment: 8)
        argumentPointers = .allocate(capacity: Self.maximumArguments)
        for index in 0..<Self.maximumArguments { argumentPointers[index] = argumentValues + 8 * index }
        for file in KernelCatalog.files {
            let image = try images(file, gpu)
            var module: OpaquePointer?
            try image.withUnsafeBytes { try driver.check(driver.cuModuleLoadData(&module, $0.baseAddress!), "cuModuleLoadData (\(file.name))") }
            for kernel in file.kernels {
                var function: OpaquePointer?
                try driver.check(driver.cuModuleGetFunction(&function, module, kernel), "cuModuleGetFunction (\(kernel))")
                functions[kernel] = function
            }
        }
    }

    deinit {
        argumentValues.deallocate()
        argumentPointers.deallocate()
    }

    /// The loaded function of `kernel` (a name in `KernelCatalog`).
    public func function(_ kernel: String) -> OpaquePointer? {
        guard let function = functions[kernel] else { preconditionFailure("no kernel \(kernel) in KernelCatalog") }
        return function
    }

    /// Launches `kernel` over `threads` threads (one per element) in blocks of `blockSize`.
    public func launch(_ kernel: String, threads: Int, blockSize: Int = 256, _ arguments: [KernelArgument]) throws {
        try launch(function(kernel), named: kernel, threads: threads, blockSize: blockSize, arguments)
    }

    /// Launches a loaded `function` (`name` for errors) over `threads` threads in blocks of `blockSize`.
    func launch(_ function: OpaquePointer?, named name: @autoclosure () -> String, threads: Int, blockSize: Int = 256,
                _ arguments: [KernelArgument]) throws {
        let blocks = Self.blocks(threads: threads, blockSize: blockSize)
        try withMarshalled(arguments) { parameters in
            try driver.check(driver.cuLaunchKernel(function, UInt32(blocks), 1, 1, UInt32(blockSize), 1, 1, 0, stream, parameters, nil),
                             "cuLaunchKernel (\(name()))")
        }
    }

    /// Blocks of `blockSize` that cover `threads` threads.
    static func blocks(threads: Int, blockSize: Int) -> Int { max(1, (threads + blockSize - 1) / blockSize) }

    /// Runs `body` with `arguments` marshalled into the fixed area: the `void*` array the driver
    /// reads each argument from (and copies at once).
    func withMarshalled<Result>(_ arguments: [KernelArgument],
                                _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>) throws -> Result) throws -> Result {
        precondition(arguments.count <= Self.maximumArguments, "\(arguments.count) kernel arguments")
        return try lock.withLock {
            for (index, argument) in arguments.enumerated() {
                let slot = argumentValues + 8 * index
                switch argument {
                case .pointer(let address): slot.storeBytes(of: address, as: UInt64.self)
                case .int32(let value): slot.storeBytes(of: value, as: Int32.self)
                case .int64(let value): slot.storeBytes(of: value, as: Int64.self)
                case .float32(let value): slot.storeBytes(of: value, as: Float.self)
                }
            }
            return try body(argumentPointers)
        }
    }

    /// Copies host bytes to device memory (ordered after the stream's earlier work).
    public func copy(_ source: UnsafeRawBufferPointer, to address: UInt64) throws {
        try synchronize()
        try driver.check(driver.cuMemcpyHtoD(address, source.baseAddress!, source.count), "cuMemcpyHtoD_v2")
    }

    /// Copies device memory to host bytes, after the stream's work.
    public func copy(from address: UInt64, to destination: UnsafeMutableRawBufferPointer) throws {
        try synchronize()
        try driver.check(driver.cuMemcpyDtoH(destination.baseAddress!, address, destination.count), "cuMemcpyDtoH_v2")
    }

    /// Copies device memory to device memory, queued on the stream.
    public func copy(from source: UInt64, to destination: UInt64, bytes: Int) throws {
        try driver.check(driver.cuMemcpyDtoDAsync(destination, source, bytes, stream), "cuMemcpyDtoDAsync_v2")
    }

    /// A block from the allocator holding `values`.
    public func upload(_ values: [Float]) throws -> DeviceAllocator.Block {
        let block = try allocator.block(bytes: values.count * 4)
        try values.withUnsafeBytes { try copy($0, to: block.address) }
        return block
    }

    /// The first `count` floats of a block.
    public func download(_ block: DeviceAllocator.Block, count: Int) throws -> [Float] {
        var values = [Float](repeating: .nan, count: count)
        try values.withUnsafeMutableBytes { try copy(from: block.address, to: $0) }
        return values
    }

    /// Device memory free for new allocations: the driver's free bytes and the allocator's cached blocks.
    public func freeBytes() throws -> Int {
        var (free, total) = (0, 0)
        try driver.check(driver.cuMemGetInfo(&free, &total), "cuMemGetInfo_v2")
        return free + allocator.reservedBytes - allocator.liveBytes
    }

    /// The graph of the calls `body` queues on the stream, which it captures instead of running
    /// (relaxed capture: only this stream's calls are recorded).
    func capture(_ body: () throws -> Void) throws -> OpaquePointer? {
        try driver.check(driver.cuStreamBeginCapture(stream, 2), "cuStreamBeginCapture_v2")
        var failure: Error?
        do { try body() } catch { failure = error }
        var graph: OpaquePointer?
        let ended = driver.cuStreamEndCapture(stream, &graph)
        if let failure { throw failure }
        try driver.check(ended, "cuStreamEndCapture")
        return graph
    }

    /// Device memory outside the allocator for a moment's scratch (cuDNN's algorithm search):
    /// `bytes`, or half as much until the card has it (nothing below 1 MiB: then 0 bytes).
    func scratch(upTo bytes: Int) throws -> (address: UInt64, bytes: Int) {
        var size = bytes
        while size >= 1 << 20 {
            var address: UInt64 = 0
            if driver.cuMemAlloc(&address, size) == 0 { return (address, size) }
            size /= 2
        }
        return (0, 0)
    }

    /// Frees what `scratch` gave.
    func freeScratch(_ address: UInt64) {
        if address != 0 { _ = driver.cuMemFree(address) }
    }

    /// The card's milliseconds for the work `body` queues: the median of five runs after one to
    /// warm up, each between two events on the stream. Waits.
    func milliseconds(_ body: () throws -> Void) throws -> Double {
        var (start, end): (OpaquePointer?, OpaquePointer?) = (nil, nil)
        try driver.check(driver.cuEventCreate(&start, 0), "cuEventCreate")
        defer { _ = driver.cuEventDestroy(start) }
        try driver.check(driver.cuEventCreate(&end, 0), "cuEventCreate")
        defer { _ = driver.cuEventDestroy(end) }
        try body()
        var times: [Double] = []
        for _ in 0..<5 {
            try driver.check(driver.cuEventRecord(start, stream), "cuEventRecord")
            try body()
            try driver.check(driver.cuEventRecord(end, stream), "cuEventRecord")
            try driver.check(driver.cuEventSynchronize(end), "cuEventSynchronize")
            var milliseconds: Float = 0
            try driver.check(driver.cuEventElapsedTime(&milliseconds, start, end), "cuEventElapsedTime")
            times.append(Double(milliseconds))
        }
        return times.sorted()[times.count / 2]
    }

    /// Makes the card's context current on the calling thread (the driver's calls act on the
    /// thread's current context; the device sets it on the thread that opens it).
    public func makeCurrent() throws {
        try driver.check(driver.cuCtxSetCurrent(context), "cuCtxSetCurrent")
    }

    /// Waits for everything queued on the stream.
    public func synchronize() throws {
        try driver.check(driver.cuStreamSynchronize(stream), "cuStreamSynchronize")
    }
}
