import Foundation
import Records
import Results

/// A run as one row of CodeCarbon's `emissions.csv`, in the columns, order and units of the
/// file it joins: CodeCarbon 3.3's (current; 38 columns, also water, utilisation and WUE) or 3.0.1's
/// (the version the original study ran; 32). A new file takes 3.3's columns, or 3.0.1's under
/// `--protocol seed-paper`. Energy in kWh, emissions in kg CO2eq, power in W, duration in s. The figures are those of the run's measurement window. Where
/// bpfree estimated rather than measured, the row says so: `tracking_mode` is `process` (the
/// estimate is CodeCarbon's own process-mode model) and `experiment_id` names the source; a
/// meter's reading is `machine`. What bpfree does not know (cloud, region, coordinates) is empty.
public enum CodeCarbonEmissions {
    /// The columns of one CodeCarbon version's `EmissionsData`, in order (its
    /// `FileOutput.has_valid_headers` compares a file's header with exactly this list; a file it
    /// does not accept is moved to a backup and started anew).
    public enum Layout: String, CaseIterable, Sendable {
        case v3_3 = "3.3"
        case v3_0_1 = "3.0.1"

        public var columns: [String] {
            switch self {
            case .v3_0_1: return CodeCarbonEmissions.columns
            case .v3_3:
                // 3.0.1's, with water after the energy, utilisation after the tracking mode, WUE last.
                var columns = CodeCarbonEmissions.columns
                columns.insert(contentsOf: ["cpu_utilization_percent", "gpu_utilization_percent", "ram_utilization_percent", "ram_used_gb"],
                               at: columns.firstIndex(of: "on_cloud")!)
                columns.insert("water_consumed", at: columns.firstIndex(of: "country_name")!)
                return columns + ["wue"]
            }
        }

        /// The layout of a new file: the study's under its protocol, else current CodeCarbon's.
        static func forNewFile(_ record: RunRecord) -> Layout { record.trainingProtocol == .seedPaper ? .v3_0_1 : .v3_3 }
    }

    /// CodeCarbon 3.0.1's `EmissionsData` fields, in order.
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
        let meanResident = record.traceSummary?[TraceColumn.residentBytes.rawValue]?.mean ?? Double(record.peakRSSBytes)
        var cpu = meters["rapl"] ?? 0, gpu = meters["nvml"] ?? 0, ram = 0.0
        if record.energySource == "estimate", let total = record.energyJoules {
            // CodeCarbon's process model: the RAM part is its W per GiB of resident memory.
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
            // CodeCarbon 3.3's: bpfree measures no water (CodeCarbon's is energy × WUE, 0 by default);
            // RAM use is the window's mean resident memory, CPU and GPU utilisation are not traced.
            "water_consumed": "0.0", "wue": "0.0",
            "cpu_utilization_percent": "", "gpu_utilization_percent": "",
            "ram_utilization_percent": number(meanResident / Double(max(ramTotalBytes, 1)) * 100),
            "ram_used_gb": number(meanResident / 1_073_741_824),
        ]
        return values
    }

    /// Appends `record`'s row to the CSV at `path` in the file's own columns (3.0.1's or 3.3's;
    /// a new file with its header, `Layout.forNewFile`): the whole file is written beside it and
    /// renamed into place, so it is never half-written. A file with other columns is refused,
    /// naming it, rather than mixed.
    public static func append(_ record: RunRecord, to path: String) throws {
        let existing = try existingRows(at: path)
        let layout = existing?.layout ?? Layout.forNewFile(record)
        let columns = layout.columns
        var text = existing?.text ?? columns.joined(separator: ",") + "\n"
        let values = row(record)
        text += columns.map { ResultsExport.quoted(values[$0] ?? "") }.joined(separator: ",") + "\n"
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic) } catch {
            throw EmissionsError(path: path, problem: error.localizedDescription)
        }
    }

    /// Refuses, before any training, a file that `append` would refuse after it.
    public static func checkAppendable(_ path: String) throws { _ = try existingRows(at: path) }

    /// The file's header and rows, ending in a line break, and the CodeCarbon layout of its
    /// header; nil when it is missing or empty. A file with other columns is refused, naming it.
    private static func existingRows(at path: String) throws -> (text: String, layout: Layout)? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        guard let existing = FileManager.default.contents(atPath: path).map({ String(decoding: $0, as: UTF8.self) }) else {
            throw EmissionsError(path: path, problem: "cannot be read")
        }
        guard !existing.isEmpty else { return nil }
        let first = existing.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        let header = first.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let layout = Layout.allCases.first(where: { header == $0.columns.joined(separator: ",") }) else {
            throw EmissionsError(path: path, problem: "its header is neither CodeCarbon 3.3's columns (38: timestamp, project_name, … pue, wue) "
                                 + "nor 3.0.1's (32: timestamp, project_name, … pue); bpfree appends only to such a file")
        }
        return (existing.hasSuffix("\n") ? existing : existing + "\n", layout)
    }

    /// An emissions file that could not be appended to.
    public struct EmissionsError: Error, CustomStringConvertible {
        public let path: String
        public let problem: String

        public var description: String { "--emissions: \(path): \(problem)" }
    }
}
