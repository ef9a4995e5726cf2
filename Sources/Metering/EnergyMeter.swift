/// What one sample of a meter adds to the trace.
public struct MeterSample: Sendable, Equatable {
    /// Power drawn by what the meter covers, in watts, where it can tell.
    public var watts: Double?
    /// GPU utilisation in percent (NVML).
    public var gpuUtilizationPercent: Double?
    /// GPU streaming-multiprocessor clock in MHz (NVML).
    public var gpuSMClockMHz: Double?
    /// GPU memory in use, bytes (NVML).
    public var gpuMemoryBytes: Double?

    public init(watts: Double? = nil, gpuUtilizationPercent: Double? = nil, gpuSMClockMHz: Double? = nil,
                gpuMemoryBytes: Double? = nil) {
        self.watts = watts
        self.gpuUtilizationPercent = gpuUtilizationPercent
        self.gpuSMClockMHz = gpuSMClockMHz
        self.gpuMemoryBytes = gpuMemoryBytes
    }
}

/// An energy source over a measurement window: started once, sampled periodically (so counters
/// never wrap unseen and power curves can be integrated), stopped once.
public protocol EnergyMeter: AnyObject {
    /// `rapl`, `nvml` or `estimate`.
    var name: String { get }
    /// Whether the figure is measured by hardware (false: a model's estimate).
    var isMeasurement: Bool { get }
    /// Opens the window at `time` (seconds on a monotonic clock).
    func start(at time: Double)
    /// Takes a sample at `time` during the window.
    func sample(at time: Double) -> MeterSample
    /// Closes the window at `time` and returns the joules over it.
    func stop(at time: Double) -> Double
}

/// Why a meter is not available on this machine (a normal outcome, not an error).
public struct MeterUnavailable: Error, Sendable, Equatable, CustomStringConvertible {
    public let meter: String
    public let reason: String

    public init(meter: String, reason: String) {
        self.meter = meter
        self.reason = reason
    }

    public var description: String { "\(meter): \(reason)" }
}

/// Trapezoidal integration of a power curve, point by point.
public struct TrapezoidIntegrator: Sendable {
    private var last: (time: Double, watts: Double)?
    /// Joules accumulated so far.
    public private(set) var joules = 0.0

    public init() {}

    /// Adds the point (`time` s, `watts` W): the area of the trapezoid since the previous point.
    public mutating func add(time: Double, watts: Double) {
        if let last { joules += (time - last.time) * (watts + last.watts) / 2 }
        last = (time, watts)
    }
}
