import Foundation
import Records
import Results

/// A run as one row of CodeCarbon's `emissions.csv`, in the columns, order and units of
/// CodeCarbon 3.0.1 (the version the original study ran): energy in kWh, emissions in kg CO2eq,
/// power in W, duration in s. The figures are those of the run's measurement window. Where
/// bpfree estimated rather than measured, the row says so: `tracking_mode` is `process` (the
/// estimate is CodeCarbon's own process-mode model) and `experiment_id` names the source; a
/// meter's reading is `machine`. What bpfree does not know (cloud, region, coordinates) is empty.
public enum CodeCarbonEmissions {
    /// CodeCarbon 3.0.1's `EmissionsData` fields, in order (its `FileOutput.has_valid_headers`
    /// compares a file's header with exactly this list).
    public static let columns = [
        "timestamp", "project_name", "run_id", "experiment_id", "duration", "emissions", "emissions_rate", "cpu_power",
        "gpu_power", "ram_power", "cpu_energy", "gpu_energy", "ram_energy", "energy_consumed", "country_name",
        "country_iso_code", "region", "cloud_provider", "cloud_region", "os", "python_version", "codecarbon_version",
        "cpu_count", "cpu_model", "gpu_count", "gpu_model", "longitude", "latitude", "ram_total_size", "tracking_mode",
        "on_cloud", "pue",
    ]

    static let countryNames = ["FRA": "France", "DEU": "Germany", "USA": "United States", "GBR": "United Kingdom",
                               "JPN": "Japan", "CHN": "China", "IND": "India"]

    /// The row's values, by column.
    public static func row(_ record: RunRecord, runID: UUID = UUID(), ramTotalBytes: UInt64 = ProcessInfo.processInfo.physicalMemory) -> [String: String] {
        let seconds = record.trainSeconds
        let kWh = { (joules: Double) in joules / 3_600_000 }
        let watts = { (joules: Double) in seconds > 0 ? joules / seconds : 0 }
        let meters = record.energyByMeter ?? [:]
        var cpu = meters["rapl"] ?? 0, gpu = meters["nvml"] ?? 0, ram = 0.0
        if record.energySource == "estimate", let total = record.energyJoules {
            // CodeCarbon's process model: the RAM part is its W per GiB of resident memory.
            let meanResident = record.traceSummary?["rss_bytes"]?.mean ?? Double(record.peakRSSBytes)
            ram = min(total, (record.energyModel?.memoryWattsPerGiB ?? 0) * meanResident / 1_073_741_824 * seconds)
            cpu = total - ram
        }
        let kilograms = (record.co2eGrams ?? 0) / 1000
        let country = record.carbonIntensitySource.flatMap { $0.hasPrefix("country:") ? String($0.dropFirst(8)) : nil }
        let started = ISO8601DateFormatter().date(from: record.startedAt) ?? Date()
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        let number = { (value: Double) in String(value) }
        let values: [String: String] = [
            "timestamp": formatter.string(from: started.addingTimeInterval(seconds)),
            "project_name": "bpfree",
            "run_id": runID.uuidString.lowercased(),
            "experiment_id": "\(record.algorithm) \(record.architecture) \(record.dataset) seed \(record.seed); energy_source=\(record.energySource ?? "none")",
            "duration": number(seconds),
            "emissions": number(kilograms),
            "emissions_rate": number(seconds > 0 ? kilograms / seconds : 0),
            "cpu_power": number(watts(cpu)), "gpu_power": number(watts(gpu)), "ram_power": number(watts(ram)),
            "cpu_energy": number(kWh(cpu)), "gpu_energy": number(kWh(gpu)), "ram_energy": number(kWh(ram)),
            "energy_consumed": number(kWh(cpu + gpu + ram)),
            "country_name": country.map { countryNames[$0] ?? $0 } ?? "World",
            "country_iso_code": country ?? "",
            "region": "", "cloud_provider": "", "cloud_region": "",
            "os": record.environment?.operatingSystem ?? "",
            "python_version": "",
            "codecarbon_version": "bpfree \(record.environment?.bpfreeVersion ?? "")",
            "cpu_count": record.environment.map { String($0.cores) } ?? "",
            "cpu_model": record.environment?.cpuModel ?? "",
            "gpu_count": meters["nvml"] == nil ? "0" : "",
            "gpu_model": "",
            "longitude": "", "latitude": "",
            "ram_total_size": number(Double(ramTotalBytes) / 1_073_741_824),
            "tracking_mode": record.energySource == "estimate" ? "process" : "machine",
            "on_cloud": "N",
            "pue": "1.0",
        ]
        return values
    }

    /// Appends `record`'s row to the CSV at `path` (written with the header when new): the whole
    /// file is written beside it and renamed into place, so it is never half-written. A file
    /// with other columns is refused, naming it, rather than mixed.
    public static func append(_ record: RunRecord, to path: String) throws {
        var text = try existingRows(at: path) ?? columns.joined(separator: ",") + "\n"
        let values = row(record)
        text += columns.map { ResultsExport.quoted(values[$0] ?? "") }.joined(separator: ",") + "\n"
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw EmissionsError(path: path, problem: error.localizedDescription)
        }
    }

    /// Refuses, before any training, a file that `append` would refuse after it.
    public static func checkAppendable(_ path: String) throws { _ = try existingRows(at: path) }

    /// The file's header and rows, ending in a line break; nil when it is missing or empty.
    /// A file with other columns is refused, naming it.
    private static func existingRows(at path: String) throws -> String? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let existing = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw EmissionsError(path: path, problem: "cannot be read")
        }
        guard !existing.isEmpty else { return nil }
        let first = existing.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard first.trimmingCharacters(in: .whitespacesAndNewlines) == columns.joined(separator: ",") else {
            throw EmissionsError(path: path, problem: "its header is not CodeCarbon 3.0.1's columns (\(columns.count): timestamp, project_name, … pue); "
                                 + "bpfree appends only to such a file")
        }
        return existing.hasSuffix("\n") ? existing : existing + "\n"
    }

    /// An emissions file that could not be appended to.
    public struct EmissionsError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String

        public var description: String { "--emissions: \(path): \(problem)" }
    }
}
