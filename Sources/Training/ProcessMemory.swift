import Foundation

/// glibc's `malloc_trim` (malloc.h, which the Glibc module does not import).
#if os(Linux)
@_silgen_name("malloc_trim") private func malloc_trim(_ pad: Int) -> Int32
#endif

/// The process's resident memory from Linux's /proc.
public enum ProcessMemory {
    /// Current resident set size (VmRSS), or 0 where /proc is missing.
    public static var residentBytes: Int { statusField("VmRSS:") }
    /// Peak resident set size (VmHWM) since start or the last `resetPeak()`.
    public static var peakResidentBytes: Int { statusField("VmHWM:") }

    /// Resets the kernel's high-water mark to the current RSS (writes 5 to /proc/self/clear_refs),
    /// after returning the heap's free memory to the system (glibc's `malloc_trim`): what earlier
    /// work in the process freed but the allocator kept would otherwise count as this window's
    /// peak (a bench's later runs showed an earlier CNN's memory). Returns false where the reset is
    /// not possible; the peak then covers the whole process.
    @discardableResult
    public static func resetPeak() -> Bool {
        #if os(Linux)
        _ = malloc_trim(0)
        #endif
        guard let handle = FileHandle(forWritingAtPath: "/proc/self/clear_refs") else { return false }
        defer { try? handle.close() }
        do { try handle.write(contentsOf: Data("5".utf8)) } catch { return false }
        return true
    }

    private static func statusField(_ key: String) -> Int {
        // NOTE: /proc files report size 0, so read to the end instead of by size.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status"),
              let data = try? handle.readToEnd() else { return 0 }
        try? handle.close()
        let text = String(decoding: data, as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(key) {
            let kilobytes = line.dropFirst(key.count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap { Int($0) } ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}
