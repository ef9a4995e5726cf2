import Foundation

/// Which OpenBLAS kernel family runs the products, who chose it and why.
///
/// OpenBLAS (built with DYNAMIC_ARCH) picks its kernels from the CPU model when it loads, and a
/// release that does not know a newer model falls back to a weak one: 0.3.21 runs Emerald Rapids
/// Xeons on its SSE3 `Prescott` kernel at a sixth of the AVX-512 rate. bpfree reads the CPU's
/// features instead and, when the library's choice is of a weaker instruction-set tier than the
/// features allow, re-executes itself once with `OPENBLAS_CORETYPE` set to the best core for
/// that tier. A core the user set with `OPENBLAS_CORETYPE` is kept; `BPFREE_BLAS_CORE=library`
/// keeps the library's own choice (to measure it), `BPFREE_BLAS_CORE=best` corrects a weak
/// `OPENBLAS_CORETYPE` too.
public struct BLASCoreChoice: Sendable, Codable, Equatable {
    /// Who chose the kernel family in use.
    public enum Chooser: String, Sendable, Codable {
        /// OpenBLAS's own detection.
        case library
        /// bpfree, because the library's choice was weaker than the CPU allows.
        case bpfree
        /// The user, with `OPENBLAS_CORETYPE`.
        case user
    }

    /// The instruction-set tier a kernel family needs (ordered: a higher tier is faster).
    public enum Tier: Int, Sendable, Comparable, CustomStringConvertible {
        case sse = 0, avx, avx2, avx512

        public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .sse: "SSE"
            case .avx: "AVX"
            case .avx2: "AVX2+FMA"
            case .avx512: "AVX-512"
            }
        }
    }

    /// The kernel family in use (OpenBLAS's core name).
    public var core: String
    public var chosenBy: Chooser
    /// What OpenBLAS chose by itself, when known (not when the user forced a core).
    public var libraryCore: String?
    /// One sentence: why this core runs.
    public var reason: String

    enum CodingKeys: String, CodingKey {
        case core, chosenBy = "chosen_by", libraryCore = "library_core", reason
    }

    /// Set to `library` or `best` by the user (see the type's summary).
    public static let policyVariable = "BPFREE_BLAS_CORE"
    /// Set by bpfree when it re-executes itself with a better core: the library's own choice.
    public static let libraryCoreVariable = "BPFREE_OPENBLAS_LIBRARY_CORE"

    /// The tier of each x86-64 core name of OpenBLAS's DYNAMIC_ARCH builds (its `corename` table).
    /// Names not listed (other architectures, later releases) are never overridden.
    static let tiers: [String: Tier] = {
        var table: [String: Tier] = [:]
        for name in ["Katmai", "Coppermine", "Northwood", "Prescott", "Banias", "Atom", "Core2", "Penryn", "Dunnington",
                     "Nehalem", "Athlon", "Opteron", "Opteron_SSE3", "Barcelona", "Nano", "Bobcat", "Unknown"] { table[name.lowercased()] = .sse }
        for name in ["Sandybridge", "Bulldozer", "Piledriver", "Steamroller", "Excavator"] { table[name.lowercased()] = .avx }
        for name in ["Haswell", "Zen"] { table[name.lowercased()] = .avx2 }
        for name in ["SkylakeX", "Cooperlake", "SapphireRapids"] { table[name.lowercased()] = .avx512 }
        return table
    }()

    /// The tier of a core name, nil for a name this table does not know.
    public static func tier(of core: String) -> Tier? { tiers[core.lowercased()] }

    /// The best core the features allow, with its tier; nil for a CPU without AVX.
    ///
    /// Measured with sgemm at 2048³ and 128×2000×2000, 2 threads: on an Emerald Rapids Xeon
    /// SkylakeX 188 / 224 GFLOP/s against Cooperlake 157 / 129 and Haswell 129 / 113; on an AMD
    /// EPYC with AVX-512 (Zen 4) SkylakeX 186–201 / 151–171, Cooperlake 184–190 / 157–168,
    /// Zen 162–184 / 139–165, Haswell 164–184 / 139–179. So AVX-512 CPUs of either vendor get
    /// SkylakeX (Cooperlake adds only bf16 products, which bpfree does not use).
    public static func bestCore(for features: CPUFeatures) -> (core: String, tier: Tier)? {
        if features.has("avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl") { return ("SkylakeX", .avx512) }
        if features.has("avx2", "fma") { return (features.vendor == .amd ? "Zen" : "Haswell", .avx2) }
        if features.has("avx") { return ("Sandybridge", .avx) }
        return nil
    }

    /// The `OPENBLAS_CORETYPE` to re-execute with, or nil to keep the loaded core.
    ///
    /// `loadedCore` is the library's choice in the process that has not re-executed yet.
    public static func override(loadedCore: String, features: CPUFeatures, environment: [String: String]) -> String? {
        guard environment[libraryCoreVariable] == nil else { return nil }  // already chosen before an exec
        let policy = environment[policyVariable]
        guard policy != "library" else { return nil }
        guard environment["OPENBLAS_CORETYPE"] == nil || policy == "best" else { return nil }
        guard let best = bestCore(for: features), let loaded = tier(of: loadedCore), loaded < best.tier else { return nil }
        return best.core
    }

    /// The choice in effect in this process, given the loaded core and the environment it started with.
    public static func current(loadedCore: String, features: CPUFeatures, environment: [String: String]) -> BLASCoreChoice {
        let best = bestCore(for: features)
        let allows = best.map { "the CPU allows \($0.tier) (\($0.core))" } ?? "the CPU has no AVX"
        if let library = environment[libraryCoreVariable] {
            let requested = environment["OPENBLAS_CORETYPE"] ?? "?"
            let took = requested.lowercased() == loadedCore.lowercased() ? "" : "; OpenBLAS did not take \(requested)"
            return BLASCoreChoice(core: loadedCore, chosenBy: .bpfree, libraryCore: library,
                                  reason: "OpenBLAS loaded \(library) (\(tierName(library))) but \(allows): bpfree set OPENBLAS_CORETYPE=\(requested)\(took)")
        }
        if let forced = environment["OPENBLAS_CORETYPE"], environment[policyVariable] != "library" {
            var reason = "OPENBLAS_CORETYPE=\(forced) set by the user"
            if let best, let loaded = tier(of: loadedCore), loaded < best.tier {
                reason += "; \(allows) (\(policyVariable)=best would use it)"
            }
            return BLASCoreChoice(core: loadedCore, chosenBy: .user, libraryCore: nil, reason: reason)
        }
        if environment[policyVariable] == "library" {
            return BLASCoreChoice(core: loadedCore, chosenBy: .library, libraryCore: loadedCore,
                                  reason: "\(policyVariable)=library: OpenBLAS's own choice kept; \(allows)")
        }
        let verdict: String
        if let loaded = tier(of: loadedCore), let best {
            verdict = "OpenBLAS's own choice (\(loaded)), as strong as the CPU allows (\(best.tier))"
        } else {
            verdict = best == nil ? "OpenBLAS's own choice; the CPU has no AVX" : "OpenBLAS's own choice; bpfree does not rank \(loadedCore), so keeps it"
        }
        return BLASCoreChoice(core: loadedCore, chosenBy: .library, libraryCore: loadedCore, reason: verdict)
    }

    private static func tierName(_ core: String) -> String { tier(of: core).map { "\($0)" } ?? "unranked" }
}

extension BLASCoreChoice {
    /// The choice in effect in this process.
    public static func inEffect() -> BLASCoreChoice {
        current(loadedCore: BLAS.coreName, features: .current(), environment: ProcessInfo.processInfo.environment)
    }
}
