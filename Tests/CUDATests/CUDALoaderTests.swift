import Foundation
import Testing
import TensorCore
import TestSupport
@testable import CUDA

/// The CUDA libraries are loaded at run time: on a machine without them every error is one
/// line naming the library and each place searched; with PyPI's NVRTC every kernel compiles.
@Suite struct CUDALoaderTests {
    @Test func aMissingLibraryNamesItselfAndEveryPlaceSearched() throws {
        let folder = IDXFiles.temporaryFolder()
        let environment = ["BPFREE_CUDA_LIBS": folder, "CUDA_HOME": folder + "/cuda", "PATH": folder]
        #expect { try SharedLibrary.open(["libbpfree-missing.so.1"], environment: environment) } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("libbpfree-missing.so.1 not found; searched: BPFREE_CUDA_LIBS=\(folder); CUDA_HOME=\(folder)/cuda; "
                                  + "the NVIDIA wheels (no python3 on PATH); the loader path (") && !text.contains("\n")
        }
    }

    /// A file of the right name that is not a library is named with the loader's reason.
    @Test func aBrokenLibraryIsNamedWithTheLoadersReason() throws {
        let folder = IDXFiles.temporaryFolder()
        try "not an ELF file".write(toFile: folder + "/libcuda.so.1", atomically: true, encoding: .utf8)
        #expect { try CUDADriver(environment: ["BPFREE_CUDA_LIBS": folder]) } throws: { error in
            "\(error)".contains("BPFREE_CUDA_LIBS=\(folder) (\(folder)/libcuda.so.1: ") && !"\(error)".contains("\n")
        }
    }

    /// The wheels of the python3 on PATH are searched: a venv's site-packages/nvidia/*/lib.
    @Test func theNVIDIAWheelsOfPython3OnPATHAreSearched() throws {
        let venv = IDXFiles.temporaryFolder() + "/venv"
        for folder in ["/bin", "/lib/python3.12/site-packages/nvidia/cu13/lib", "/lib/python3.12/site-packages/nvidia/cublas/lib"] {
            try FileManager.default.createDirectory(atPath: venv + folder, withIntermediateDirectories: true)
        }
        FileManager.default.createFile(atPath: venv + "/bin/python3", contents: Data(), attributes: [.posixPermissions: 0o755])
        let found = SharedLibrary.pythonWheelFolders(environment: ["PATH": venv + "/bin:/usr/bin"])
        #expect(found.python == venv + "/bin/python3")
        #expect(found.folders == [venv + "/lib/python3.12/site-packages/nvidia/cu13/lib", venv + "/lib/python3.12/site-packages/nvidia/cublas/lib"])
    }

    @Test func everyKernelSourceDeclaresItsKernels() {
        let kernels = KernelCatalog.files.flatMap(\.kernels)
        #expect(KernelCatalog.files.map(\.name) == ["rows.cu", "elementwise.cu", "losses.cu", "optimizers.cu", "convolution.cu", "random.cu"])
        for name in ["gather_rows", "count_argmax_matches", "softmax_rows", "normalize_rows", "squared_norm_loss", "candidate_loss",
                     "softmax_cross_entropy", "adam_step", "sgd_step", "add_bias_rows", "relu_backward"] {
            #expect(kernels.contains(name), "\(name)")
        }
        #expect(Set(kernels).count == kernels.count, "kernel names are unique")
        #expect(Set(kernels) == Set(DeviceKernel.allCases.map(\.rawValue)), "TensorCore launches exactly the kernels the sources define")
        #expect(KernelCatalog.files.allSatisfy { !$0.source.contains("#include") }, "NVRTC has no default include path")
    }

    /// Every kernel compiles for sm_80 and sm_90 without a warning, with NVRTC from PyPI
    /// (`nvidia-cuda-nvrtc`, no GPU needed); the CUBIN is cached by source, architecture and version.
    @Test func everyKernelCompilesWithNVRTCFromPyPI() throws {
        let python = try PythonEnvironment.python(named: "nvrtc-13", packages: ["nvidia-cuda-nvrtc==13.*"])
        let environment = ["PATH": URL(fileURLWithPath: python).deletingLastPathComponent().path + ":/usr/bin:/bin"]
        let compiler = try NVRTC(environment: environment)
        #expect(compiler.version.major == 13)
        let cache = IDXFiles.temporaryFolder()
        for architecture in ["sm_80", "sm_90"] {
            for file in KernelCatalog.files {
                let (cubin, log) = try compiler.compile(file.source, name: file.name, architecture: architecture)
                #expect(log.isEmpty, "\(file.name) for \(architecture): \(log)")
                #expect(cubin.starts(with: [0x7f, 0x45, 0x4c, 0x46]), "CUBIN is an ELF file")
                let symbols = String(decoding: cubin, as: UTF8.self)
                for kernel in file.kernels { #expect(symbols.contains(kernel), "\(kernel) in \(file.name)'s CUBIN") }
                let cached = try KernelCatalog.cubin(file, architecture: architecture, compiler: compiler, environment: ["BPFREE_CUBIN_CACHE": cache])
                #expect(cached == cubin)
            }
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: cache).count == 2 * KernelCatalog.files.count)
    }
}
