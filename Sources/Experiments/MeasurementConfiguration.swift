import Algorithms
import Metering
import Training

/// How a run measures energy, CO2e and traces.
public struct MeasurementConfiguration: Sendable, Equatable, Codable {
    /// Trace samples per second (0: only the window's ends).
    public var traceHz: Double = 5
    /// Where to write the trace CSV, if anywhere.
    public var tracePath: String?
    /// A CodeCarbon `emissions.csv` to append the run's row to, if any.
    public var emissionsPath: String?
    /// ISO3 country for the carbon intensity; nil means the world average unless `carbonIntensity` is given.
    public var country: String?
    /// A carbon intensity in g/kWh that overrides the country.
    public var carbonIntensity: Double?
    /// The estimate model's CPU TDP; nil means 4 W per logical CPU.
    public var cpuTDPWatts: Double?
    /// Where RAPL and NVML are looked for (tests point these at fakes).
    public var raplRoot = "/sys/class/powercap"
    public var nvmlLibrary = "libnvidia-ml.so.1"

    public init(traceHz: Double = 5, tracePath: String? = nil, country: String? = nil, carbonIntensity: Double? = nil,
                cpuTDPWatts: Double? = nil) {
        self.traceHz = traceHz
        self.tracePath = tracePath
        self.country = country
        self.carbonIntensity = carbonIntensity
        self.cpuTDPWatts = cpuTDPWatts
    }

    /// The carbon intensity to apply; the error names the flag.
    public func resolvedIntensity() throws -> CarbonIntensity {
        if let carbonIntensity {
            guard carbonIntensity >= 0, carbonIntensity.isFinite else {
                throw ConfigurationError(field: "--carbon-intensity", problem: "must be zero or positive, got \(carbonIntensity)")
            }
            return CarbonIntensity(gramsPerKWh: carbonIntensity, source: "given")
        }
        guard let country else { return .worldAverage }
        guard let value = CarbonIntensity.country(country) else {
            throw ConfigurationError(field: "--country", problem: "no carbon intensity for '\(country)'; known: \(CarbonIntensity.countries.keys.sorted().joined(separator: ", ")) (or pass --carbon-intensity G_PER_KWH)")
        }
        return value
    }

    /// The estimate model's constants on this machine.
    public var estimateConstants: EstimateMeter.Constants {
        .defaults(logicalCPUs: ProcessStats.logicalCPUs, cpuTDPWatts: cpuTDPWatts)
    }

    /// Checks the settings; the error names the flag.
    public func validate() throws {
        guard traceHz >= 0, traceHz <= 1000, traceHz.isFinite else {
            throw ConfigurationError(field: "--trace-hz", problem: "must be between 0 and 1000, got \(traceHz)")
        }
        if let cpuTDPWatts, !(cpuTDPWatts > 0 && cpuTDPWatts.isFinite) {
            throw ConfigurationError(field: "--cpu-tdp-watts", problem: "must be positive, got \(cpuTDPWatts)")
        }
        _ = try resolvedIntensity()
    }
}

/// Opens the meters' window exactly when the trainer opens its measurement window.
final class MeteringObserver: TrainingObserver {
    let session: MeasurementSession
    private(set) var result: MeasurementResult?

    init(session: MeasurementSession) { self.session = session }

    func windowDidStart() { session.start() }
    func windowDidEnd() { result = session.stop() }
}
