import Foundation

/// The CUDA C sources of bpfree's device kernels (`Sources/CUDA/Kernels/*.cu`, embedded in the
/// binary), each compiled at first use by NVRTC to CUBIN for the card's architecture and kept
/// in a disk cache keyed by the source's hash, the architecture and NVRTC's version.
public enum KernelCatalog {
    /// One source file and the kernels it defines.
    public struct SourceFile: Sendable {
        public let name: String
        public let source: String

        /// The `extern "C" __global__` functions of the file, in order.
        public var kernels: [String] {
            source.matches(of: #/extern "C" __global__ void (\w+)\(/#).map { String($0.output.1) }
        }
    }

    /// Every kernel source.
    public static let files: [SourceFile] = [
        SourceFile(name: "rows.cu", source: String(decoding: PackageResources.rows_cu, as: UTF8.self)),
        SourceFile(name: "elementwise.cu", source: String(decoding: PackageResources.elementwise_cu, as: UTF8.self)),
        SourceFile(name: "losses.cu", source: String(decoding: PackageResources.losses_cu, as: UTF8.self)),
        SourceFile(name: "optimizers.cu", source: String(decoding: PackageResources.optimizers_cu, as: UTF8.self)),
        SourceFile(name: "convolution.cu", source: String(decoding: PackageResources.convolution_cu, as: UTF8.self)),
        SourceFile(name: "random.cu", source: String(decoding: PackageResources.random_cu, as: UTF8.self)),
    ]

    /// FNV-1a, 64 bits: a cache key, not a checksum against tampering.
    static func hash(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }

    /// CUBIN of `file` for `architecture`, from the cache when this NVRTC made it before.
    /// The cache lives in `~/.cache/bpfree/cubin` (or `$BPFREE_CUBIN_CACHE`).
    public static func cubin(_ file: SourceFile, architecture: String, compiler: NVRTC,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> [UInt8] {
        let folder = environment["BPFREE_CUBIN_CACHE"] ?? FileManager.default.homeDirectoryForCurrentUser.path + "/.cache/bpfree/cubin"
        let key = String(format: "%016llx", hash(file.source))
        let path = "\(folder)/\(file.name)-\(key)-\(architecture)-nvrtc\(compiler.version.major).\(compiler.version.minor).cubin"
        if let cached = FileManager.default.contents(atPath: path) { return [UInt8](cached) }
        let cubin = try compiler.compile(file.source, name: file.name, architecture: architecture).cubin
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try? Data(cubin).write(to: URL(fileURLWithPath: path), options: .atomic)
        return cubin
    }
}
