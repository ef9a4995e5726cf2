import Foundation

/// CPU package energy from the Linux powercap tree (`intel-rapl:N/energy_uj`, also used on AMD
/// Zen), all packages summed, with the counter's wraparound at `max_energy_range_uj`.
public final class RAPLMeter: EnergyMeter, @unchecked Sendable {
    /// One package zone.
    struct Zone {
        let energyPath: String
        let maxRange: UInt64
        var last: UInt64
        var microjoules: UInt64 = 0
    }

    public let name = "rapl"
    public let isMeasurement = true
    /// The zones' names, e.g. ["package-0"].
    public let zoneNames: [String]
    private var zones: [Zone]

    /// Finds the package zones under `root` (default `/sys/class/powercap`): top-level
    /// `intel-rapl:N` zones whose name contains "package", each with a readable `energy_uj`.
    public static func discover(root: String = "/sys/class/powercap") -> Result<RAPLMeter, MeterUnavailable> {
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root) else {
            return .failure(MeterUnavailable(meter: "rapl", reason: "no powercap tree at \(root)"))
        }
        var zones: [Zone] = []
        var names: [String] = []
        var unreadable: [String] = []
        for entry in entries.sorted() where entry.hasPrefix("intel-rapl:") && entry.split(separator: ":").count == 2 {
            let folder = root + "/" + entry
            let zoneName = ProcessStats.readFile(folder + "/name") ?? entry
            guard zoneName.contains("package") else { continue }
            guard let energy = readNumber(folder + "/energy_uj") else {
                unreadable.append(folder + "/energy_uj")
                continue
            }
            let maxRange = readNumber(folder + "/max_energy_range_uj") ?? UInt64(UInt32.max)
            zones.append(Zone(energyPath: folder + "/energy_uj", maxRange: maxRange, last: energy))
            names.append(zoneName)
        }
        if zones.isEmpty {
            let reason = unreadable.isEmpty
                ? "no package zone (intel-rapl:N with name package-N) under \(root)"
                : "\(unreadable.joined(separator: ", ")) not readable (root only since Linux 5.10; chmod a+r or run as root)"
            return .failure(MeterUnavailable(meter: "rapl", reason: reason))
        }
        return .success(RAPLMeter(zones: zones, names: names))
    }

    init(zones: [Zone], names: [String]) {
        self.zones = zones
        self.zoneNames = names
    }

    public func start(at time: Double) {
        for index in zones.indices {
            zones[index].last = Self.readNumber(zones[index].energyPath) ?? zones[index].last
            zones[index].microjoules = 0
        }
        lastTime = time
        lastTotal = 0
    }

    private var lastTime = 0.0
    private var lastTotal: UInt64 = 0

    /// Reads every zone, adding the delta since the previous read (a reading below the
    /// previous one means the counter wrapped: delta = now + (max − previous)).
    func accumulate() {
        for index in zones.indices {
            guard let now = Self.readNumber(zones[index].energyPath) else { continue }
            let previous = zones[index].last
            let delta = now >= previous ? now - previous : now + (zones[index].maxRange - previous)
            zones[index].microjoules += delta
            zones[index].last = now
        }
    }

    public func sample(at time: Double) -> MeterSample {
        accumulate()
        let total = zones.reduce(0) { $0 + $1.microjoules }
        defer { lastTime = time; lastTotal = total }
        guard time > lastTime else { return MeterSample() }
        return MeterSample(watts: Double(total - lastTotal) * 1e-6 / (time - lastTime))
    }

    public func stop(at time: Double) -> Double {
        accumulate()
        return Double(zones.reduce(0) { $0 + $1.microjoules }) * 1e-6
    }

    static func readNumber(_ path: String) -> UInt64? {
        ProcessStats.readFile(path).flatMap { UInt64($0) }
    }
}
