import Foundation

/// Settings OpenBLAS and oneDNN's OpenMP runtime read only when they load, so bpfree sets them
/// by re-executing itself once at start-up (each unless the user set it).
public enum NumericLibraries {
    /// The variables to set before re-executing (empty: none to set).
    ///
    /// - `OPENBLAS_THREAD_TIMEOUT=16`: OpenBLAS's idle workers spin ~2²⁸ cycles after each
    ///   product and then compete with the kernel threads (e.g. the optimizer step); 2¹⁶ cycles
    ///   (~25 µs) keeps them awake between products separated by small elementwise kernels and
    ///   asleep during an optimizer pass. (4, the minimum, made mlp-3x2000 epochs 4–8% slower.)
    /// - `OPENBLAS_CORETYPE`: the best core the CPU allows when the library's own is of a weaker
    ///   tier (see `BLASCoreChoice`).
    /// - `OMP_WAIT_POLICY=PASSIVE`: oneDNN's OpenMP workers otherwise spin after every
    ///   convolution through the pooling, normalisation and optimizer passes that follow, which
    ///   share the cores; passive workers sleep at once and a convolution wakes them. BP on
    ///   cnn-3block, 6,016 training samples, 2 threads: 778 samples/s against 692 spinning.
    public static func startupEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> [String: String] {
        var changes: [String: String] = [:]
        if environment["OPENBLAS_THREAD_TIMEOUT"] == nil { changes["OPENBLAS_THREAD_TIMEOUT"] = "16" }
        if environment["OMP_WAIT_POLICY"] == nil { changes["OMP_WAIT_POLICY"] = "PASSIVE" }
        let loaded = BLAS.coreName
        if let core = BLASCoreChoice.override(loadedCore: loaded, features: .current(), environment: environment) {
            changes["OPENBLAS_CORETYPE"] = core
            changes[BLASCoreChoice.libraryCoreVariable] = loaded
        }
        return changes
    }

    /// Runs a product large enough for BLAS to take every thread, and the kernels' thread pool,
    /// so that what the libraries allocate once per process (BLAS's per-thread buffers, the
    /// threads' stacks) exists before a measurement window opens, in the first run of a process
    /// as in the later ones.
    public static func warmUp() {
        let a = Tensor(shape: [256, 256], repeating: 1)
        var c = Tensor(zeros: [0])
        Tensor.matmul(a, .none, a, .none, into: &c)
        Parallel.forEachChunk(count: Parallel.threads * 4, grain: 1) { _ in }
    }
}
