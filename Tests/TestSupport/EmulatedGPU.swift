import CUDA
import Foundation
import Testing

/// A CPU emulation of an NVIDIA GPU for the tests (`Tests/CUDATests/CPU/fake_driver.cpp`): a
/// `libcuda.so.1` built here with bpfree's kernels compiled as C++ and a trampoline per kernel
/// generated from its signature, which also answers for cuBLAS and cuDNN. bpfree's GPU host code runs
/// unchanged against it; only the card itself is left for the GPU check.
public enum EmulatedGPU {
    /// The folder holding the emulated `libcuda.so.1` (and `libcublas.so.13` and `libcudnn.so.9`, the same library), built once per test process.
    public static let folder: String? = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path + "/CUDATests"
        let kernels = URL(fileURLWithPath: here).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Sources/CUDA/Kernels").path
        let folder = IDXFiles.temporaryFolder()
        let trampolines = folder + "/trampolines.cpp"
        do {
            try Data(trampolineSource().utf8).write(to: URL(fileURLWithPath: trampolines))
            try PythonEnvironment.run("/usr/bin/env", [compiler, "-std=c++17", "-O1", "-ffp-contract=off", "-fPIC", "-shared", "-Wall", "-Werror",
                                                       "-o", folder + "/libcuda.so.1", here + "/CPU/fake_driver.cpp", here + "/CPU/fake_cudnn.cpp", here + "/CPU/launch.cpp",
                                                       trampolines, "-include", here + "/CPU/cuda_on_cpu.h", "-x", "c++"]
                                      + KernelCatalog.files.map { kernels + "/" + $0.name } + ["-lopenblas"])
            // The same library answers for cuBLAS and cuDNN.
            for library in ["libcublas.so.13", "libcudnn.so.9"] {
                try FileManager.default.createSymbolicLink(atPath: folder + "/" + library, withDestinationPath: folder + "/libcuda.so.1")
            }
            return folder
        } catch {
            Issue.record("the emulated driver did not build: \(error)")
            return nil
        }
    }()

    /// A new folder under `folder` in which each of `libraries` is the emulated driver (a card
    /// whose machine lacks the others).
    public static func folder(answeringFor libraries: [String], in folder: String) throws -> String {
        let emulator = try #require(Self.folder) + "/libcuda.so.1"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for library in libraries { try FileManager.default.createSymbolicLink(atPath: folder + "/" + library, withDestinationPath: emulator) }
        return folder
    }

    /// The Swift toolchain's clang++ (the one beside the `swift` on PATH), or the PATH's.
    public static let compiler: String = {
        let swift = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map { $0 + "/swift" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        let toolchain = swift.map { URL(fileURLWithPath: $0).resolvingSymlinksInPath().deletingLastPathComponent().path + "/clang++" }
        return toolchain.flatMap { FileManager.default.isExecutableFile(atPath: $0) ? $0 : nil } ?? "clang++"
    }()

    /// A backend on the emulated card, opened in this process (module images are placeholders:
    /// the emulator finds kernels by name); `graphs: false` runs every step call by call;
    /// `convolutions` is `BPFREE_CUDA_CONVOLUTIONS` (measure, cudnn or im2col).
    public static func backend(graphs: Bool = true, convolutions: String = "measure") throws -> CUDABackend {
        var environment = ["BPFREE_CUDA_LIBS": try #require(folder), "BPFREE_CUDA_CONVOLUTIONS": convolutions,
                           "BPFREE_CONVOLUTION_CACHE": IDXFiles.temporaryFolder()]
        if !graphs { environment["BPFREE_CUDA_GRAPHS"] = "off" }
        return try CUDABackend(index: 0, driver: CUDADriver(environment: environment), images: { _, _ in [0x7F] }, environment: environment)
    }

    /// `extern "C"` declarations of every kernel and a trampoline that calls it from the
    /// `void**` argument array `cuLaunchKernel` gets, with the table the emulator searches.
    static func trampolineSource() -> String {
        var declarations: [String] = [], table: [String] = []
        for file in KernelCatalog.files {
            for match in file.source.matches(of: #/extern "C" __global__ void (\w+)\(([^)]*)\)/#) {
                let name = String(match.output.1)
                // "const float* x" → type "const float*": the parameter without its name.
                let parameters = match.output.2.split(separator: ",").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
                let types = parameters.map { $0.replacing(#/\s*\w+$/#, with: "") }
                let arguments = types.enumerated().map { "*(\($1)*)p[\($0)]" }.joined(separator: ", ")
                declarations.append("extern \"C\" void \(name)(\(parameters.joined(separator: ", ")));")
                declarations.append("static void call_\(name)(void** p) { \(name)(\(arguments)); }")
                table.append("{\"\(name)\", call_\(name), \(types.count)}")
            }
        }
        return """
            struct bpfree_kernel_entry { const char* name; void (*call)(void** params); int parameters; };
            \(declarations.joined(separator: "\n"))
            extern "C" const bpfree_kernel_entry bpfree_kernel_table[] = {\(table.joined(separator: ", "))};
            extern "C" const int bpfree_kernel_count = \(table.count);

            """
    }
}
