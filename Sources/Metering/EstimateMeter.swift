import Records

/// The documented power model used when nothing can be measured (CodeCarbon's process mode):
///
///     P_cpu = TDP · (process CPU-seconds per wall-second) / logical CPUs
///     P_mem = memoryWattsPerGiB · resident GiB
///
/// integrated over the sampler's points with the trapezoidal rule. Its figures are estimates and
/// are always labelled `estimate`.
public final class EstimateMeter: EnergyMeter, @unchecked Sendable {
    /// The model's constants (recorded with each run whose energy it estimates).
    public typealias Constants = EnergyModel

    public let name = "estimate"
    public let isMeasurement = false
    public let constants: Constants
    private let cpuSeconds: () -> Double
    private let residentBytes: () -> Double
    private var integrator = TrapezoidIntegrator()
    private var last: (time: Double, cpu: Double)?

    /// A model reading the process's CPU time and resident memory through the given functions
    /// (the real ones by default; tests pass their own).
    public init(constants: Constants, cpuSeconds: @escaping () -> Double = { ProcessStats.cpuSeconds },
                residentBytes: @escaping () -> Double = { ProcessStats.residentBytes }) {
        self.constants = constants
        self.cpuSeconds = cpuSeconds
        self.residentBytes = residentBytes
    }

    /// The model's power for a CPU utilisation (CPU-seconds per second) and resident bytes.
    public func watts(utilization: Double, residentBytes bytes: Double) -> Double {
        constants.cpuTDPWatts * min(utilization / Double(constants.logicalCPUs), 1)
            + constants.memoryWattsPerGiB * bytes / 1_073_741_824
    }

    public func start(at time: Double) {
        integrator = TrapezoidIntegrator()
        last = (time, cpuSeconds())
    }

    public func sample(at time: Double) -> MeterSample {
        guard let previous = last, time > previous.time else { return MeterSample() }
        let cpu = cpuSeconds()
        let power = watts(utilization: (cpu - previous.cpu) / (time - previous.time), residentBytes: residentBytes())
        // The first interval has no earlier power: treat it as constant over the interval.
        if integrator.joules == 0 { integrator.add(time: previous.time, watts: power) }
        integrator.add(time: time, watts: power)
        last = (time, cpu)
        return MeterSample(watts: power)
    }

    public func stop(at time: Double) -> Double {
        _ = sample(at: time)
        return integrator.joules
    }
}
