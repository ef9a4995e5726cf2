import Dispatch
import Foundation
import Records
import Synchronization

/// One row of a resource trace.
public struct TraceRow: Sendable, Equatable {
    /// Seconds since the window opened.
    public var time: Double
    /// Process CPU time per wall time, as a percentage of all logical CPUs (0–100).
    public var cpuUtilizationPercent: Double
    public var cpuClockMHz: Double?
    public var residentBytes: Double
    /// Summed power of the meters that report it, in watts.
    public var watts: Double?
    public var gpuUtilizationPercent: Double?
    public var gpuSMClockMHz: Double?
    public var gpuMemoryBytes: Double?

    /// Rows of values in column order as CSV, with a header line (empty fields for unavailable).
    public static func csv(_ rows: [[Double?]]) -> String {
        var lines = [TraceColumn.names.joined(separator: ",")]
        for row in rows { lines.append(row.map { $0.map { String(format: "%.6g", $0) } ?? "" }.joined(separator: ",")) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A column's value (nil for unavailable).
    public subscript(_ column: TraceColumn) -> Double? {
        switch column {
        case .time: time
        case .cpuUtilizationPercent: cpuUtilizationPercent
        case .cpuClockMHz: cpuClockMHz
        case .residentBytes: residentBytes
        case .watts: watts
        case .gpuUtilizationPercent: gpuUtilizationPercent
        case .gpuSMClockMHz: gpuSMClockMHz
        case .gpuMemoryBytes: gpuMemoryBytes
        }
    }

    /// The values in column order (nil for unavailable).
    public var values: [Double?] { TraceColumn.allCases.map { self[$0] } }
}

/// What a measurement window produced.
public struct MeasurementResult: Sendable {
    /// Total joules: the measured meters' sum, or the estimate when nothing measures.
    public var energyJoules: Double
    /// `rapl`, `nvml`, `rapl+nvml` or `estimate`.
    public var energySource: String
    /// Joules per meter used.
    public var energyByMeter: [String: Double]
    public var rows: [TraceRow]
    /// Mean/max per trace column (columns with no value are absent).
    public var summary: [String: ColumnSummary]
    /// Highest resident bytes among the samples (the fallback for peak RSS).
    public var sampledPeakResidentBytes: Double
    /// Wall-clock seconds the sampler spent taking samples (its overhead).
    public var samplerSeconds: Double
    /// What else used the machine's CPUs over the window (other processes, the hypervisor).
    public var contention: Contention?
}

/// Meters and a background sampler over one measurement window.
public final class MeasurementSession: @unchecked Sendable {
    public let meters: [any EnergyMeter]
    /// Samples per second; 0 samples only at the window's ends.
    public let traceHz: Double
    private var machineAtStart: (busy: Double, steal: Double)?
    private var ownAtStart = 0.0
    private var rows: [TraceRow] = []
    private var samplerSeconds = 0.0
    private var origin = 0.0
    private var lastCPU = (time: 0.0, seconds: 0.0)
    private let stopSignal = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let running = Atomic<Bool>(false)

    /// A session over `meters`, sampling at `traceHz`.
    public init(meters: [any EnergyMeter], traceHz: Double) {
        self.meters = meters
        self.traceHz = traceHz
    }

    /// Seconds on a monotonic clock.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

    /// Opens the window: starts the meters and the sampler thread.
    public func start() {
        machineAtStart = ProcessStats.machineCPUSeconds
        ownAtStart = ProcessStats.cpuSeconds
        origin = Self.now()
        rows = []
        samplerSeconds = 0
        lastCPU = (origin, ProcessStats.cpuSeconds)
        for meter in meters { meter.start(at: origin) }
        guard traceHz > 0 else { return }
        running.store(true, ordering: .sequentiallyConsistent)
        let period = 1 / traceHz
        let thread = Thread { [self] in
            var next = origin + period
            while true {
                let wait = max(0, next - Self.now())
                if stopSignal.wait(timeout: .now() + wait) == .success { break }
                let began = Self.now()
                takeSample(at: began)
                samplerSeconds += Self.now() - began
                next += period
            }
            finished.signal()
        }
        thread.name = "bpfree-sampler"
        thread.start()
    }

    /// One trace row from every source.
    private func takeSample(at time: Double) {
        let cpu = ProcessStats.cpuSeconds
        let utilization = time > lastCPU.time ? (cpu - lastCPU.seconds) / (time - lastCPU.time) : 0
        lastCPU = (time, cpu)
        var row = TraceRow(time: time - origin,
                           cpuUtilizationPercent: 100 * utilization / Double(ProcessStats.logicalCPUs),
                           cpuClockMHz: ProcessStats.cpuClockMHz, residentBytes: ProcessStats.residentBytes)
        for meter in meters {
            let sample = meter.sample(at: time)
            if let watts = sample.watts, meter.isMeasurement || !meters.contains(where: \.isMeasurement) {
                row.watts = (row.watts ?? 0) + watts
            }
            row.gpuUtilizationPercent = sample.gpuUtilizationPercent ?? row.gpuUtilizationPercent
            row.gpuSMClockMHz = sample.gpuSMClockMHz ?? row.gpuSMClockMHz
            row.gpuMemoryBytes = sample.gpuMemoryBytes ?? row.gpuMemoryBytes
        }
        rows.append(row)
    }

    /// Closes the window: stops the sampler (waiting for it), stops the meters, sums up.
    public func stop() -> MeasurementResult {
        if running.exchange(false, ordering: .sequentiallyConsistent) {
            stopSignal.signal()
            finished.wait()
        }
        let end = Self.now()
        var contention: Contention?
        if let before = machineAtStart, let after = ProcessStats.machineCPUSeconds {
            contention = ContentionProbe.contention(seconds: end - origin,
                                                    otherCPUSeconds: max(0, (after.busy - before.busy) - (ProcessStats.cpuSeconds - ownAtStart)),
                                                    stealSeconds: max(0, after.steal - before.steal))
        }
        var byMeter: [String: Double] = [:]
        for meter in meters { byMeter[meter.name, default: 0] += meter.stop(at: end) }
        let measured = meters.filter(\.isMeasurement).map(\.name)
        let source = measured.isEmpty ? "estimate" : Array(Set(measured)).sorted().joined(separator: "+")
        let used = byMeter.filter { measured.isEmpty || measured.contains($0.key) }
        return MeasurementResult(energyJoules: used.values.reduce(0, +), energySource: source, energyByMeter: used,
                                 rows: rows, summary: Self.summarize(rows),
                                 sampledPeakResidentBytes: rows.map(\.residentBytes).max() ?? 0,
                                 samplerSeconds: samplerSeconds, contention: contention)
    }

    static func summarize(_ rows: [TraceRow]) -> [String: ColumnSummary] {
        var summary: [String: ColumnSummary] = [:]
        for column in TraceColumn.allCases where column != .time {
            let values = rows.compactMap { $0[column] }
            guard !values.isEmpty else { continue }
            summary[column.rawValue] = ColumnSummary(mean: values.reduce(0, +) / Double(values.count), max: values.max()!)
        }
        return summary
    }
}

/// Finds the meters this machine has; a missing meter is an answer, not an error.
public enum MeterDiscovery {
    /// What was found and what was not (with the reason).
    public struct Found {
        public var meters: [any EnergyMeter]
        public var missing: [MeterUnavailable]
    }

    /// RAPL and NVML where present; the estimate model only when neither measures.
    public static func discover(estimate constants: EstimateMeter.Constants, raplRoot: String = "/sys/class/powercap",
                                nvmlLibrary: String = "libnvidia-ml.so.1") -> Found {
        var found = Found(meters: [], missing: [])
        switch RAPLMeter.discover(root: raplRoot) {
        case .success(let meter): found.meters.append(meter)
        case .failure(let reason): found.missing.append(reason)
        }
        switch NVMLMeter.discover(libraryPath: nvmlLibrary) {
        case .success(let meter): found.meters.append(meter)
        case .failure(let reason): found.missing.append(reason)
        }
        if found.meters.isEmpty { found.meters.append(EstimateMeter(constants: constants)) }
        return found
    }
}
