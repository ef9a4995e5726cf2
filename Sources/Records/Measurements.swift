/// The estimate model's constants, in one place (printed by `bpfree info`, recorded with each run).
public struct EnergyModel: Sendable, Equatable, Codable {
    /// CPU package power at full load of every logical CPU, in watts.
    public var cpuTDPWatts: Double
    /// Logical CPUs the TDP is spread over.
    public var logicalCPUs: Int
    /// Memory power per GiB resident, in watts (CodeCarbon 2.x: 3 W per 8 GB).
    public var memoryWattsPerGiB: Double

    public init(cpuTDPWatts: Double, logicalCPUs: Int, memoryWattsPerGiB: Double) {
        self.cpuTDPWatts = cpuTDPWatts
        self.logicalCPUs = logicalCPUs
        self.memoryWattsPerGiB = memoryWattsPerGiB
    }

    /// CodeCarbon's fallback when the CPU model is not in its table: 4 W per logical CPU.
    public static let defaultWattsPerLogicalCPU = 4.0
    /// CodeCarbon 2.x RAM model: 0.375 W per GiB.
    public static let defaultMemoryWattsPerGiB = 0.375

    /// The defaults for `logicalCPUs`, with an optional TDP override.
    public static func defaults(logicalCPUs: Int, cpuTDPWatts: Double? = nil) -> EnergyModel {
        EnergyModel(cpuTDPWatts: cpuTDPWatts ?? defaultWattsPerLogicalCPU * Double(logicalCPUs),
                  logicalCPUs: logicalCPUs, memoryWattsPerGiB: defaultMemoryWattsPerGiB)
    }

    enum CodingKeys: String, CodingKey {
        case cpuTDPWatts = "cpu_tdp_watts", logicalCPUs = "logical_cpus", memoryWattsPerGiB = "memory_watts_per_gib"
    }
}

/// Mean and maximum of one trace column over a measurement window.
public struct ColumnSummary: Sendable, Equatable, Codable {
    public var mean: Double
    public var max: Double

    public init(mean: Double, max: Double) {
        self.mean = mean
        self.max = max
    }
}
