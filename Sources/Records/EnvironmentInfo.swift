/// The machine and software a run used, as recorded with every run.
public struct EnvironmentInfo: Sendable, Codable, Equatable {
    /// Which BLAS kernel family ran, who chose it and why.
    public struct BLASCore: Sendable, Codable, Equatable {
        /// OpenBLAS's core name.
        public var core: String
        /// `library`, `bpfree` or `user`.
        public var chosenBy: String
        /// What OpenBLAS chose by itself, when known.
        public var libraryCore: String?
        public var reason: String

        enum CodingKeys: String, CodingKey {
            case core, chosenBy = "chosen_by", libraryCore = "library_core", reason
        }

        public init(core: String, chosenBy: String, libraryCore: String?, reason: String) {
            self.core = core
            self.chosenBy = chosenBy
            self.libraryCore = libraryCore
            self.reason = reason
        }
    }

    /// The GPU a run computed on, as the driver describes it.
    public struct GPU: Sendable, Codable, Equatable {
        public var name: String
        /// e.g. "9.0".
        public var computeCapability: String
        public var multiprocessors: Int
        public var memoryBytes: Int
        /// The CUDA version the driver supports, e.g. "13.0".
        public var driverCUDA: String
        /// cuBLAS's and cuDNN's math: "fp32", or "tf32" when asked for.
        public var math: String
        /// The NVIDIA driver's version (from NVML, when it loads), e.g. "580.65.06".
        public var driverVersion: String?
        /// The NVRTC that compiled the kernels, e.g. "13.0".
        public var nvrtc: String?
        /// Training steps (and validation batches) the process ran as one CUDA graph each: 0 when
        /// the driver refused to build one; absent when graphs were off (`BPFREE_CUDA_GRAPHS=off`)
        /// and in earlier records.
        public var graphSteps: Int?
        /// How the card computed convolutions: absent when the run met none (cuDNN was never
        /// loaded) and in earlier records; with `BPFREE_CUDA_CONVOLUTIONS=im2col`, always there to say so.
        public var convolutions: Convolutions?

        enum CodingKeys: String, CodingKey {
            case name, computeCapability = "compute_capability", multiprocessors, memoryBytes = "memory_bytes"
            case driverCUDA = "driver_cuda", math, driverVersion = "driver_version", nvrtc, graphSteps = "graph_steps", convolutions
        }

        /// The convolution library, how a route was chosen, and the route of each pass of each
        /// shape the process met, with the times that chose it.
        public struct Convolutions: Sendable, Codable, Equatable {
            /// "cuDNN 9.10.2"; or why none: "not loaded: …", "not used (BPFREE_CUDA_CONVOLUTIONS=im2col)".
            public var library: String
            /// "measure" (each pass timed both ways, the faster kept), "cudnn" or "im2col"
            /// (`BPFREE_CUDA_CONVOLUTIONS`).
            public var selection: String
            public var passes: [Pass]
            /// Where measured choices are kept for later processes on this kind of card (absent
            /// when not measuring, or with `BPFREE_CONVOLUTION_CACHE=off`).
            public var choiceFile: String?

            enum CodingKeys: String, CodingKey {
                case library, selection, passes, choiceFile = "choice_file"
            }

            public init(library: String, selection: String, passes: [Pass]) {
                (self.library, self.selection, self.passes) = (library, selection, passes)
            }

            public struct Pass: Sendable, Codable, Equatable {
                /// e.g. "128×28×28×1 → 32, 3×3 stride 1 padding 1".
                public var shape: String
                /// "forward", "backward-data" or "backward-weights".
                public var pass: String
                /// "cudnn" or "im2col".
                public var route: String
                /// cuDNN's fastest deterministic algorithm, e.g. "IMPLICIT_PRECOMP_GEMM", whichever
                /// route won (absent when none ran).
                public var algorithm: String?
                /// Card milliseconds per pass each way, as measured (absent when not measured).
                public var im2colMilliseconds: Double?
                public var cudnnMilliseconds: Double?
                /// True when an earlier process measured it (on this kind of card) and this run
                /// followed it from the choice file; absent when this run measured it.
                public var earlierRun: Bool?

                enum CodingKeys: String, CodingKey {
                    case shape, pass, route, algorithm, im2colMilliseconds = "im2col_ms", cudnnMilliseconds = "cudnn_ms", earlierRun = "earlier_run"
                }

                public init(shape: String, pass: String, route: String, algorithm: String?, im2colMilliseconds: Double?, cudnnMilliseconds: Double?) {
                    (self.shape, self.pass, self.route, self.algorithm) = (shape, pass, route, algorithm)
                    (self.im2colMilliseconds, self.cudnnMilliseconds) = (im2colMilliseconds, cudnnMilliseconds)
                }
            }
        }

        public init(name: String, computeCapability: String, multiprocessors: Int, memoryBytes: Int, driverCUDA: String, math: String) {
            (self.name, self.computeCapability, self.multiprocessors, self.memoryBytes, self.driverCUDA, self.math)
                = (name, computeCapability, multiprocessors, memoryBytes, driverCUDA, math)
        }
    }

    public var cpuModel: String
    public var cores: Int
    public var blas: String
    public var blasCore: String
    /// Who chose `blasCore` and why (absent in records of earlier builds).
    public var blasCoreChoice: BLASCore?
    /// The library that runs convolutions and its instruction set (absent in earlier records).
    public var convolution: String?
    public var swiftVersion: String
    public var operatingSystem: String
    /// The bpfree release that ran (absent in records of earlier builds).
    public var bpfreeVersion: String?
    /// Where the run computed: "cpu" or "cuda:N" (absent in records of earlier builds: the CPU).
    public var device: String?
    /// The GPU, for a run on one.
    public var gpu: GPU?

    enum CodingKeys: String, CodingKey {
        case cpuModel = "cpu_model", cores, blas, blasCore = "blas_core", blasCoreChoice = "blas_core_choice", convolution
        case swiftVersion = "swift_version", operatingSystem = "operating_system", bpfreeVersion = "bpfree_version", device, gpu
    }

    public init(cpuModel: String, cores: Int, blas: String, blasCore: String, blasCoreChoice: BLASCore?, convolution: String?,
                swiftVersion: String, operatingSystem: String, bpfreeVersion: String?) {
        self.cpuModel = cpuModel
        self.cores = cores
        self.blas = blas
        self.blasCore = blasCore
        self.blasCoreChoice = blasCoreChoice
        self.convolution = convolution
        self.swiftVersion = swiftVersion
        self.operatingSystem = operatingSystem
        self.bpfreeVersion = bpfreeVersion
    }
}
