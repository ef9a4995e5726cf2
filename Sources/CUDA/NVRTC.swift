import Foundation

/// NVIDIA's run-time compiler (`libnvrtc.so.13`, from a CUDA toolkit or PyPI's
/// `nvidia-cuda-nvrtc`), loaded at run time. It needs no GPU: kernels compile to CUBIN for a
/// named architecture on any machine. CUBIN, not PTX: PTX from an NVRTC newer than the driver
/// is refused by the driver (CUDA_ERROR_UNSUPPORTED_PTX_VERSION).
public final class NVRTC: @unchecked Sendable {
    typealias Result = Int32
    typealias Program = OpaquePointer
    /// Where NVRTC was found.
    public let library: SharedLibrary
    /// NVRTC's version, e.g. (13, 0).
    public let version: (major: Int, minor: Int)
    let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<Program?>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
                                            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    let nvrtcCompileProgram: @convention(c) (Program?, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Result
    let nvrtcGetProgramLogSize: @convention(c) (Program?, UnsafeMutablePointer<Int>) -> Result
    let nvrtcGetProgramLog: @convention(c) (Program?, UnsafeMutablePointer<CChar>) -> Result
    let nvrtcGetCUBINSize: @convention(c) (Program?, UnsafeMutablePointer<Int>) -> Result
    let nvrtcGetCUBIN: @convention(c) (Program?, UnsafeMutablePointer<CChar>) -> Result
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<Program?>) -> Result
    let nvrtcGetErrorString: @convention(c) (Result) -> UnsafePointer<CChar>?

    /// A compilation that failed, with NVRTC's log.
    public struct CompileError: Error, CustomStringConvertible {
        public let file: String
        public let architecture: String
        public let log: String
        public var description: String { "\(file) for \(architecture): \(log)" }
    }

    /// Loads NVRTC (13, else 12) and, from the same folder, its builtins library, which NVRTC
    /// opens by name and would not find outside the loader path.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        library = try SharedLibrary.open(["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"], environment: environment)
        if let folder = library.folder {
            let builtins = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("libnvrtc-builtins.so") }
            for name in builtins.sorted() { _ = try? SharedLibrary.open([name], global: true, environment: ["BPFREE_CUDA_LIBS": folder]) }
        }
        let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Result = try library.function("nvrtcVersion")
        var (major, minor): (Int32, Int32) = (0, 0)
        _ = nvrtcVersion(&major, &minor)
        version = (Int(major), Int(minor))
        nvrtcCreateProgram = try library.function("nvrtcCreateProgram")
        nvrtcCompileProgram = try library.function("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try library.function("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try library.function("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try library.function("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try library.function("nvrtcGetCUBIN")
        nvrtcDestroyProgram = try library.function("nvrtcDestroyProgram")
        nvrtcGetErrorString = try library.function("nvrtcGetErrorString")
    }

    /// The options every kernel is compiled with: IEEE FP32 (no fast math: results must match
    /// the CPU's within rounding), all warnings shown.
    public static func options(architecture: String) -> [String] {
        ["--gpu-architecture=\(architecture)", "--std=c++17", "--fmad=false"]
    }

    /// CUBIN of `source` for `architecture` (e.g. `sm_90`), and NVRTC's log (warnings; empty
    /// when there are none).
    public func compile(_ source: String, name: String, architecture: String) throws -> (cubin: [UInt8], log: String) {
        var program: Program?
        var result = source.withCString { src in name.withCString { nvrtcCreateProgram(&program, src, $0, 0, nil, nil) } }
        guard result == 0 else { throw CompileError(file: name, architecture: architecture, log: errorString(result)) }
        defer { _ = nvrtcDestroyProgram(&program) }
        let options = Self.options(architecture: architecture)
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        result = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { nvrtcCompileProgram(program, Int32(options.count), $0.baseAddress) }
        var logSize = 0
        _ = nvrtcGetProgramLogSize(program, &logSize)
        var logBytes = [CChar](repeating: 0, count: max(logSize, 1))
        _ = nvrtcGetProgramLog(program, &logBytes)
        let log = String(cString: logBytes).trimmingCharacters(in: .whitespacesAndNewlines)
        guard result == 0 else { throw CompileError(file: name, architecture: architecture, log: log.isEmpty ? errorString(result) : log) }
        var size = 0
        _ = nvrtcGetCUBINSize(program, &size)
        var cubin = [CChar](repeating: 0, count: size)
        result = nvrtcGetCUBIN(program, &cubin)
        guard result == 0 else { throw CompileError(file: name, architecture: architecture, log: errorString(result)) }
        return (cubin.map { UInt8(bitPattern: $0) }, log)
    }

    private func errorString(_ result: Result) -> String {
        nvrtcGetErrorString(result).map { String(cString: $0) } ?? "NVRTC error \(result)"
    }
}
