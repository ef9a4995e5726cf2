/// The columns of a resource trace, in their order: the one list of them, which the trace CSV,
/// a trace row's values, the store's trace table, the record's trace summary and the report's
/// charts all read.
public enum TraceColumn: String, CaseIterable, Sendable {
    /// Seconds since the window opened.
    case time = "time_s"
    /// Process CPU time per wall time, as a percentage of all logical CPUs (0–100).
    case cpuUtilizationPercent = "cpu_utilization_percent"
    case cpuClockMHz = "cpu_clock_mhz"
    case residentBytes = "rss_bytes"
    /// Summed power of the meters that report it, in watts.
    case watts = "power_watts"
    case gpuUtilizationPercent = "gpu_utilization_percent"
    case gpuSMClockMHz = "gpu_sm_clock_mhz"
    /// Memory in use on the GPU, device-wide (NVML).
    case gpuMemoryBytes = "gpu_memory_bytes"

    /// The names, in column order.
    public static let names = allCases.map(\.rawValue)
}
