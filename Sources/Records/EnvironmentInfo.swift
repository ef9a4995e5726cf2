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

    enum CodingKeys: String, CodingKey {
        case cpuModel = "cpu_model", cores, blas, blasCore = "blas_core", blasCoreChoice = "blas_core_choice", convolution
        case swiftVersion = "swift_version", operatingSystem = "operating_system", bpfreeVersion = "bpfree_version"
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
