import Foundation

/// The process's CPU time, resident memory and the CPU clock, read cheaply from Linux.
public enum ProcessStats {
    /// User plus system CPU seconds of this process (all threads) so far.
    public static var cpuSeconds: Double {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) * 1e-6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) * 1e-6
        return user + system
    }

    /// Resident set size in bytes (from /proc/self/statm), or 0 where it is missing.
    public static var residentBytes: Double {
        guard let text = readFile("/proc/self/statm") else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Double(fields[1]) else { return 0 }
        return pages * Double(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The mean current clock of the CPUs in MHz (cpufreq, else /proc/cpuinfo), nil where unknown.
    public static var cpuClockMHz: Double? {
        var values: [Double] = []
        for cpu in 0..<logicalCPUs {
            if let text = readFile("/sys/devices/system/cpu/cpu\(cpu)/cpufreq/scaling_cur_freq"), let khz = Double(text) {
                values.append(khz / 1000)
            }
        }
        if values.isEmpty, let text = readFile("/proc/cpuinfo") {
            for line in text.split(separator: "\n") where line.hasPrefix("cpu MHz") {
                if let value = line.split(separator: ":").last.flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }) {
                    values.append(value)
                }
            }
        }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }

    /// The machine's CPU seconds since boot (/proc/stat): busy (user, nice, system, irq and
    /// softirq of every process) and stolen by the hypervisor; nil where /proc/stat is missing.
    public static var machineCPUSeconds: (busy: Double, steal: Double)? {
        guard let line = readFile("/proc/stat")?.split(separator: "\n").first, line.hasPrefix("cpu ") else { return nil }
        let ticks = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard ticks.count >= 8 else { return nil }
        let hertz = Double(sysconf(Int32(_SC_CLK_TCK)))
        return ((ticks[0] + ticks[1] + ticks[2] + ticks[5] + ticks[6]) / hertz, ticks[7] / hertz)
    }

    /// Logical CPUs online.
    public static let logicalCPUs = ProcessInfo.processInfo.activeProcessorCount

    static func readFile(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let data = try? handle.readToEnd() else { return nil }
        return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
