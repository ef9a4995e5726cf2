import Foundation

/// What a CPU can execute, as far as the choice of BLAS kernels goes: its vendor and the
/// instruction-set extensions the operating system has enabled.
public struct CPUFeatures: Sendable, Equatable {
    /// The CPU's maker (OpenBLAS names its AVX2 kernels differently for Intel and AMD).
    public enum Vendor: String, Sendable, Codable {
        case intel, amd, other
    }

    public var vendor: Vendor
    /// The feature flags, as Linux spells them in /proc/cpuinfo (`avx2`, `fma`, `avx512f`, …).
    public var flags: Set<String>

    /// The flags that decide which kernels can run, in the order `bpfree info` shows them.
    public static let kernelFlags = ["sse3", "ssse3", "sse4_2", "avx", "avx2", "fma", "avx512f", "avx512cd",
                                     "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "amx_tile", "amx_bf16"]

    /// A CPU with the given vendor and flags.
    public init(vendor: Vendor, flags: Set<String>) {
        self.vendor = vendor
        self.flags = flags
    }

    /// The features of the first processor listed in a /proc/cpuinfo text (Linux reports
    /// SSE3 as `pni`; it is added as `sse3` too).
    public init(cpuinfo text: String) {
        var vendor = Vendor.other, flags = Set<String>()
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: .whitespaces)
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if key == "vendor_id" {
                vendor = value == "GenuineIntel" ? .intel : value == "AuthenticAMD" || value == "HygonGenuine" ? .amd : .other
            } else if key == "flags" {
                flags = Set(value.split(separator: " ").map(String.init))
                break
            }
        }
        if flags.contains("pni") { flags.insert("sse3") }
        self.init(vendor: vendor, flags: flags)
    }

    /// This machine's features (no flags where /proc/cpuinfo cannot be read).
    public static func current() -> CPUFeatures {
        CPUFeatures(cpuinfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
    }

    /// Whether every one of `names` is present.
    public func has(_ names: String...) -> Bool { names.allSatisfy(flags.contains) }

    /// The kernel-relevant flags present, in `kernelFlags` order.
    public var kernelFlagsPresent: [String] { Self.kernelFlags.filter(flags.contains) }
}
