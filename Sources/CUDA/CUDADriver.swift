import Foundation

/// The CUDA driver API (`libcuda.so.1`, installed with the NVIDIA driver), loaded at run time:
/// the calls bpfree makes, declared by hand from CUDA 12.6/13's `cuda.h` (the `_v2` symbols,
/// whose sizes are 64-bit).
public final class CUDADriver: @unchecked Sendable {
    typealias Result = Int32
    let library: SharedLibrary
    let cuInit: @convention(c) (UInt32) -> Result
    let cuDriverGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGetCount: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let cuDeviceGet: @convention(c) (UnsafeMutablePointer<Int32>, Int32) -> Result
    let cuDeviceGetName: @convention(c) (UnsafeMutablePointer<CChar>, Int32, Int32) -> Result
    let cuDeviceGetAttribute: @convention(c) (UnsafeMutablePointer<Int32>, Int32, Int32) -> Result
    let cuDeviceTotalMem: @convention(c) (UnsafeMutablePointer<Int>, Int32) -> Result
    let cuGetErrorString: @convention(c) (Result, UnsafeMutablePointer<UnsafePointer<CChar>?>) -> Result
    // Contexts, memory, modules, launches and streams (`CUcontext`, `CUmodule`, `CUfunction`
    // and `CUstream` are opaque pointers; `CUdeviceptr` is a 64-bit integer).
    let cuDevicePrimaryCtxRetain: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, Int32) -> Result
    let cuCtxSetCurrent: @convention(c) (OpaquePointer?) -> Result
    let cuCtxSynchronize: @convention(c) () -> Result
    let cuMemAlloc: @convention(c) (UnsafeMutablePointer<UInt64>, Int) -> Result
    let cuMemFree: @convention(c) (UInt64) -> Result
    let cuMemGetInfo: @convention(c) (UnsafeMutablePointer<Int>, UnsafeMutablePointer<Int>) -> Result
    let cuMemcpyHtoD: @convention(c) (UInt64, UnsafeRawPointer, Int) -> Result
    let cuMemcpyDtoH: @convention(c) (UnsafeMutableRawPointer, UInt64, Int) -> Result
    let cuMemcpyDtoDAsync: @convention(c) (UInt64, UInt64, Int, OpaquePointer?) -> Result
    let cuModuleLoadData: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UnsafeRawPointer) -> Result
    let cuModuleGetFunction: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<CChar>) -> Result
    let cuLaunchKernel: @convention(c) (OpaquePointer?, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, OpaquePointer?,
                                        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Result
    let cuStreamCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Result
    let cuStreamSynchronize: @convention(c) (OpaquePointer?) -> Result
    // Graphs (`CUgraph`, `CUgraphNode`, `CUgraphExec` are opaque pointers).
    let cuStreamBeginCapture: @convention(c) (OpaquePointer?, Int32) -> Result
    let cuStreamEndCapture: @convention(c) (OpaquePointer?, UnsafeMutablePointer<OpaquePointer?>) -> Result
    let cuGraphCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Result
    let cuGraphAddKernelNode: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<OpaquePointer?>?, Int,
                                              UnsafeRawPointer) -> Result
    let cuGraphAddChildGraphNode: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UnsafePointer<OpaquePointer?>?, Int,
                                                  OpaquePointer?) -> Result
    let cuGraphInstantiateWithFlags: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, OpaquePointer?, UInt64) -> Result
    let cuGraphExecKernelNodeSetParams: @convention(c) (OpaquePointer?, OpaquePointer?, UnsafeRawPointer) -> Result
    let cuGraphLaunch: @convention(c) (OpaquePointer?, OpaquePointer?) -> Result
    let cuGraphExecDestroy: @convention(c) (OpaquePointer?) -> Result
    let cuGraphDestroy: @convention(c) (OpaquePointer?) -> Result
    // Events, to time work on the stream by the card's clock.
    let cuEventCreate: @convention(c) (UnsafeMutablePointer<OpaquePointer?>, UInt32) -> Result
    let cuEventRecord: @convention(c) (OpaquePointer?, OpaquePointer?) -> Result
    let cuEventSynchronize: @convention(c) (OpaquePointer?) -> Result
    let cuEventElapsedTime: @convention(c) (UnsafeMutablePointer<Float>, OpaquePointer?, OpaquePointer?) -> Result
    let cuEventDestroy: @convention(c) (OpaquePointer?) -> Result

    /// `CUDA_KERNEL_NODE_PARAMS_v2` (cuda.h), for the `_v2` kernel-node calls: Swift lays a
    /// struct's fields out in order with C's alignment (72 bytes, checked when the driver loads).
    struct KernelNodeParameters {
        var function: OpaquePointer?
        var gridX: UInt32, gridY: UInt32 = 1, gridZ: UInt32 = 1
        var blockX: UInt32, blockY: UInt32 = 1, blockZ: UInt32 = 1
        var sharedMemoryBytes: UInt32 = 0
        var parameters: UnsafeMutablePointer<UnsafeMutableRawPointer?>?
        var extra: UnsafeMutablePointer<UnsafeMutableRawPointer?>? = nil
        var kernel: OpaquePointer? = nil
        var context: OpaquePointer? = nil
    }

    /// `CUdevice_attribute` values (cuda.h).
    enum Attribute: Int32 {
        case multiprocessorCount = 16
        case computeCapabilityMajor = 75
        case computeCapabilityMinor = 76
    }

    /// A driver call that failed, with the driver's own words.
    public struct Failure: Error, CustomStringConvertible {
        public let call: String
        public let code: Int32
        public let message: String
        public var description: String { "\(call) failed: \(message) (CUDA error \(code))" }
    }

    /// Loads `libcuda.so.1` and initialises the driver.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try SharedLibrary.open(["libcuda.so.1"], environment: environment)
        cuInit = try library.function("cuInit")
        cuDriverGetVersion = try library.function("cuDriverGetVersion")
        cuDeviceGetCount = try library.function("cuDeviceGetCount")
        cuDeviceGet = try library.function("cuDeviceGet")
        cuDeviceGetName = try library.function("cuDeviceGetName")
        cuDeviceGetAttribute = try library.function("cuDeviceGetAttribute")
        cuDeviceTotalMem = try library.function("cuDeviceTotalMem_v2")
        cuGetErrorString = try library.function("cuGetErrorString")
        cuDevicePrimaryCtxRetain = try library.function("cuDevicePrimaryCtxRetain")
        cuCtxSetCurrent = try library.function("cuCtxSetCurrent")
        cuCtxSynchronize = try library.function("cuCtxSynchronize")
        cuMemAlloc = try library.function("cuMemAlloc_v2")
        cuMemFree = try library.function("cuMemFree_v2")
        cuMemGetInfo = try library.function("cuMemGetInfo_v2")
        cuMemcpyHtoD = try library.function("cuMemcpyHtoD_v2")
        cuMemcpyDtoH = try library.function("cuMemcpyDtoH_v2")
        cuMemcpyDtoDAsync = try library.function("cuMemcpyDtoDAsync_v2")
        cuModuleLoadData = try library.function("cuModuleLoadData")
        cuModuleGetFunction = try library.function("cuModuleGetFunction")
        cuLaunchKernel = try library.function("cuLaunchKernel")
        cuStreamCreate = try library.function("cuStreamCreate")
        cuStreamSynchronize = try library.function("cuStreamSynchronize")
        cuStreamBeginCapture = try library.function("cuStreamBeginCapture_v2")
        cuStreamEndCapture = try library.function("cuStreamEndCapture")
        cuGraphCreate = try library.function("cuGraphCreate")
        cuGraphAddKernelNode = try library.function("cuGraphAddKernelNode_v2")
        cuGraphAddChildGraphNode = try library.function("cuGraphAddChildGraphNode")
        cuGraphInstantiateWithFlags = try library.function("cuGraphInstantiateWithFlags")
        cuGraphExecKernelNodeSetParams = try library.function("cuGraphExecKernelNodeSetParams_v2")
        cuGraphLaunch = try library.function("cuGraphLaunch")
        cuGraphExecDestroy = try library.function("cuGraphExecDestroy")
        cuGraphDestroy = try library.function("cuGraphDestroy")
        cuEventCreate = try library.function("cuEventCreate")
        cuEventRecord = try library.function("cuEventRecord")
        cuEventSynchronize = try library.function("cuEventSynchronize")
        // CUDA 13's headers name the `_v2` (same arguments); drivers export both.
        cuEventElapsedTime = try (try? library.function("cuEventElapsedTime")) ?? library.function("cuEventElapsedTime_v2")
        cuEventDestroy = try library.function("cuEventDestroy_v2")
        precondition(MemoryLayout<KernelNodeParameters>.size == 72 && MemoryLayout<KernelNodeParameters>.offset(of: \.parameters) == 40,
                     "CUDA_KERNEL_NODE_PARAMS_v2's layout")
        try check(cuInit(0), "cuInit")
    }

    func check(_ result: Result, _ call: String) throws {
        guard result != 0 else { return }
        var text: UnsafePointer<CChar>?
        let message = cuGetErrorString(result, &text) == 0 ? text.map { String(cString: $0) } ?? "unknown error" : "unknown error"
        throw Failure(call: call, code: result, message: message)
    }

    /// The driver's CUDA version, e.g. 13000 for 13.0.
    public func version() throws -> Int {
        var version: Int32 = 0
        try check(cuDriverGetVersion(&version), "cuDriverGetVersion")
        return Int(version)
    }

    /// Every visible GPU.
    public func devices() throws -> [GPUDevice] {
        var count: Int32 = 0
        try check(cuDeviceGetCount(&count), "cuDeviceGetCount")
        let driverVersion = try version()
        return try (0..<count).map { index in
            var device: Int32 = 0
            try check(cuDeviceGet(&device, index), "cuDeviceGet")
            var name = [CChar](repeating: 0, count: 256)
            try check(cuDeviceGetName(&name, 256, device), "cuDeviceGetName")
            func attribute(_ attribute: Attribute) throws -> Int {
                var value: Int32 = 0
                try check(cuDeviceGetAttribute(&value, attribute.rawValue, device), "cuDeviceGetAttribute")
                return Int(value)
            }
            var memory = 0
            try check(cuDeviceTotalMem(&memory, device), "cuDeviceTotalMem_v2")
            return GPUDevice(index: Int(index), name: String(cString: name),
                             computeCapability: (try attribute(.computeCapabilityMajor), try attribute(.computeCapabilityMinor)),
                             multiprocessors: try attribute(.multiprocessorCount), memoryBytes: memory, driverVersion: driverVersion)
        }
    }
}

/// One GPU as the driver describes it.
public struct GPUDevice: Sendable {
    public let index: Int
    public let name: String
    public let computeCapability: (major: Int, minor: Int)
    public let multiprocessors: Int
    public let memoryBytes: Int
    /// The driver's CUDA version, e.g. 13000.
    public let driverVersion: Int

    /// NVRTC's `--gpu-architecture` for this card, e.g. `sm_90`.
    public var architecture: String { "sm_\(computeCapability.major)\(computeCapability.minor)" }

    /// One line for `bpfree info`.
    public var summary: String {
        "cuda:\(index) \(name), compute capability \(computeCapability.major).\(computeCapability.minor), \(multiprocessors) SMs, "
            + String(format: "%.1f GiB", Double(memoryBytes) / 1_073_741_824)
            + ", driver CUDA \(driverVersion / 1000).\(driverVersion % 1000 / 10)"
    }
}
