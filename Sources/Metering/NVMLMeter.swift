import Foundation

/// NVIDIA GPU energy through NVML, loaded with dlopen (no link-time dependency): the
/// total-energy counter where the device supports it, otherwise power sampled by the sampler and
/// integrated with the trapezoidal rule. Also utilisation, SM clock and memory in use.
///
/// Power is read as the instant field (`nvmlDeviceGetFieldValues`, `NVML_FI_DEV_POWER_INSTANT`)
/// where the device reports it: `nvmlDeviceGetPowerUsage` is a one-second average on Ampere and
/// later cards except the A100, which would smooth away Forward-Forward's spikes in a 10 Hz trace.
public final class NVMLMeter: EnergyMeter, @unchecked Sendable {
    typealias Device = OpaquePointer
    typealias InitFunction = @convention(c) () -> Int32
    typealias CountFunction = @convention(c) (UnsafeMutablePointer<UInt32>) -> Int32
    typealias HandleFunction = @convention(c) (UInt32, UnsafeMutablePointer<Device?>) -> Int32
    typealias EnergyFunction = @convention(c) (Device, UnsafeMutablePointer<UInt64>) -> Int32
    typealias PowerFunction = @convention(c) (Device, UnsafeMutablePointer<UInt32>) -> Int32
    typealias UtilizationFunction = @convention(c) (Device, UnsafeMutablePointer<UInt32>) -> Int32  // nvmlUtilization_t {gpu, memory}
    typealias ClockFunction = @convention(c) (Device, Int32, UnsafeMutablePointer<UInt32>) -> Int32
    typealias MemoryFunction = @convention(c) (Device, UnsafeMutablePointer<UInt64>) -> Int32       // nvmlMemory_t {total, free, used}
    typealias FieldValuesFunction = @convention(c) (Device, Int32, UnsafeMutableRawPointer) -> Int32 // nvmlFieldValue_t[]

    static let success: Int32 = 0
    static let clockSM: Int32 = 1
    /// `NVML_FI_DEV_POWER_INSTANT` (185 is the averaged `NVML_FI_DEV_POWER_AVERAGE`).
    static let instantPowerField: UInt32 = 186
    /// `sizeof(nvmlFieldValue_t)`: fieldId, scopeId (u32), timestamp, latencyUsec (i64),
    /// valueType, nvmlReturn (i32), value (an 8-byte union) at offset 32.
    static let fieldValueSize = 40

    /// Where the power in the trace comes from.
    public enum PowerReading: String, Sendable {
        /// `NVML_FI_DEV_POWER_INSTANT` through `nvmlDeviceGetFieldValues`.
        case instant
        /// `nvmlDeviceGetPowerUsage`: a one-second average on Ampere and later (not the A100).
        case average
    }

    /// How one device's energy is obtained.
    public enum Method: String, Sendable {
        /// `nvmlDeviceGetTotalEnergyConsumption` differences (mJ).
        case counter
        /// `nvmlDeviceGetPowerUsage` (mW) integrated over the samples.
        case powerSampling = "power-sampling"
    }

    struct GPU {
        let device: Device
        let method: Method
        var startMillijoules: UInt64 = 0
        var integrator = TrapezoidIntegrator()
    }

    public let name = "nvml"
    public let isMeasurement = true
    private let library: UnsafeMutableRawPointer
    private let shutdown: InitFunction
    private let energy: EnergyFunction?
    private let power: PowerFunction?
    private let utilization: UtilizationFunction?
    private let clock: ClockFunction?
    private let memory: MemoryFunction?
    private let fieldValues: FieldValuesFunction?
    /// One `nvmlFieldValue_t`, reused by every reading.
    private let field = UnsafeMutableRawPointer.allocate(byteCount: NVMLMeter.fieldValueSize, alignment: 8)
    private var gpus: [GPU]
    /// How power is read: instant where every device reports it, else the average.
    public private(set) var powerReading = PowerReading.average

    /// The method used per device, in device order.
    public var methods: [Method] { gpus.map(\.method) }

    /// Loads NVML from `path`, initialises it and opens every device it can. Missing library,
    /// missing symbols, no devices or a failing init are reported as unavailability.
    /// The NVIDIA driver's version, e.g. "580.65.06" (`nvmlSystemGetDriverVersion`).
    public let driverVersion: String?
    typealias DriverVersionFunction = @convention(c) (UnsafeMutablePointer<CChar>, UInt32) -> Int32

    public static func discover(libraryPath path: String = "libnvidia-ml.so.1") -> Result<NVMLMeter, MeterUnavailable> {
        func unavailable(_ reason: String) -> Result<NVMLMeter, MeterUnavailable> {
            .failure(MeterUnavailable(meter: "nvml", reason: reason))
        }
        guard let library = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            return unavailable("\(path) could not be loaded (no NVIDIA driver)")
        }
        func symbol<T>(_ name: String, _ type: T.Type) -> T? {
            dlsym(library, name).map { unsafeBitCast($0, to: type) }
        }
        guard let initialize = symbol("nvmlInit_v2", InitFunction.self),
              let shutdown = symbol("nvmlShutdown", InitFunction.self),
              let count = symbol("nvmlDeviceGetCount_v2", CountFunction.self),
              let handle = symbol("nvmlDeviceGetHandleByIndex_v2", HandleFunction.self) else {
            dlclose(library)
            return unavailable("\(path) lacks nvmlInit_v2, nvmlShutdown, nvmlDeviceGetCount_v2 or nvmlDeviceGetHandleByIndex_v2")
        }
        let status = initialize()
        guard status == success else {
            dlclose(library)
            return unavailable("nvmlInit_v2 returned \(status)")
        }
        var deviceCount: UInt32 = 0
        guard count(&deviceCount) == success, deviceCount > 0 else {
            _ = shutdown()
            dlclose(library)
            return unavailable("NVML sees no GPU")
        }
        let energy = symbol("nvmlDeviceGetTotalEnergyConsumption", EnergyFunction.self)
        let power = symbol("nvmlDeviceGetPowerUsage", PowerFunction.self)
        var gpus: [GPU] = []
        for index in 0..<deviceCount {
            var device: Device?
            guard handle(index, &device) == success, let device else { continue }
            var millijoules: UInt64 = 0
            var milliwatts: UInt32 = 0
            if let energy, energy(device, &millijoules) == success {
                gpus.append(GPU(device: device, method: .counter))
            } else if let power, power(device, &milliwatts) == success {
                gpus.append(GPU(device: device, method: .powerSampling))
            }
        }
        guard !gpus.isEmpty else {
            _ = shutdown()
            dlclose(library)
            return unavailable("no GPU reports an energy counter or power usage")
        }
        var version = [CChar](repeating: 0, count: 96)
        let driverVersion = symbol("nvmlSystemGetDriverVersion", DriverVersionFunction.self)
            .flatMap { $0(&version, UInt32(version.count)) == success ? String(cString: version) : nil }
        return .success(NVMLMeter(library: library, shutdown: shutdown, driverVersion: driverVersion, energy: energy, power: power,
                                  utilization: symbol("nvmlDeviceGetUtilizationRates", UtilizationFunction.self),
                                  clock: symbol("nvmlDeviceGetClockInfo", ClockFunction.self),
                                  memory: symbol("nvmlDeviceGetMemoryInfo", MemoryFunction.self),
                                  fieldValues: symbol("nvmlDeviceGetFieldValues", FieldValuesFunction.self), gpus: gpus))
    }

    private init(library: UnsafeMutableRawPointer, shutdown: InitFunction, driverVersion: String?, energy: EnergyFunction?, power: PowerFunction?,
                 utilization: UtilizationFunction?, clock: ClockFunction?, memory: MemoryFunction?, fieldValues: FieldValuesFunction?,
                 gpus: [GPU]) {
        self.library = library
        self.shutdown = shutdown
        self.driverVersion = driverVersion
        self.energy = energy
        self.power = power
        self.utilization = utilization
        self.clock = clock
        self.memory = memory
        self.fieldValues = fieldValues
        self.gpus = gpus
        if gpus.allSatisfy({ instantWatts($0.device) != nil }) { powerReading = .instant }
    }

    deinit {
        field.deallocate()
        _ = shutdown()
        dlclose(library)
    }

    /// The device's power now: instant where `powerReading` says so, else the average.
    func watts(_ device: Device) -> Double? {
        if powerReading == .instant, let watts = instantWatts(device) { return watts }
        var milliwatts: UInt32 = 0
        guard let power, power(device, &milliwatts) == Self.success else { return nil }
        return Double(milliwatts) / 1000
    }

    /// `NVML_FI_DEV_POWER_INSTANT` in watts, or nil where the device does not report it.
    func instantWatts(_ device: Device) -> Double? {
        guard let fieldValues else { return nil }
        field.initializeMemory(as: UInt8.self, repeating: 0, count: Self.fieldValueSize)
        field.storeBytes(of: Self.instantPowerField, as: UInt32.self)
        guard fieldValues(device, 1, field) == Self.success, field.load(fromByteOffset: 28, as: Int32.self) == Self.success else { return nil }
        let milliwatts: Double
        switch field.load(fromByteOffset: 24, as: Int32.self) {
        case 0: milliwatts = field.load(fromByteOffset: 32, as: Double.self)
        case 1: milliwatts = Double(field.load(fromByteOffset: 32, as: UInt32.self))
        case 2, 3: milliwatts = Double(field.load(fromByteOffset: 32, as: UInt64.self))
        case 4: milliwatts = Double(field.load(fromByteOffset: 32, as: Int64.self))
        case 5: milliwatts = Double(field.load(fromByteOffset: 32, as: Int32.self))
        default: return nil
        }
        return milliwatts / 1000
    }

    func millijoules(_ device: Device) -> UInt64? {
        var value: UInt64 = 0
        guard let energy, energy(device, &value) == Self.success else { return nil }
        return value
    }

    public func start(at time: Double) {
        for index in gpus.indices {
            gpus[index].integrator = TrapezoidIntegrator()
            switch gpus[index].method {
            case .counter: gpus[index].startMillijoules = millijoules(gpus[index].device) ?? 0
            case .powerSampling:
                if let w = watts(gpus[index].device) { gpus[index].integrator.add(time: time, watts: w) }
            }
        }
    }

    /// Sums power over devices; averages utilisation and clock; sums memory in use.
    public func sample(at time: Double) -> MeterSample {
        var result = MeterSample()
        var utilizations: [Double] = [], clocks: [Double] = [], memories: [Double] = []
        for index in gpus.indices {
            let device = gpus[index].device
            if let w = watts(device) {
                result.watts = (result.watts ?? 0) + w
                if gpus[index].method == .powerSampling { gpus[index].integrator.add(time: time, watts: w) }
            }
            var rates: (UInt32, UInt32) = (0, 0)
            if let utilization, withUnsafeMutablePointer(to: &rates, {
                $0.withMemoryRebound(to: UInt32.self, capacity: 2) { utilization(device, $0) }
            }) == Self.success { utilizations.append(Double(rates.0)) }
            var mhz: UInt32 = 0
            if let clock, clock(device, Self.clockSM, &mhz) == Self.success { clocks.append(Double(mhz)) }
            var info: (UInt64, UInt64, UInt64) = (0, 0, 0)
            if let memory, withUnsafeMutablePointer(to: &info, {
                $0.withMemoryRebound(to: UInt64.self, capacity: 3) { memory(device, $0) }
            }) == Self.success { memories.append(Double(info.2)) }
        }
        if !utilizations.isEmpty { result.gpuUtilizationPercent = utilizations.reduce(0, +) / Double(utilizations.count) }
        if !clocks.isEmpty { result.gpuSMClockMHz = clocks.reduce(0, +) / Double(clocks.count) }
        if !memories.isEmpty { result.gpuMemoryBytes = memories.reduce(0, +) }
        return result
    }

    public func stop(at time: Double) -> Double {
        var joules = 0.0
        for index in gpus.indices {
            switch gpus[index].method {
            case .counter:
                let end = millijoules(gpus[index].device) ?? gpus[index].startMillijoules
                joules += Double(end &- gpus[index].startMillijoules) / 1000
            case .powerSampling:
                if let w = watts(gpus[index].device) { gpus[index].integrator.add(time: time, watts: w) }
                joules += gpus[index].integrator.joules
            }
        }
        return joules
    }
}
